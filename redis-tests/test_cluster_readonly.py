"""READONLY / READWRITE on a follower of a 3-node cluster in follower-mode
redirect, as on a Redis Cluster replica: after READONLY the connection's
reads are served from the follower's own state (stale allowed: it answers
with no quorum reachable, and answers what it has even when that is behind
the leader); writes are still redirected with -MOVED <slot> <leader>;
READWRITE ends it. Without READONLY a follower's read is linearizable (a
ReadIndex round through the leader) where a Redis Cluster replica would
answer -MOVED: a read that needs no redirect."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat  # noqa: E402


@pytest.fixture
def cluster():
    c = compat.start_raftkv_cluster(3, ["--follower-mode", "redirect"])
    yield c
    san = c.sanitizer_report()
    bad = c.stop()
    assert san is None, "sanitizer report:\n" + san
    assert not bad, "nodes %s did not stop cleanly:\n%s" % (bad, c.log())


def conn(node):
    return compat.Conn(node.host, node.port, timeout=15)


def moved(key, leader):
    c = conn(leader)
    try:
        slot = int(c.call("CLUSTER", "KEYSLOT", key).value)
    finally:
        c.close()
    return b"-MOVED %d %s:%d\r\n" % (slot, leader.host.encode(), leader.port)


def test_readonly_reads_locally_and_writes_still_redirect(cluster):
    ld = cluster.leader()
    f = cluster.followers()[0]
    w = conn(ld)
    assert w.call("SET", "x", "1").raw == b"+OK\r\n"
    r = conn(f)
    # no READONLY: a linearizable read, a redirected write
    assert r.call("GET", "x").raw == b"$1\r\n1\r\n"
    assert r.call("SET", "x", "2").raw == moved("x", ld)
    assert r.call("READONLY").raw == b"+OK\r\n"
    compat.wait_until(lambda: r.call("GET", "x").raw == b"$1\r\n1\r\n", 10, "the follower to apply x=1")
    # still redirected, whatever the key and in RESP3 too
    assert r.call("SET", "x", "2").raw == moved("x", ld)
    assert r.call("INCR", "{user1000}.n").raw == moved("{user1000}.n", ld)
    assert r.call("HELLO", "3").kind == "%"
    assert r.call("DEL", "x").raw == moved("x", ld)
    assert r.call("GET", "x").raw == b"$1\r\n1\r\n"
    assert r.call("READWRITE").raw == b"+OK\r\n"
    assert r.call("SET", "x", "2").raw == moved("x", ld)
    assert w.call("GET", "x").raw == b"$1\r\n1\r\n"  # no write reached the leader
    # redis-cli -c follows the MOVED; the READONLY connection sees it
    # once applied
    assert w.call("SET", "x", "3").raw == b"+OK\r\n"
    assert r.call("READONLY").raw == b"+OK\r\n"
    compat.wait_until(lambda: r.call("GET", "x").raw == b"$1\r\n3\r\n", 10, "the follower to apply x=3")
    w.close()
    r.close()


def test_readonly_serves_stale_state_without_a_quorum(cluster):
    ld = cluster.leader()
    f = cluster.followers()[0]
    other = [n for n in cluster.nodes if n is not ld and n is not f][0]
    w = conn(ld)
    assert w.call("SET", "x", "old").raw == b"+OK\r\n"
    r = conn(f)
    assert r.call("READONLY").raw == b"+OK\r\n"
    compat.wait_until(lambda: r.call("GET", "x").raw == b"$3\r\nold\r\n", 10, "the follower to apply x=old")
    r.close()
    # the follower misses a write: killed, the write committed by the other
    # two, then they are stopped and the follower comes back alone
    f.kill()
    assert w.call("SET", "x", "new").raw == b"+OK\r\n"
    w.close()
    ld.pause()
    other.pause()
    try:
        f.start()
        r = conn(f)
        assert r.call("READONLY").raw == b"+OK\r\n"
        # served at once from its own state: stale, as a replica's may be.
        # What it restarted with is x=old or, when its last commit index
        # and state had not reached the disk yet, no x at all (the entry is
        # in its log, not yet known committed); never x=new.
        first = r.call("GET", "x").raw
        assert first in (b"$3\r\nold\r\n", b"$-1\r\n"), first
        for _ in range(20):
            assert r.call("GET", "x").raw == first
        # a write is never acknowledged here: redirected to the leader it
        # last knew, or no leader known
        rep = r.call("SET", "x", "lost").raw
        assert rep.startswith((b"-MOVED ", b"-CLUSTERDOWN ")), rep
        # READWRITE: the read needs the quorum again, which is not there
        assert r.call("READWRITE").raw == b"+OK\r\n"
        rep = r.call("GET", "x").raw
        assert rep.startswith((b"-TIMEOUT", b"-CLUSTERDOWN")), rep
        r.close()
    finally:
        ld.resume()
        other.resume()
    nl = cluster.leader()
    r = conn(f)
    compat.wait_until(lambda: r.call("GET", "x").raw == b"$3\r\nnew\r\n", 20, "a linearizable read of x=new")
    assert r.call("READONLY").raw == b"+OK\r\n"
    assert r.call("GET", "x").raw == b"$3\r\nnew\r\n"
    if nl is not f:
        assert r.call("SET", "x", "2").raw == moved("x", nl)
    r.close()
