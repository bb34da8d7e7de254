"""The private network namespace every fault run lives in.

enter() re-executes the current command under `unshare --net` (once: the
child sees RAFTKV_FAULT_NETNS=1), then brings up lo. In the namespace the
nodes listen on 127.0.0.11, .12, ... (all of 127/8 routes to lo), iptables
rules cut pairs of them without touching the host, and the namespace
disappears with the last process in it.

A run that cannot have a namespace (not root, unshare refused) exits with
SKIP, which ctest maps to a skipped test; anything else that is missing
(ip, iptables) is a failure, because CI runs as root and must really run
these tests."""
import os
import shutil
import subprocess
import sys

SKIP = 77  # ctest SKIP_RETURN_CODE
MARK = "RAFTKV_FAULT_NETNS"


def skip(why):
    print("SKIP: %s" % why, flush=True)
    sys.exit(SKIP)


def enter():
    """Returns inside a fresh network namespace with lo up, or exits."""
    if os.environ.get(MARK) != "1":
        _reexec()
    out = subprocess.run(["ip", "link", "set", "lo", "up"], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit("cannot bring lo up in the namespace: %s" % out.stderr.strip())
    if not shutil.which("iptables"):
        raise SystemExit("iptables is missing (make deps installs it)")
    probe = subprocess.run(["iptables", "-S", "INPUT"], capture_output=True, text=True)
    if probe.returncode != 0:
        raise SystemExit("iptables does not work in the namespace: %s" % probe.stderr.strip())


def _reexec():
    if os.geteuid() != 0:
        skip("fault tests need root (unshare --net and iptables); run as root or in CI")
    unshare = shutil.which("unshare")
    if not unshare:
        skip("unshare (util-linux) is not installed")
    probe = subprocess.run([unshare, "--net", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        skip("unshare --net is not permitted here: %s" % probe.stderr.strip())
    env = dict(os.environ, **{MARK: "1"})
    argv = [unshare, "--net", "--", sys.executable] + sys.argv
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(unshare, argv, env)
