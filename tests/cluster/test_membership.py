"""Membership commands on real nodes (issue 18): RAFT.TRANSFER to a named
node, CLUSTER FAILOVER on the follower that should lead, RAFT.MEMBERS and
INFO raft's membership lines, and their errors."""
import threading
import time

import pytest
import redis

from conftest import wait_until

ELECTION_S = 0.5  # conftest: --election-timeout 500


def leader_is(c, nd):
    return c.leader(timeout=10.0) is nd


def test_transfer_to_a_named_node_while_writes_run(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    target = c.followers()[0]
    failures, stop = [], threading.Event()
    longest = [0.0]

    def writer():
        # a write failing for longer than an election timeout is a failure
        r = c.followers()[1].client()  # proxies to whoever leads
        first_fail, i = None, 0
        while not stop.is_set():
            try:
                r.set("k%d" % i, i)
                i += 1
                if first_fail is not None:
                    longest[0] = max(longest[0], time.time() - first_fail)
                    first_fail = None
            except redis.RedisError as e:
                first_fail = first_fail or time.time()
                failures.append(str(e))
                time.sleep(0.01)

    w = threading.Thread(target=writer)
    w.start()
    try:
        time.sleep(0.3)
        assert ld.client().execute_command("RAFT.TRANSFER", target.id) == b"OK"
        wait_until(lambda: target.role() == "leader", 10.0, "node %d to lead" % target.id)
        assert c.leader() is target
        # and back, asked on a follower (forwarded to the leader)
        other = [n for n in c.nodes if n is not target][0]
        assert other.client().execute_command("RAFT.TRANSFER", ld.id) == b"OK"
        wait_until(lambda: ld.role() == "leader", 10.0, "node %d to lead again" % ld.id)
        time.sleep(0.3)
    finally:
        stop.set()
        w.join()
    assert longest[0] < 2 * ELECTION_S, (longest[0], failures[:5])
    assert c.leader().client().dbsize() > 0


def test_cluster_failover_on_a_follower(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    f = c.followers()[0]
    with pytest.raises(redis.ResponseError) as e:
        ld.client().execute_command("CLUSTER", "FAILOVER")
    assert str(e.value) == "You should send CLUSTER FAILOVER to a replica"
    assert f.client().execute_command("CLUSTER", "FAILOVER") == b"OK"
    wait_until(lambda: f.role() == "leader", 10.0, "node %d to lead" % f.id)
    assert c.leader() is f
    g = [n for n in c.followers() if n is not f][0]
    assert g.client().execute_command("CLUSTER", "FAILOVER", "FORCE") == b"OK"
    wait_until(lambda: g.role() == "leader", 10.0, "node %d to lead" % g.id)
    with pytest.raises(redis.ResponseError) as e:
        f.client().execute_command("CLUSTER", "FAILOVER", "NOW")
    assert str(e.value) == "syntax error"
    with pytest.raises(redis.ResponseError) as e:
        f.client().execute_command("CLUSTER", "FAILOVER", "FORCE", "X")
    assert str(e.value) == "wrong number of arguments for 'cluster|failover' command"


def test_transfer_errors(make_cluster):
    c = make_cluster(3)
    r = c.leader().client()
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("RAFT.TRANSFER", 9)
    assert str(e.value) == "node 9 is not a member of the cluster"
    for bad in ("abc", "0", "-1", "99999999999999999999"):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("RAFT.TRANSFER", bad)
        assert str(e.value) == "invalid node id '%s'" % bad
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("RAFT.TRANSFER")
    assert str(e.value) == "wrong number of arguments for 'raft.transfer' command"
    # the leader naming itself: nothing to do
    assert r.execute_command("RAFT.TRANSFER", c.leader().id) == b"OK"
    # a restricted user may not move leadership
    r.execute_command("ACL", "SETUSER", "app", "on", ">pw", "~*", "+@all", "-@admin")
    u = redis.Redis(port=c.leader().port, username="app", password="pw")
    with pytest.raises(redis.ResponseError) as e:
        u.execute_command("RAFT.TRANSFER", 1)
    assert str(e.value) == "this user has no permissions to run the 'raft.transfer' command"
    u.close()


def test_members_and_info(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    # A leader is elected as soon as two nodes talk (a starting node's first
    # election timeout is short): the third may not have acknowledged an
    # append yet (c.leader() already waited until every node names it).
    def acknowledged():
        with ld.client() as r:
            return all(row[4] >= 1 for row in r.execute_command("RAFT.MEMBERS"))

    wait_until(acknowledged, 10.0, "every follower acknowledged an append")
    for nd in c.nodes:
        rows = nd.client().execute_command("RAFT.MEMBERS")
        assert [row[0] for row in rows] == [1, 2, 3]
        assert [row[1] for row in rows] == [b"127.0.0.1:%d" % n.port for n in c.nodes]
        assert all(row[2] == b"voter" for row in rows)
        assert [row[3] for row in rows] == [b"leader" if n is ld else b"follower" for n in c.nodes]
        # match indexes only on the leader
        assert all((row[4] >= 1) if nd is ld else (row[4] == -1) for row in rows)
        info = nd.raft()
        assert info["raft_voters"] == "1,2,3"
        assert info["raft_learners"] == ""
        assert info["raft_member"] == "voter"
        assert info["raft_pending_conf_index"] == 0


def test_rolling_restart_with_transfers_loses_no_write_for_an_election_timeout(make_cluster):
    """Planned maintenance: every node restarted in turn, the leader handing
    leadership to a named follower first; a writer that moves to another
    node when its own goes down never sees writes fail for longer than an
    election timeout, and every acknowledged write is there at the end."""
    c = make_cluster(3)
    c.leader()
    stop, acked = threading.Event(), []
    state = {"longest": 0.0, "errors": []}

    def writer():
        i, k, first_fail, r = 0, 0, None, None
        while not stop.is_set():
            nd = c.nodes[k % 3]
            try:
                if r is None:
                    if not nd.alive():
                        raise redis.ConnectionError("down")
                    r = nd.client(socket_timeout=2)
                r.set("w%d" % i, i)
                acked.append(i)
                i += 1
                if first_fail is not None:
                    state["longest"] = max(state["longest"], time.time() - first_fail)
                    first_fail = None
            except redis.RedisError as e:
                first_fail = first_fail or time.time()
                state["errors"].append(str(e))
                if r is not None:
                    r.close()
                r, k = None, k + 1  # try the next node
                time.sleep(0.005)

    w = threading.Thread(target=writer)
    w.start()
    try:
        for nd in c.nodes:
            time.sleep(0.2)
            if nd.role() == "leader":
                nxt = [n for n in c.nodes if n is not nd][0]
                assert nd.client().execute_command("RAFT.TRANSFER", nxt.id) == b"OK"
                wait_until(lambda: nxt.role() == "leader", 10.0, "node %d to lead" % nxt.id)
            assert nd.stop() == 0
            nd.start()
            ld = c.leader()
            target = int(ld.raft()["raft_commit_index"])
            wait_until(lambda: int(nd.raft()["raft_applied_index"]) >= target, 20.0,
                       "node %d to catch up" % nd.id)
        time.sleep(0.2)
    finally:
        stop.set()
        w.join()
    assert len(acked) > 0
    assert state["longest"] < ELECTION_S, (state["longest"], state["errors"][:5])
    r = c.leader().client()
    missing = [i for i in acked if r.get("w%d" % i) != str(i).encode()]
    assert not missing, missing[:10]
