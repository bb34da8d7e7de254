"""Every acknowledged write survives SIGKILL right after its ack, a graceful
SIGTERM, and SHUTDOWN; restarts are on the same dir and port. A full disk
stops the node with the file and the error in its log."""
import os
import subprocess
import tempfile
import threading
import time

import pytest
import redis

from conftest import IS_REDIS, STOP_DEADLINE, encode, wait_until


def _check(server, expect_exact, expect_range, gone):
    """expect_exact: key -> value; expect_range: key -> (lo, hi) integers
    (the acked value, and what one unacknowledged in-flight write could have
    added); gone: keys that were acknowledged deleted."""
    c = server.raw()
    keys = list(expect_exact)
    missing = []
    for i in range(0, len(keys), 500):
        chunk = keys[i:i + 500]
        got = c.call("MGET", *chunk)
        missing += [(k, expect_exact[k], v) for k, v in zip(chunk, got) if v != expect_exact[k]]
    assert not missing, "%d of %d acknowledged writes lost or wrong after restart, e.g. %r" % (
        len(missing), len(keys), missing[:5])
    for k, (lo, hi) in expect_range.items():
        v = c.call("GET", k)
        assert v is not None and lo <= int(v) <= hi, (k, v, lo, hi)
    if gone:
        assert c.call("EXISTS", *gone) == 0


def test_sigkill_right_after_acks(server):
    exact, ranges = {}, {}
    r = server.client()
    # one by one
    for i in range(200):
        assert r.set("seq:%d" % i, "v%d" % i) is True
        exact[b"seq:%d" % i] = b"v%d" % i
    # non-transactional pipelines
    for b in range(4):
        with r.pipeline(transaction=False) as p:
            for i in range(500):
                p.set("pipe:%d:%d" % (b, i), "p%d" % i)
            assert p.execute() == [True] * 500
        exact.update({b"pipe:%d:%d" % (b, i): b"p%d" % i for i in range(500)})
    # MULTI/EXEC
    with r.pipeline() as p:
        for i in range(100):
            p.set("tx:%d" % i, "t%d" % i)
        p.incrby("txctr", 100)
        assert p.execute() == [True] * 100 + [100]
    exact.update({b"tx:%d" % i: b"t%d" % i for i in range(100)})
    exact[b"txctr"] = b"100"
    # acknowledged deletes and overwrites
    assert r.delete("seq:0", "seq:1") == 2
    del exact[b"seq:0"], exact[b"seq:1"]
    assert r.set("pipe:0:0", "overwritten") is True
    exact[b"pipe:0:0"] = b"overwritten"
    assert r.set("withttl", "v", ex=1000) is True
    exact[b"withttl"] = b"v"

    # concurrent writers still running when the server is killed
    nthreads = 8
    acked = [dict() for _ in range(nthreads)]   # key -> value, per thread
    counters = [0] * nthreads                   # last acknowledged INCR value
    stop = threading.Event()

    def writer(t):
        c = server.raw()
        j = 0
        try:
            while not stop.is_set():
                key = b"w:%d:%d" % (t, j)
                val = b"x%d" % j
                if c.call("SET", key, val) != "OK":
                    return
                acked[t][key] = val
                v = c.call("INCR", b"ctr:%d" % t)
                if not isinstance(v, int):
                    return
                counters[t] = v
                j += 1
        except (OSError, EOFError):
            return  # the server was killed

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(nthreads)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: sum(len(a) for a in acked) >= 2000, timeout=60,
                   what="2000 concurrent acknowledged writes")
        assert r.set("last", "acked") is True
        server.kill()  # SIGKILL immediately after the last ack
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    exact[b"last"] = b"acked"
    for t in range(nthreads):
        exact.update(acked[t])
        if counters[t]:
            ranges[b"ctr:%d" % t] = (counters[t], counters[t] + 1)

    server.restart()
    _check(server, exact, ranges, [b"seq:0", b"seq:1"])
    c = server.raw()
    assert 990 <= c.call("TTL", "withttl") <= 1000

    # write more after recovery, kill again: recovery of a recovered server
    more = {b"more:%d" % i: b"m%d" % i for i in range(300)}
    req = b"".join(encode("SET", k, v) for k, v in more.items())
    c.send(req)
    for _ in more:
        assert c.read_reply() == "OK"
    server.kill()
    server.restart()
    exact.update(more)
    _check(server, exact, ranges, [b"seq:0", b"seq:1"])


def test_sigterm_loses_nothing(server):
    r = server.client()
    expect = {}
    with r.pipeline(transaction=False) as p:
        for i in range(3000):
            p.set("k:%d" % i, "v%d" % i)
        p.execute()
    expect.update({b"k:%d" % i: b"v%d" % i for i in range(3000)})
    for i in range(100):
        r.incr("ctr")
    expect[b"ctr"] = b"100"
    r.set("t", "v", px=3600000)
    expect[b"t"] = b"v"
    rc = server.stop()  # SIGTERM, waits with a deadline, SIGKILL if it must
    assert rc == 0, "SIGTERM did not stop the server cleanly (rc=%r); log:\n%s" % (rc, server.log())
    server.restart()
    _check(server, expect, {}, [])
    assert server.client().dbsize() == len(expect)
    assert 3590 <= server.client().ttl("t") <= 3600


def test_shutdown_command(server):
    r = server.client()
    r.set("a", "1")
    r.incr("a")
    c = server.raw()
    c.send(encode("SHUTDOWN"))
    assert c.expect_closed() == b""
    server.expect_dead = True
    deadline = time.monotonic() + STOP_DEADLINE
    while server.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.proc.poll() == 0, "SHUTDOWN did not stop the server (rc=%r)" % server.proc.poll()
    server.restart()
    assert server.client().get("a") == b"2"


