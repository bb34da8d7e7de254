"""Protected mode on a cluster whose nodes are on distinct non-loopback
addresses (issue 14, defect 7): the peers' handshakes get through, so the
nodes elect a leader and replicate, while a client command from a
non-loopback address is answered -DENIED.

The nodes run with the default bind (where protected mode applies) on
192.0.2.1-3 (TEST-NET-1) of a dummy link (or, without the dummy module,
of lo) inside a network namespace this script makes for itself (unshare --net, as tests/fault does): nothing it
sends leaves the namespace. Exits 77 (ctest SKIP) when not root.

  RAFTKV_SERVER=build/asan/server/raftkv-server python3 test_protected_mode.py"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import redis  # noqa: E402
import testproc  # noqa: E402  (tests/pylib)

SKIP = 77
MARK = "RAFTKV_PROTECTED_NETNS"
ADDRS = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
OUTSIDER = "192.0.2.9"  # a client's address: no member's
SECRET = "protected-mode-secret"


def enter_namespace():
    if os.environ.get(MARK) == "1":
        return
    if os.geteuid() != 0:
        print("SKIP: needs root (unshare --net, ip link)", flush=True)
        sys.exit(SKIP)
    unshare = shutil.which("unshare")
    if not unshare:
        raise SystemExit("unshare (util-linux) is missing")
    env = dict(os.environ, **{MARK: "1"})
    sys.stdout.flush()
    os.execve(unshare, [unshare, "--net", "--", sys.executable] + sys.argv, env)


def ip(*args):
    out = subprocess.run(["ip"] + list(args), capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit("ip %s: %s" % (" ".join(args), out.stderr.strip()))


def raw_reply(src, host, port, data):
    """Connects from src, sends data, returns everything until EOF or the
    first complete line."""
    s = socket.create_connection((host, port), timeout=10, source_address=(src, 0))
    try:
        s.sendall(data)
        buf = b""
        while not buf.endswith(b"\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return buf
    finally:
        s.close()


def main():
    enter_namespace()
    server = os.environ.get("RAFTKV_SERVER")
    assert server, "RAFTKV_SERVER must point at raftkv-server"
    ip("link", "set", "lo", "up")
    # A dummy link where the kernel has the module; else the addresses go on
    # the namespace's lo (they are not loopback addresses all the same).
    dev = "rk0"
    if subprocess.run(["ip", "link", "add", dev, "type", "dummy"],
                      capture_output=True).returncode != 0:
        dev = "lo"
    for a in ADDRS + [OUTSIDER]:
        ip("addr", "add", a + ("/24" if dev != "lo" else "/32"), "dev", dev)
    ip("link", "set", dev, "up")

    root = tempfile.mkdtemp(prefix="raftkv-protected-")
    ports = testproc.pick_ports(3)
    spec = ",".join("%d=%s:%d" % (i + 1, ADDRS[i], ports[i]) for i in range(3))
    procs, logs = [], []
    problems = []
    try:
        for i in range(3):
            logs.append(os.path.join(root, "n%d.out" % (i + 1)))
            with open(logs[i], "ab") as out:
                # no --bind, no --protected-mode, no requirepass: Redis's defaults
                procs.append(subprocess.Popen(
                    [server, "--node-id", str(i + 1), "--cluster", spec, "--cluster-secret",
                     SECRET, "--dir", os.path.join(root, "n%d" % (i + 1)),
                     "--election-timeout", "500", "--heartbeat-interval", "50",
                     "--loglevel", "verbose"],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True, preexec_fn=testproc.die_with_parent))
        clients = [redis.Redis(host="127.0.0.1", port=p, socket_timeout=10) for p in ports]
        for i, r in enumerate(clients):
            testproc.wait_until(r.ping, 20, "node %d to answer on loopback" % (i + 1),
                                retry_on=(redis.RedisError, OSError))

        def one_leader():
            roles = [r.info("raft") for r in clients]
            leaders = [i for i, x in enumerate(roles) if x.get("raft_role") == "leader"]
            if len(leaders) == 1 and all(int(x["raft_leader_id"]) == leaders[0] + 1
                                         for x in roles):
                return leaders[0] + 1
            return None
        lid = testproc.wait_until(one_leader, 30, "a leader all nodes agree on",
                                  interval=0.05, retry_on=(redis.RedisError, OSError))
        assert clients[lid - 1].set("k", "across-hosts") is True
        for i, r in enumerate(clients):
            testproc.wait_until(lambda: r.get("k") == b"across-hosts", 20,
                                "node %d to read the write" % (i + 1),
                                retry_on=(redis.RedisError, OSError))

        for i in range(3):
            host, port = ADDRS[i], ports[i]
            # a client on another host: denied at once, as by Redis
            got = raw_reply(OUTSIDER, host, port, b"SET x 1\r\n")
            assert got.startswith(b"-DENIED Redis is running in protected mode"), got
            # from a member's address too: only the peer handshake gets through
            member = ADDRS[(i + 1) % 3]
            for cmd in (b"SET x 1\r\n", b"PING\r\n", b"CONFIG SET protected-mode no\r\n"):
                got = raw_reply(member, host, port, cmd)
                assert got.startswith(b"-DENIED Redis is running in protected mode"), got
            # loopback clients are served
            assert clients[i].get("x") is None
            text = testproc.read_text(logs[i])
            assert "protected mode is on" in text, "no warning at start on node %d" % (i + 1)
        print("ok: leader %d elected across 192.0.2.1-3 in protected mode; clients denied" % lid)
    finally:
        for i, p in enumerate(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=20)
            report = testproc.sanitizer_excerpt(testproc.read_text(logs[i]))
            if report:
                problems.append("node %d sanitizer report:\n%s" % (i + 1, report))
            if p.returncode != 0:
                problems.append("node %d exited %s" % (i + 1, p.returncode))
        if problems or os.environ.get("RAFTKV_TEST_VERBOSE"):
            for lg in logs:
                sys.stderr.write(testproc.read_text(lg, tail=3000))
        shutil.rmtree(root, ignore_errors=True)
    if problems:
        raise SystemExit("\n".join(problems))


if __name__ == "__main__":
    main()
