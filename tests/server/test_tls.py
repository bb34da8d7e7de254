"""TLS on the client port (issue 20): tls-port, port 0, tls-auth-clients,
certificate reload with CONFIG SET, CONFIG GET of the tls-* keys, and what
happens to a plain-text client on the TLS port. Certificates are made per
module with the openssl CLI (tests/pylib/tlscerts.py). Every test passes
against redis-server 7.0.15 too (RAFTKV_SERVER_KIND=redis), except where a
difference is marked."""
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile

import pytest
import redis

from conftest import HOST, IS_RAFTKV, IS_REDIS, SERVER_BIN, Server, encode, pick_port, wait_until

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import tlscerts  # noqa: E402  (tests/pylib)


@pytest.fixture(scope="module")
def certs():
    d = tempfile.mkdtemp(prefix="raftkv-tls-")
    try:
        s = tlscerts.make_set(d)
        s["enc"] = tlscerts.issue(d, s["ca"], "enc", cn="127.0.0.1", passphrase="key pass")
        s["rsa"] = tlscerts.issue(d, s["ca"], "rsa", cn="127.0.0.1", rsa=True)
        s["dh"] = tlscerts.dh_params(d)
        yield s
    finally:
        shutil.rmtree(d, ignore_errors=True)


class TlsServer(Server):
    """A server with a tls-port (self.port, polled over TLS at start) and,
    when plain=True, a plain port too (self.plain_port); port 0 otherwise."""

    def __init__(self, args=(), conf=None, certs=None, plain=False, cert="server"):
        super().__init__(args, conf=conf)
        self.certs = certs
        self.plain = plain
        self.plain_port = 0
        self.cert = cert

    def argv(self):
        c = self.certs
        a = [SERVER_BIN, "--port", str(self.plain_port), "--tls-port", str(self.port),
             "--bind", self.host, "--dir", self.dir,
             "--tls-cert-file", c[self.cert]["cert"], "--tls-key-file", c[self.cert]["key"],
             "--tls-ca-cert-file", c["ca"]["cert"]]
        if IS_REDIS:
            a += ["--save", "", "--appendonly", "yes", "--daemonize", "no"]
        return a + self.args

    def ready(self):
        try:
            return tls_call(self.port, self.certs, "PING", client_cert=True) in (b"+PONG\r\n",)
        except (OSError, ssl.SSLError):
            return False

    def start(self):
        for _ in range(8):
            self.port = pick_port()
            self.plain_port = pick_port() if self.plain else 0
            if self._spawn():
                return self
        raise AssertionError("server exited at start (rc=%s); log:\n%s" % (self.proc.returncode, self.log()))

    def tls_client(self, client_cert=True, ca="ca", **kw):
        kw.setdefault("socket_timeout", 30)
        kw.update(ssl=True, ssl_ca_certs=self.certs[ca]["cert"], ssl_cert_reqs="required")
        if client_cert:
            cc = self.certs["client" if client_cert is True else client_cert]
            kw.update(ssl_certfile=cc["cert"], ssl_keyfile=cc["key"])
        c = redis.Redis(host=self.host, port=self.port, **kw)
        self._clients.append(c)
        return c


def ssl_context(certs, client_cert=True, ca="ca"):
    ctx = ssl.create_default_context(cafile=certs[ca]["cert"])
    if client_cert:
        cc = certs["client" if client_cert is True else client_cert]
        ctx.load_cert_chain(cc["cert"], cc["key"])
    return ctx


def tls_call(port, certs, *args, client_cert=True, ca="ca", timeout=5):
    """One command over a fresh TLS connection; the first reply line(s) as
    raw bytes (enough for simple replies)."""
    ctx = ssl_context(certs, client_cert, ca)
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
            t.sendall(encode(*args))
            data = b""
            while not data.endswith(b"\r\n"):
                chunk = t.recv(4096)
                if not chunk:
                    break
                data += chunk
            return data


