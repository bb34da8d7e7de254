"""Keyspace notifications across a 3-node cluster (issue 16, design
decision 3): notify-keyspace-events is state set through the log, so a
follower that catches up by snapshot has it; every node emits the events
of every applied entry, "expired" included (the leader's expire entry), in
the same order."""
from conftest import wait_until
from test_pubsub import collect, subscriber
from test_snapshot import KEEP, info


def config_get(node):
    with node.client() as r:
        return r.config_get("notify-keyspace-events")["notify-keyspace-events"]


def test_a_follower_that_catches_up_by_snapshot_has_the_setting(make_cluster):
    c = make_cluster(3, args=KEEP)
    ld = c.leader()
    f = [n for n in c.nodes if n is not ld][0]
    f.stop()
    with ld.client() as r:
        assert r.config_set("notify-keyspace-events", "Kx$") is True
        assert r.set("before", "1") is True
    # Enough writes that the entry setting it leaves the leader's log.
    f_last = int(info(ld)["raft_last_index"])
    with ld.client(socket_timeout=60) as r:
        for i in range(0, 6000, 500):
            p = r.pipeline(transaction=False)
            for k in range(i, i + 500):
                p.set("k%d" % k, "v")
            p.execute()
    wait_until(lambda: int(info(ld)["raft_first_index"]) > f_last + 1, 60,
               "the leader's log to be truncated past the setting's entry")
    f.start()
    wait_until(lambda: "Installed snapshot" in f.log(), 120, "the follower to install a snapshot")
    assert config_get(f) == "$xK"
    ps = subscriber(f, patterns=["__keyspace@0__:*"])
    with ld.client() as r:
        assert r.append("after", "x") == 1
    assert collect(ps, 1) == [(b"__keyspace@0__:after", b"append")]
    ps.close()


def test_every_node_emits_the_same_events_in_the_same_order(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    fl = [n for n in c.nodes if n is not ld]
    # Set through a follower (forwarded to the leader as a write).
    with fl[0].client() as r:
        assert r.config_set("notify-keyspace-events", "KEA") is True
    wait_until(lambda: all(config_get(n) == "AKE" for n in c.nodes), 20,
               "every node to apply the setting")
    subs = [subscriber(n, patterns=["__key*__:*"]) for n in c.nodes]
    # Writes through every node, keys expiring on the leader's clock.
    n_events = 0
    for i, node in enumerate(c.nodes * 3):
        with node.client() as r:
            r.set("s%d" % i, "v", px=40)  # set, expire, then expired
            r.rpush("l", "x%d" % i)
            r.hincrby("h", "f", 1)
        n_events += 2 * 4
    n_events += 2 * 9  # expired, one per key
    got = [collect(ps, n_events, timeout=90) for ps in subs]
    for ps in subs:
        ps.close()
    assert got[1] == got[0] and got[2] == got[0]
    expired = [k for ch, k in got[0] if ch == b"__keyevent@0__:expired"]
    assert sorted(expired) == sorted(b"s%d" % i for i in range(9))
    # Nothing is emitted twice: the events of one key come in command order.
    s0 = [m for ch, m in got[0] if ch == b"__keyspace@0__:s0"]
    assert s0 == [b"set", b"expire", b"expired"]
