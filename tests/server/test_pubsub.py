"""Pub/sub on one node: the pubsub output-buffer class, and many
subscribers and channels (the tables stay cheap). Passes against
redis-server too (RAFTKV_SERVER_KIND=redis)."""
import time

from conftest import Push, encode, wait_until


def test_subscriber_that_never_reads_is_disconnected_by_the_pubsub_limit(make_server):
    # the normal class is unlimited here: only the pubsub class can close it
    s = make_server("--client-output-buffer-limit", "normal 0 0 0 pubsub 1mb 1mb 0")
    slow = s.raw(rcvbuf=4096)
    assert slow.call("CLIENT", "SETNAME", "slowsub") == "OK"
    slow.send(encode("SUBSCRIBE", "firehose"))
    pub = s.raw()
    wait_until(lambda: pub.call("PUBSUB", "NUMSUB", "firehose")[1] == 1, what="the subscription")
    msg = b"x" * 100000
    deadline = time.monotonic() + 60
    while "name=slowsub " in pub.call("CLIENT", "LIST").decode():
        assert time.monotonic() < deadline, "the non-reading subscriber is still connected"
        for _ in range(20):
            pub.call("PUBLISH", "firehose", msg)
    assert pub.call("PUBSUB", "NUMSUB", "firehose") == [b"firehose", 0]
    got = slow.expect_closed(timeout=30)
    assert got.startswith(b"*3\r\n$9\r\nsubscribe\r\n$8\r\nfirehose\r\n:1\r\n")
    assert pub.call("PUBLISH", "firehose", "after") == 0


def test_ten_thousand_channels_and_many_subscribers(make_server):
    s = make_server()
    a = s.raw()
    names = ["ch:%d" % i for i in range(10000)]
    for i in range(0, len(names), 1000):
        a.send(encode("SUBSCRIBE", *names[i:i + 1000]))
        for k in range(1000):
            assert a.read_reply() == Push([b"subscribe", names[i + k].encode(), i + k + 1])
    subs = [s.raw() for _ in range(200)]
    for c in subs:
        c.send(encode("SUBSCRIBE", "ch:5000"))
        assert c.read_reply() == Push([b"subscribe", b"ch:5000", 1])
    pub = s.raw()
    assert pub.call("PUBSUB", "NUMSUB", "ch:5000", "ch:9999") == [b"ch:5000", 201, b"ch:9999", 1]
    assert len(pub.call("PUBSUB", "CHANNELS")) == 10000
    t0 = time.monotonic()
    for k in range(50):
        assert pub.call("PUBLISH", "ch:5000", "m%d" % k) == 201
    took = time.monotonic() - t0
    for c in subs + [a]:
        for k in range(50):
            assert c.read_reply() == Push([b"message", b"ch:5000", b"m%d" % k])
    assert took < 20, took  # generous: a sanitizer build on a shared machine
    a.send(encode("UNSUBSCRIBE"))
    for k in range(10000):
        r = a.read_reply()
        assert r[0] == b"unsubscribe" and r[2] == 9999 - k
    assert pub.call("PUBSUB", "NUMSUB", "ch:5000") == [b"ch:5000", 200]
    assert len(pub.call("PUBSUB", "CHANNELS")) == 1
    for c in subs:
        c.close()
    wait_until(lambda: pub.call("PUBSUB", "CHANNELS") == [], what="channels of closed clients to go")
