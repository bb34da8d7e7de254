"""Size limits along a write's path (DESIGN.md, "Determinism and trust"):
the biggest things a client may ask for neither wedge the cluster nor cost
it its leader."""
import pytest

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
    an election, so the leader stays (it used to be deposed)."""
    c = make_cluster(3)
    ld = c.leader()
    before = terms(c)
    with ld.client(socket_timeout=120) as r:
        assert r.setbit("big", 4294967295, 1) == 0
        wait_until(lambda: applied_everywhere(c, ld), 120, "every node to apply the SETBIT")
        with ld.client() as r2:  # the leader still serves, in the same term
            assert r2.set("after", "1")
    assert terms(c) == before, "an election followed the SETBIT"
    for n in c.nodes:
        with n.client(socket_timeout=60) as r:
            r.execute_command("READONLY")
            assert r.strlen("big") == 512 * 1024 * 1024
            assert r.getbit("big", 4294967295) == 1
            assert r.getbit("big", 4294967294) == 0
