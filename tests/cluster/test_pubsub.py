"""Pub/sub across a 3-node cluster (issue 16, DESIGN.md "Pub/sub").

PUBLISH is a log entry: every node delivers it to its own subscribers when
it applies it, so every subscriber on every node sees every message, all in
the same (log) order. PUBLISH's reply counts the receivers on the node that
applied it for the publisher: the leader, also for a PUBLISH a follower
forwarded (follower-mode proxy)."""
import threading
import time

import pytest
import redis

from conftest import wait_until

CHANNEL = "news"


def subscriber(node, channels=(), patterns=()):
    """A redis-py PubSub on node, its confirmations consumed."""
    ps = node.client(socket_timeout=20).pubsub()
    if channels:
        ps.subscribe(*channels)
    if patterns:
        ps.psubscribe(*patterns)
    want = len(channels) + len(patterns)
    got = 0
    deadline = time.monotonic() + 20
    while got < want:
        assert time.monotonic() < deadline, "no subscribe confirmation"
        m = ps.get_message(timeout=1.0)
        if m and m["type"] in ("subscribe", "psubscribe"):
            got += 1
    return ps


def collect(ps, n, timeout=60):
    """The next n messages' (channel, data), in arrival order."""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        left = deadline - time.monotonic()
        assert left > 0, "got %d of %d messages: %r" % (len(out), n, out[-5:])
        m = ps.get_message(timeout=min(left, 1.0))
        if m and m["type"] in ("message", "pmessage"):
            out.append((m["channel"], m["data"]))
    return out


def numsub(node, channel):
    with node.client() as r:
        return dict(r.pubsub_numsub(channel))[channel.encode()]


def test_every_subscriber_sees_every_message_in_one_order(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    # A different number of channel subscribers per node (1, 2, 3) and one
    # pattern subscriber each: a PUBLISH's reply says which node counted.
    subs = []
    for i, nd in enumerate(c.nodes):
        for _ in range(i + 1):
            subs.append((nd, subscriber(nd, channels=[CHANNEL])))
        subs.append((nd, subscriber(nd, patterns=["ne*"])))
    for i, nd in enumerate(c.nodes):
        assert numsub(nd, CHANNEL) == i + 1  # subscriptions are the node's own
    leader_receivers = c.nodes.index(ld) + 1 + 1

    per_pub = 40
    replies = {}
    errors = []

    def publish(nd):
        try:
            with nd.client() as r:
                replies[nd.id] = [r.publish(CHANNEL, "n%d-%d" % (nd.id, k)) for k in range(per_pub)]
        except Exception as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=publish, args=(nd,)) for nd in c.nodes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    # Counted on the leader, which applied every PUBLISH for its publisher.
    for nid, rs in replies.items():
        assert rs == [leader_receivers] * per_pub, (nid, rs[:5])

    total = per_pub * len(c.nodes)
    orders = []
    for nd, ps in subs:
        got = collect(ps, total)
        assert all(ch == CHANNEL.encode() for ch, _ in got)
        data = [d.decode() for _, d in got]
        orders.append(data)
        # each publisher's messages in the order it sent them
        for p in c.nodes:
            mine = [d for d in data if d.startswith("n%d-" % p.id)]
            assert mine == ["n%d-%d" % (p.id, k) for k in range(per_pub)]
    assert all(o == orders[0] for o in orders), "subscribers saw different orders"
    for _, ps in subs:
        ps.close()


def test_spublish_reaches_shard_subscribers_on_every_node(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    subs = []
    for nd in c.nodes:  # this redis-py has no sharded pub/sub: its plain connection
        conn = redis.Connection(host="127.0.0.1", port=nd.port, socket_timeout=20)
        conn.send_command("SSUBSCRIBE", "orders")
        assert conn.read_response() == [b"ssubscribe", b"orders", 1]
        subs.append(conn)
    f = [n for n in c.nodes if n is not ld][0]
    with f.client() as r:
        assert r.execute_command("SPUBLISH", "orders", "o1") == 1  # the leader's subscriber
    for conn in subs:
        assert conn.read_response() == [b"smessage", b"orders", b"o1"]
        conn.disconnect()


def test_follower_in_redirect_mode_answers_moved_for_publish(make_cluster):
    c = make_cluster(3, args=["--follower-mode", "redirect"])
    ld = c.leader()
    f = c.followers()[0]
    with pytest.raises(redis.ResponseError) as e:
        f.client().publish(CHANNEL, "x")
    assert str(e.value).startswith("MOVED ") and str(e.value).endswith(":%d" % ld.port)
    assert ld.client().publish(CHANNEL, "x") == 0


def test_subscriber_on_a_follower_keeps_receiving_across_a_leader_kill(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    f1, f2 = [n for n in c.nodes if n is not ld]
    ps = subscriber(f1, channels=[CHANNEL])
    with ld.client() as r:
        for k in range(20):
            r.publish(CHANNEL, "before-%d" % k)
    assert [d for _, d in collect(ps, 20)] == [b"before-%d" % k for k in range(20)]
    ld.kill()
    new = c.leader(among=[f1, f2], timeout=30)
    # published through the other follower (or the new leader): proxied there
    via = f2 if new is f1 else new
    attempts, acked = [0], []

    def published():
        k = attempts[0]
        attempts[0] += 1
        try:
            with via.client() as r:
                r.publish(CHANNEL, "after-%d" % k)
        except redis.RedisError:
            return False  # the proxy may still point at the dead leader
        acked.append(b"after-%d" % k)
        return len(acked) == 20

    wait_until(published, timeout=60, what="20 PUBLISH after the failover")
    # A PUBLISH answered with an error may still have been applied; every
    # acknowledged one arrives, and all in the order they were sent.
    got = []
    deadline = time.monotonic() + 60
    while not set(acked) <= set(got):
        assert time.monotonic() < deadline, (acked, got)
        m = ps.get_message(timeout=1.0)
        if m and m["type"] == "message":
            got.append(m["data"])
    nums = [int(d.split(b"-")[1]) for d in got]
    assert nums == sorted(set(nums)), got
    ps.close()
