"""A test CA and the certificates signed by it, made with the openssl CLI
into a directory the caller owns (and removes). Used by the TLS tests of
every tier: tests/server/test_tls.py, tests/cluster/test_tls_cluster.py,
tests/bench.

  ca = make_ca(dir, "ca")                      -> {"cert", "key"}
  issue(dir, ca, "server", cn="127.0.0.1")     -> {"cert", "key"}
  issue(dir, ca, "client", client=True)        -> {"cert", "key"}

Server certificates carry subjectAltName IP:127.0.0.1 and DNS:localhost,
so clients that check the host name (redis-py, redis-cli) accept them.
A key can be written encrypted (passphrase=...), for tls-key-file-pass."""
import os
import subprocess

OPENSSL = "openssl"
DAYS = "30"


def _run(args, cwd):
    r = subprocess.run([OPENSSL] + args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), r.stderr.decode(errors="replace")))


def make_ca(directory, name="ca"):
    """A self-signed CA. Keys are EC P-256: generating them is quick."""
    key = os.path.join(directory, name + ".key")
    cert = os.path.join(directory, name + ".crt")
    _run(["req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-sha256", "-days", DAYS,
          "-subj", "/O=RaftKV test/CN=%s" % name, "-keyout", key, "-out", cert,
          "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign"], directory)
    return {"cert": cert, "key": key}


def issue(directory, ca, name, cn=None, client=False, passphrase=None, server_only=False,
          rsa=False):
    """A certificate for name signed by ca. Server certificates (the
    default) are usable for both ends (serverAuth and clientAuth), as a
    node's certificate is when it connects to its peers; server_only=True
    makes one for serverAuth only (which OpenSSL refuses as a client's);
    rsa=True an RSA 2048 key instead of EC (DHE cipher suites need one)."""
    key = os.path.join(directory, name + ".key")
    csr = os.path.join(directory, name + ".csr")
    cert = os.path.join(directory, name + ".crt")
    ext = os.path.join(directory, name + ".ext")
    if rsa:
        _run(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key],
             directory)
    else:
        _run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key],
             directory)
    _run(["req", "-new", "-key", key, "-subj", "/O=RaftKV test/CN=%s" % (cn or name), "-out", csr],
         directory)
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\n")
        f.write("keyUsage=critical,digitalSignature,keyEncipherment\n")
        if client:
            f.write("extendedKeyUsage=clientAuth\n")
        elif server_only:
            f.write("extendedKeyUsage=serverAuth\n")
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        else:
            f.write("extendedKeyUsage=serverAuth,clientAuth\n")
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _run(["x509", "-req", "-in", csr, "-CA", ca["cert"], "-CAkey", ca["key"], "-CAcreateserial",
          "-days", DAYS, "-sha256", "-extfile", ext, "-out", cert], directory)
    if passphrase is not None:
        enc = os.path.join(directory, name + ".enc.key")
        _run(["pkey", "-in", key, "-aes256", "-passout", "pass:" + passphrase, "-out", enc],
             directory)
        key = enc
    return {"cert": cert, "key": key}


def dh_params(directory, name="dh.pem", group="ffdhe3072"):
    """DH parameters (an RFC 7919 group: nothing to generate)."""
    path = os.path.join(directory, name)
    _run(["genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:" + group, "-out", path],
         directory)
    return path


def make_set(directory):
    """The usual set: a CA, a server certificate, a client certificate,
    and a second CA with a server certificate of its own (a stranger)."""
    ca = make_ca(directory, "ca")
    other = make_ca(directory, "otherca")
    return {
        "dir": directory,
        "ca": ca,
        "server": issue(directory, ca, "server", cn="127.0.0.1"),
        "client": issue(directory, ca, "client", client=True),
        "otherca": other,
        "other": issue(directory, other, "other", cn="127.0.0.1"),
    }
