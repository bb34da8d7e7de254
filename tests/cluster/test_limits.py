"""Size limits along a write's path (DESIGN.md, "Determinism and trust"):
the biggest things a client may ask for neither wedge the cluster nor cost
it its leader."""
import time

import pytest
import redis

from conftest import wait_until


def terms(c):
    return [(int(n.raft()["raft_term"]), int(n.raft()["raft_leader_id"])) for n in c.nodes]


def applied_everywhere(c, ld):
    target = int(ld.raft()["raft_commit_index"])
    return all(int(n.raft()["raft_applied_index"]) >= target for n in c.nodes)


def test_a_512mb_setbit_keeps_the_leader(make_cluster):
    """SETBIT at the last offset makes a 512 MB string from a tiny entry;
    every node applies it at about the same time, holding its loop for a
    second or more (far longer under ASan) with a 500 ms election timeout.
    Followers wait as long as their own apply took before counting towards
    an election, so the leader stays (it used to be deposed). Each node then
    commits the 512 MB to its state, which holds its loop for seconds on a
    busy disk: the SET after it gets a long request timeout, since what is
    tested is the term, not the latency."""
    c = make_cluster(3, args=["--raft-request-timeout", "60000"])
    ld = c.leader()
    before = terms(c)
    with ld.client(socket_timeout=120) as r:
        assert r.setbit("big", 4294967295, 1) == 0
        wait_until(lambda: applied_everywhere(c, ld), 120, "every node to apply the SETBIT")
        with ld.client(socket_timeout=90) as r2:  # the leader still serves, in the same term
            assert r2.set("after", "1")
    assert terms(c) == before, "an election followed the SETBIT"
    for n in c.nodes:
        with n.client(socket_timeout=60) as r:
            r.execute_command("READONLY")
            assert r.strlen("big") == 512 * 1024 * 1024
            assert r.getbit("big", 4294967295) == 1
            assert r.getbit("big", 4294967294) == 0


def set_until_committed(c, key, value, deadline_s=240):
    """SET through the leader, again after -TRYAGAIN (the write certainly did
    not happen: leadership moved while a 64 MiB entry was in flight on a busy
    machine); returns the leader that answered OK."""
    end = time.monotonic() + deadline_s
    while True:
        ld = c.leader()
        try:
            with ld.client(socket_timeout=120) as r:
                assert r.set(key, value)
                return ld
        except redis.ResponseError as e:
            if not str(e).startswith("TRYAGAIN") or time.monotonic() > end:
                raise


def test_the_largest_write_commits_and_one_byte_more_is_refused(make_cluster):
    """A SET whose entry is exactly the largest raft takes (64 MiB) used to
    pass the entry check and then exceed the peer queue's bound by its
    message header: dropped silently, resent forever, every later write
    timed out. Now every limit is derived from the entry's, so it commits;
    one byte more is refused where it enters, through a follower too. (The
    election timeout is long enough for an ASan build to copy 64 MiB a few
    times in one pass; what is tested here is the sizes: on a busy machine
    leadership may still move, and a SET answered -TRYAGAIN is sent again.)"""
    c = make_cluster(3, args=["--election-timeout", "3000", "--raft-request-timeout", "30000"])
    # SET big v: version, kind, tau, database, argc, and each argument with its length:
    # 30 + 3 bytes
    most = (64 << 20) - 33
    ld = set_until_committed(c, "big", b"x" * most)
    with ld.client(socket_timeout=120) as r:
        assert r.set("after", "1")
        with pytest.raises(redis.ResponseError, match="too large for one log entry"):
            r.set("bigger", b"y" * (most + 1))
        last = int(ld.raft()["raft_last_index"])
    with c.followers()[0].client(socket_timeout=120) as r:
        with pytest.raises(redis.ResponseError, match="too large for one log entry"):
            r.set("bigger", b"y" * (most + 1))
        assert r.set("after2", "2")
    assert int(ld.raft()["raft_last_index"]) <= last + 2  # the refused writes were never logged
    wait_until(lambda: applied_everywhere(c, ld), 120, "every node to apply the writes")
    for n in c.nodes:
        with n.client(socket_timeout=60) as r:
            r.execute_command("READONLY")
            assert r.strlen("big") == most
            assert r.exists("bigger") == 0
            assert r.get("after2") == b"2"