@pytest.mark.skipif(IS_REDIS or os.geteuid() != 0,
                    reason="RaftKV's storage errors; mounting a small tmpfs needs root")
def test_a_full_disk_stops_the_node_naming_the_file_and_the_error(make_server):
    """The data dir on a 6 MB tmpfs, smaller than both maps: writes fill the
    disk before the -OOM mark. The node stops (a storage error is never
    skipped), and its log names the file and the system's error."""
    mnt = tempfile.mkdtemp(prefix="raftkv-full-")
    subprocess.check_call(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", mnt])
    try:
        s = make_server("--dir", mnt, "--lmdb-log-mapsize", "16mb", "--lmdb-state-mapsize", "64mb")
        s.expect_dead = True
        r = s.client(socket_timeout=20)
        value = b"x" * 100000
        for i in range(400):
            try:
                r.set("k%d" % i, value)
            except redis.ConnectionError:
                break
            except redis.ResponseError:
                pass  # -OOM or -TIMEOUT while it fails: the test is about what it logs
        wait_until(lambda: not s.alive(), 30, what="the node to stop on the full disk")
        log = s.log()
        assert "No space left on device" in log, log[-2000:]
        line = [ln for ln in log.splitlines() if "No space left on device" in ln][0]
        assert mnt in line, line
    finally:
        if s.alive():
            s.kill()
        subprocess.call(["umount", "-l", mnt])
        os.rmdir(mnt)


@pytest.mark.skipif(IS_REDIS, reason="RaftKV's log sync thread (RAFTKV_TEST_LOG_FSYNC_DELAY_MS)")
def test_a_slow_log_fsync_is_kept_off_the_loop(make_server, monkeypatch):
    """Every fdatasync of the log takes 400 ms more (a slow disk). A light
    pass syncs inline only while fsyncs are fast: after one slow fsync, a
    PING sent while a SET waits for its fsync is answered at once, not after
    the fsync (the loop, and a leader's heartbeats, do not wait for a slow
    disk again)."""
    monkeypatch.setenv("RAFTKV_TEST_LOG_FSYNC_DELAY_MS", "400")
    s = make_server()
    w = s.client(socket_timeout=20)
    q = s.client(socket_timeout=20, single_connection_client=True)
    assert w.set("warm", "1")  # the first fsync may run inline: it is the slow one
    q.config_resetstat()
    slowest = 0.0
    for i in range(3):
        th = threading.Thread(target=lambda i=i: w.set("k%d" % i, "v"))
        t0 = time.monotonic()
        th.start()
        time.sleep(0.05)  # the SET waits for its fsync now
        q.ping()
        slowest = max(slowest, time.monotonic() - t0 - 0.05)
        th.join(20)
        assert not th.is_alive()
        assert time.monotonic() - t0 >= 0.35  # the SET did wait for the slow fsync
    assert slowest < 0.15, "a PING waited %.0f ms for the log's fsync" % (slowest * 1000)
    slow = q.info("stats")["eventloop_slow_pass_usec"]  # redis-py makes "a=1,b=2" a dict
    assert int(slow["log_fsync"]) < 100000, slow  # no fsync ran in the loop
    assert w.mget("k0", "k1", "k2") == [b"v"] * 3


@pytest.mark.skipif(IS_REDIS, reason="RaftKV's state commit thread (RAFTKV_TEST_COMMIT_DELAY_MS)")
def test_the_loop_serves_while_the_state_commits(make_server, monkeypatch):
    """Each state commit held 3 s on the commit thread: meanwhile the node
    answers PING and INFO, queues the writes it commits and holds the reads,
    then answers them in their order once the commit ended; SIGTERM waits
    for a commit in flight and loses nothing."""
    monkeypatch.setenv("RAFTKV_TEST_COMMIT_DELAY_MS", "3000")
    s = make_server()
    r = s.client(socket_timeout=20)

    def persistence():
        return r.info("persistence")

    r.set("a", "1")  # a commit starts once writes pause (the cron's quiet run)
    wait_until(lambda: persistence()["raft_state_commit_in_progress"] == 1, 10,
               what="a state commit in flight")
    t0 = time.monotonic()
    for _ in range(20):
        assert r.ping()
    assert time.monotonic() - t0 < 1.0, "PING waited for the commit"
    # one client's read, write, read, write, pipelined while it commits
    w = s.client(socket_timeout=20)
    out = {}

    def pipelined():
        with w.pipeline(transaction=False) as p:
            p.get("a").set("a", "2").get("a").incr("n")
            out["replies"] = p.execute()
    th = threading.Thread(target=pipelined)
    th.start()
    wait_until(lambda: persistence()["raft_state_apply_queued"] == 2, 2,
               what="both writes committed and queued while the state commits")
    assert "replies" not in out and persistence()["raft_state_commit_in_progress"] == 1
    th.join(20)
    assert not th.is_alive()
    assert out["replies"] == [b"1", True, b"2", 1]
    assert persistence()["raft_state_apply_queued"] == 0
    wait_until(lambda: persistence()["raft_state_commit_in_progress"] == 1, 10,
               what="the next state commit in flight")
    r.set("b", "3")  # committed while it commits, applied after
    assert s.stop() == 0, s.log()
    monkeypatch.delenv("RAFTKV_TEST_COMMIT_DELAY_MS")
    s.restart()
    assert s.client().mget("a", "b", "n") == [b"2", b"3", b"1"]