def cli(server, *args, cert=True, ca="ca", extra=()):
    """redis-cli --tls against the server; (returncode, output)."""
    a = ["redis-cli", "-h", HOST, "-p", str(server.port), "--tls", "--cacert", server.certs[ca]["cert"]]
    if cert:
        cc = server.certs["client" if cert is True else cert]
        a += ["--cert", cc["cert"], "--key", cc["key"]]
    r = subprocess.run(a + list(extra) + [str(x) for x in args], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    return r.returncode, r.stdout.decode(errors="replace")


def refused(server, **kw):
    """redis-cli's PING gets no PONG: the handshake or the first read fails."""
    rc, out = cli(server, "PING", **kw)
    return "PONG" not in out


@pytest.fixture
def tls_server(make_server, certs):
    def make(*args, **kw):
        return make_server(*args, cls=TlsServer, certs=certs, **kw)
    return make


# ------------------------------------------------------------ tls-auth-clients


def test_auth_clients_yes_requires_a_certificate_from_the_ca(tls_server):
    s = tls_server()
    assert cli(s, "SET", "k", "v") == (0, "OK\n")
    assert cli(s, "GET", "k") == (0, "v\n")
    assert refused(s, cert=False)
    assert refused(s, cert="other")  # signed by another CA
    assert cli(s, "PING") == (0, "PONG\n")  # the refusals left it serving


def test_auth_clients_optional_takes_none_but_checks_one_given(tls_server):
    s = tls_server("--tls-auth-clients", "optional")
    assert cli(s, "PING", cert=False) == (0, "PONG\n")
    assert cli(s, "PING") == (0, "PONG\n")
    assert refused(s, cert="other")


def test_auth_clients_no_asks_for_no_certificate(tls_server):
    s = tls_server("--tls-auth-clients", "no")
    assert cli(s, "PING", cert=False) == (0, "PONG\n")
    assert cli(s, "PING", cert="other") == (0, "PONG\n")  # never asked for, never checked


def test_auth_clients_set_at_run_time_holds_for_new_connections(tls_server):
    s = tls_server()
    c = s.tls_client()
    assert refused(s, cert=False)
    assert c.config_set("tls-auth-clients", "no")
    assert cli(s, "PING", cert=False) == (0, "PONG\n")
    assert c.config_set("tls-auth-clients", "yes")
    assert refused(s, cert=False)
    with pytest.raises(redis.ResponseError) as e:
        c.config_set("tls-auth-clients", "maybe")
    assert str(e.value) == ("CONFIG SET failed (possibly related to argument 'tls-auth-clients') - "
                            "argument(s) must be one of the following: no, yes, optional")


# ------------------------------------------------------------ the connection layer


def test_plain_text_client_on_the_tls_port_is_closed(tls_server):
    s = tls_server()
    with socket.create_connection((HOST, s.port), timeout=10) as p:
        p.sendall(b"PING\r\n")
        got = b""
        try:
            while True:
                chunk = p.recv(4096)
                if not chunk:
                    break
                got += chunk
        except ConnectionResetError:
            pass
    assert b"PONG" not in got
    assert cli(s, "PING") == (0, "PONG\n")


def test_redis_py_ssl_pipeline_and_large_values(tls_server):
    """Pipelined commands arrive as many TLS records in one socket read, and
    big replies fill the socket (SSL_write wants to write again): every
    reply comes back, in order."""
    s = tls_server()
    c = s.tls_client()
    assert c.ping()
    p = c.pipeline(transaction=False)
    for i in range(3000):
        p.set("k%d" % i, "v%d" % i * 20)
    assert p.execute() == [True] * 3000
    assert c.mget(["k%d" % i for i in range(3000)]) == [("v%d" % i * 20).encode() for i in range(3000)]
    big = os.urandom(6 * 1024 * 1024)
    assert c.set("big", big)
    for _ in range(3):
        assert c.get("big") == big
    p = c.pipeline(transaction=False)
    for _ in range(4):
        p.get("big")
    assert p.execute() == [big] * 4


def test_plain_port_and_tls_port_side_by_side(tls_server):
    s = tls_server(plain=True)
    plain = redis.Redis(host=HOST, port=s.plain_port, socket_timeout=10)
    try:
        assert plain.set("a", "1")
        assert s.tls_client().get("a") == b"1"
    finally:
        plain.connection_pool.disconnect()


def test_port_0_serves_tls_only(tls_server):
    s = tls_server()
    c = s.tls_client()
    assert c.config_get("port") == {"port": "0"}
    assert c.config_get("tls-port") == {"tls-port": str(s.port)}


def test_encrypted_key_with_tls_key_file_pass(tls_server, certs):
    s = tls_server("--tls-key-file-pass", "key pass", cert="enc")
    assert cli(s, "PING") == (0, "PONG\n")
    got = s.tls_client().config_get("tls-key-file-pass")
    if IS_REDIS:
        assert got == {"tls-key-file-pass": "key pass"}
    else:
        # Deliberate difference: the pass unlocks the node's private key, and
        # secrets never leave the node (like cluster-secret).
        assert got == {}


def dhe_bits(server, certs):
    """The DH group size a TLS 1.2 client offering only DHE-RSA gets
    (openssl s_client's "Server Temp Key"); None when no DHE handshake."""
    cc = certs["client"]
    r = subprocess.run(["openssl", "s_client", "-connect", "%s:%d" % (HOST, server.port),
                        "-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256",
                        "-CAfile", certs["ca"]["cert"], "-cert", cc["cert"], "-key", cc["key"]],
                       input=b"", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    for line in r.stdout.decode(errors="replace").splitlines():
        if line.startswith("Server Temp Key: DH,"):
            return int(line.split(",")[1].split()[0])
    return None


def test_tls_dh_params_file_sets_the_dhe_group_and_a_bad_one_is_refused(tls_server, certs):
    """Without tls-dh-params-file DHE uses OpenSSL's group for the key's
    strength (2048 bits for an RSA 2048 key, as in Redis 7 with OpenSSL 3);
    with one (ffdhe3072), that file's group. A file that holds no DH
    parameters, or none, is refused by CONFIG SET and the loaded ones kept."""
    plain = tls_server(cert="rsa")
    assert dhe_bits(plain, certs) == 2048
    s = tls_server("--tls-dh-params-file", certs["dh"], cert="rsa")
    assert dhe_bits(s, certs) == 3072
    c = s.tls_client(decode_responses=True)
    assert c.config_get("tls-dh-params-file") == {"tls-dh-params-file": certs["dh"]}
    for bad in (certs["ca"]["cert"], os.path.join(certs["dir"], "missing.pem")):
        with pytest.raises(redis.ResponseError, match="Unable to update TLS configuration"):
            c.config_set("tls-dh-params-file", bad)
    assert c.config_get("tls-dh-params-file") == {"tls-dh-params-file": certs["dh"]}
    assert dhe_bits(s, certs) == 3072


def test_bad_certificate_file_stops_the_start(certs):
    s = TlsServer(certs=certs)
    s.args = ["--tls-cert-file", os.path.join(certs["dir"], "missing.crt")]
    try:
        s.port = pick_port()
        s._spawn()  # returns False when the process exits
        assert s.proc.wait(timeout=30) != 0
        assert "Failed to load certificate" in s.log()
    finally:
        s.cleanup()


# ------------------------------------------------------------ CONFIG SET / GET


def test_config_get_tls_keys(tls_server, certs):
    s = tls_server("--tls-protocols", "TLSv1.2 TLSv1.3", "--tls-session-cache-size", "100")
    got = s.tls_client(decode_responses=True).config_get("tls-*")
    want = {
        "tls-port": str(s.port), "tls-cert-file": certs["server"]["cert"],
        "tls-key-file": certs["server"]["key"], "tls-ca-cert-file": certs["ca"]["cert"],
        "tls-ca-cert-dir": "", "tls-auth-clients": "yes", "tls-protocols": "TLSv1.2 TLSv1.3",
        "tls-ciphers": "", "tls-ciphersuites": "", "tls-prefer-server-ciphers": "no",
        "tls-session-caching": "yes", "tls-session-cache-size": "100",
        "tls-session-cache-timeout": "300",
    }
    for k, v in want.items():
        assert got.get(k) == v, k


def test_certificate_reload_with_config_set(tls_server, certs):
    """The node's certificate is from `ca`; a client that trusts only
    `otherca` connects only after CONFIG SET loads a certificate from
    otherca. A connection made before the reload keeps working."""
    s = tls_server("--tls-auth-clients", "no")
    before = s.tls_client(client_cert=False)
    assert before.set("x", "1")
    assert refused(s, cert=False, ca="otherca")
    assert before.config_set("tls-cert-file", certs["other"]["cert"],
                             "tls-key-file", certs["other"]["key"])
    assert cli(s, "GET", "x", cert=False, ca="otherca") == (0, "1\n")
    assert refused(s, cert=False, ca="ca")  # the old certificate is no longer shown
    assert before.get("x") == b"1"


def test_bad_file_in_config_set_is_refused_and_the_old_context_kept(tls_server, certs):
    s = tls_server()
    c = s.tls_client(decode_responses=True)
    missing = os.path.join(certs["dir"], "missing.crt")
    for key, value in (("tls-cert-file", missing), ("tls-ca-cert-file", missing),
                       ("tls-key-file", certs["other"]["key"]),  # not the certificate's key
                       ("tls-protocols", "TLSv1.4"), ("tls-ciphers", "NOT-A-CIPHER"),
                       ("tls-ciphersuites", "NOT_A_SUITE")):
        with pytest.raises(redis.ResponseError) as e:
            c.config_set(key, value)
        assert str(e.value) == ("CONFIG SET failed (possibly related to argument '%s') - Unable to "
                                "update TLS configuration. Check server logs." % key)
        assert c.config_get(key)[key] != value
    assert cli(s, "PING") == (0, "PONG\n")  # new connections get the old context


def test_config_set_is_all_or_nothing(tls_server, certs):
    s = tls_server()
    c = s.tls_client(decode_responses=True)
    with pytest.raises(redis.ResponseError) as e:
        c.config_set("maxclients", "77", "tls-cert-file", os.path.join(certs["dir"], "missing.crt"))
    assert "Unable to update TLS configuration" in str(e.value)
    assert c.config_get("maxclients") == {"maxclients": "10000"}
    assert c.config_get("tls-cert-file") == {"tls-cert-file": certs["server"]["cert"]}


def test_tls_keys_are_accepted_without_tls(server):
    """With no tls-port, CONFIG SET of a TLS key builds nothing (Redis)."""
    c = redis.Redis(host=server.host, port=server.port, socket_timeout=10)
    try:
        assert c.config_set("tls-cert-file", "/nonexistent/cert.pem")
        assert c.config_get("tls-cert-file") == {"tls-cert-file": "/nonexistent/cert.pem"}
        assert c.ping()
    finally:
        c.connection_pool.disconnect()


def test_secret_values_of_config_set_are_redacted_in_slowlog(server):
    c = redis.Redis(host=server.host, port=server.port, socket_timeout=10)
    try:
        assert c.config_set("slowlog-log-slower-than", "0")
        assert c.config_set("tls-key-file-pass", "hunter2")
        assert c.config_set("requirepass", "")
        log = [e["command"] for e in c.slowlog_get(10)]
        assert b"CONFIG SET requirepass (redacted)" in log
        if IS_REDIS:
            assert b"CONFIG SET tls-key-file-pass hunter2" in log
        else:
            # Deliberate difference: the key's passphrase is a secret here.
            assert b"CONFIG SET tls-key-file-pass (redacted)" in log
        assert not any(b"hunter2" in e for e in log) or IS_REDIS
    finally:
        c.connection_pool.disconnect()
