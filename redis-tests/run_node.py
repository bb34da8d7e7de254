#!/usr/bin/python3
"""Runs one node client test against a raftkv-server. The npm packages are
installed, when missing, into a folder this test owns (COMPAT_NODE_DIR, set
by CMake to the build dir; never global, never in the repository) under a
lock, with a timeout. A failed install fails the test.

  /usr/bin/python3 run_node.py SCRIPT.js             against one raftkv-server
  /usr/bin/python3 run_node.py --cluster SCRIPT.js   against a 3-node cluster in
      follower-mode redirect, with a leader kill -9 (cluster_failover.py)
"""
import fcntl
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from with_server import run_with_server  # noqa: E402
import cluster_failover  # noqa: E402

PACKAGES = ["ioredis@6", "redis@6"]  # majors pinned; the cluster clients come with them
NPM_TIMEOUT = 300


def ensure_packages(prefix):
    os.makedirs(prefix, exist_ok=True)
    with open(os.path.join(prefix, ".install.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        mods = os.path.join(prefix, "node_modules")
        if all(os.path.isfile(os.path.join(mods, p.rsplit("@", 1)[0], "package.json")) for p in PACKAGES):
            return True
        npm = shutil.which("npm")
        if not npm:
            print("FAIL: npm not found")
            return False
        cmd = [npm, "install", "--prefix", prefix, "--no-audit", "--no-fund", "--no-save"] + PACKAGES
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


def main():
    args = sys.argv[1:]
    cluster = args[:1] == ["--cluster"]
    if cluster:
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
    srv_cmd = [node, script, "{host}", "{port}"]
    return run_with_server(srv_cmd, 120, env=env)


if __name__ == "__main__":
    sys.exit(main())
