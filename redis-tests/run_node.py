#!/usr/bin/python3
"""Runs one node client test against a raftkv-server. The npm packages are
installed, when missing, into a folder this test owns (COMPAT_NODE_DIR, set
by CMake to the build dir; never global, never in the repository) under a
lock, with a timeout. A failed install fails the test.

  /usr/bin/python3 run_node.py SCRIPT.js             against one raftkv-server
  /usr/bin/python3 run_node.py --cluster SCRIPT.js   against a 3-node cluster in
      follower-mode redirect, with a leader kill -9 (cluster_failover.py)
  /usr/bin/python3 run_node.py --tls SCRIPT.js       against one raftkv-server with a
      tls-port and tls-auth-clients yes; the script gets HOST TLSPORT CA CERT KEY
      ENCCERT ENCKEY PASS OTHERCA (a test CA, a client certificate, another one
      whose key is encrypted with PASS, and a CA that signed neither; made with
      tests/pylib/tlscerts.py)
"""
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from with_server import run_with_server  # noqa: E402
import cluster_failover  # noqa: E402
import compat  # noqa: E402  (puts tests/pylib on the path)
import tlscerts  # noqa: E402

PACKAGES = ["ioredis@6", "redis@6"]  # majors pinned; the cluster clients come with them
NPM_TIMEOUT = 300
ENC_PASS = "node key pass"


def ensure_packages(prefix, packages=PACKAGES):
    """npm install of packages ("name@major") into prefix unless each is
    there, under a lock (parallel tests share the folder). False (and a
    FAIL line) when it cannot."""
    os.makedirs(prefix, exist_ok=True)
    with open(os.path.join(prefix, ".install.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        mods = os.path.join(prefix, "node_modules")
        if all(os.path.isfile(os.path.join(mods, p.rsplit("@", 1)[0], "package.json")) for p in packages):
            return True
        npm = shutil.which("npm")
        if not npm:
            print("FAIL: npm not found")
            return False
        cmd = [npm, "install", "--prefix", prefix, "--no-audit", "--no-fund", "--no-save"] + list(packages)
        print("installing: " + " ".join(cmd), flush=True)
        try:
            p = subprocess.run(cmd, cwd=prefix, timeout=NPM_TIMEOUT, capture_output=True)
        except subprocess.TimeoutExpired:
            print("FAIL: npm install did not finish in %ds" % NPM_TIMEOUT)
            return False
        if p.returncode != 0:
            print("FAIL: npm install failed (rc=%d):\n%s" % (p.returncode, (p.stdout + p.stderr).decode()[-3000:]))
            return False
        return True


def run_tls(cmd, timeout, env):
    """cmd with {host} {tlsport} {ca} {cert} {key} {enccert} {enckey} {pass}
    {otherca} substituted, against a raftkv-server listening on a plain port
    and a TLS port."""
    certdir = tempfile.mkdtemp(prefix="compat-tls-")
    srv = None
    rc = 1
    try:
        certs = tlscerts.make_set(certdir)
        enc = tlscerts.issue(certdir, certs["ca"], "client-enc", client=True, passphrase=ENC_PASS)
        tport = compat.pick_port()
        srv = compat.Server("raftkv", ["--tls-port", tport, "--tls-cert-file", certs["server"]["cert"],
                                       "--tls-key-file", certs["server"]["key"],
                                       "--tls-ca-cert-file", certs["ca"]["cert"],
                                       "--tls-auth-clients", "yes"]).start()
        subst = {"{host}": srv.host, "{tlsport}": str(tport), "{ca}": certs["ca"]["cert"],
                 "{cert}": certs["client"]["cert"], "{key}": certs["client"]["key"],
                 "{enccert}": enc["cert"], "{enckey}": enc["key"], "{pass}": ENC_PASS,
                 "{otherca}": certs["otherca"]["cert"]}
        argv = list(cmd)
        for k, v in subst.items():
            argv = [a.replace(k, v) for a in argv]
        try:
            rc = subprocess.run(argv, timeout=timeout, env=env).returncode
        except subprocess.TimeoutExpired:
            print("FAIL: %s did not finish in %ds" % (argv[0], timeout))
        if not srv.alive():
            print("FAIL: raftkv-server died:\n" + srv.log())
            rc = 1
        san = srv.sanitizer_report()
        if san:
            print("FAIL: sanitizer report in raftkv-server's output:\n" + san)
            rc = 1
    finally:
        if srv:
            srv.stop()
        shutil.rmtree(certdir, ignore_errors=True)
    return rc


def main():
    args = sys.argv[1:]
    cluster = args[:1] == ["--cluster"]
    if cluster:
        args = args[1:]
    tls = args[:1] == ["--tls"]
    if tls:
        args = args[1:]
    script = os.path.abspath(args[0])
    prefix = os.environ.get("COMPAT_NODE_DIR") or os.path.join(os.getcwd(), "compat-node")
    node = shutil.which("node")
    if not node:
        print("FAIL: node not found")
        return 1
    if not ensure_packages(prefix):
        return 1
    env = dict(os.environ, NODE_PATH=os.path.join(prefix, "node_modules"))
    if cluster:
        return cluster_failover.run([node, script, "{seeds}"], 120, env)
    if tls:
        return run_tls([node, script, "{host}", "{tlsport}", "{ca}", "{cert}", "{key}", "{enccert}",
                        "{enckey}", "{pass}", "{otherca}"], 120, env)
    srv_cmd = [node, script, "{host}", "{port}"]
    return run_with_server(srv_cmd, 120, env=env)


if __name__ == "__main__":
    sys.exit(main())
