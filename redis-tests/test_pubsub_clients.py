"""Pub/sub client libraries against a 3-node RaftKV cluster (follower-mode
proxy): every subscriber is connected to a follower, every message is
published on the leader (issue 16).

redis-py here (PubSub.get_message, listen, psubscribe, a RESP2 connection
in subscribe mode); ioredis subscriber mode and node-redis subscribe (RESP2
and RESP3) in node/pubsub_test.js, run when node is installed (run_node.py
installs the npm packages into the build dir when missing)."""
import os
import shutil
import subprocess
import sys
import time

import pytest
import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat  # noqa: E402
import run_node  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    c = compat.start_raftkv_cluster(3)
    yield c
    san = c.sanitizer_report()
    bad = c.stop()
    assert san is None, "sanitizer report:\n" + san
    assert not bad, "nodes %s did not stop cleanly" % bad


def client(node, **kw):
    return redis.Redis(host=node.host, port=node.port, socket_timeout=20, **kw)


def next_message(ps, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = ps.get_message(timeout=1.0)
        if m and m["type"] in ("message", "pmessage"):
            return m
    raise AssertionError("no message within %ds" % timeout)


def test_redis_py_get_message_and_psubscribe_on_a_follower(cluster):
    ld = cluster.leader()
    f = cluster.followers()[0]
    ps = client(f).pubsub(ignore_subscribe_messages=True)
    ps.subscribe("py:news")
    ps.psubscribe("py:n*", "py:?ews")
    # confirmations are consumed by get_message; PUBSUB NUMSUB is the node's own
    deadline = time.monotonic() + 20
    while client(f).pubsub_numsub("py:news") != [(b"py:news", 1)]:
        assert time.monotonic() < deadline
        ps.get_message(timeout=0.1)
    assert client(f).pubsub_numpat() == 2
    assert client(ld).pubsub_numsub("py:news") == [(b"py:news", 0)]
    pub = client(ld)
    for i in range(20):
        assert pub.publish("py:news", "m%d" % i) == 0  # the leader has no subscriber
    got = [next_message(ps) for _ in range(60)]
    plain = [m["data"] for m in got if m["type"] == "message"]
    assert plain == [b"m%d" % i for i in range(20)]
    for pat in (b"py:n*", b"py:?ews"):
        assert [m["data"] for m in got if m["pattern"] == pat] == [b"m%d" % i for i in range(20)]
    # each message's three deliveries come together: message, then pmessages
    for i in range(20):
        assert got[3 * i]["type"] == "message" and got[3 * i]["data"] == b"m%d" % i
    ps.close()


def test_redis_py_listen_on_a_follower(cluster):
    ld = cluster.leader()
    f = cluster.followers()[-1]
    ps = client(f).pubsub()
    ps.subscribe("py:listen")
    it = ps.listen()
    first = next(it)
    assert first == {"type": "subscribe", "pattern": None, "channel": b"py:listen", "data": 1}
    with client(ld) as pub:
        for i in range(10):
            pub.publish("py:listen", "x%d" % i)
        pub.publish("py:listen", "stop")
    got = []
    for m in it:
        if m["data"] == b"stop":
            break
        got.append(m["data"])
    assert got == [b"x%d" % i for i in range(10)]
    ps.unsubscribe("py:listen")
    ps.close()


def test_redis_py_subscribe_mode_refuses_other_commands(cluster):
    f = cluster.followers()[0]
    ps = client(f).pubsub()
    ps.subscribe("py:mode")
    assert ps.get_message(timeout=5)["type"] == "subscribe"
    ps.execute_command("GET", "k")
    with pytest.raises(redis.ResponseError, match="only \\(P\\|S\\)SUBSCRIBE"):
        ps.parse_response(timeout=5)
    ps.close()


def test_ioredis_and_node_redis_subscribers_on_a_follower(cluster):
    node = shutil.which("node")
    if not node:
        pytest.skip("node is not installed")
    prefix = os.environ.get("COMPAT_NODE_DIR") or os.path.join(os.getcwd(), "compat-node")
    assert run_node.ensure_packages(prefix), "npm install failed"
    ld = cluster.leader()
    f = cluster.followers()[0]
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node", "pubsub_test.js")
    env = dict(os.environ, NODE_PATH=os.path.join(prefix, "node_modules"))
    p = subprocess.run([node, script, "%s:%d" % (f.host, f.port), "%s:%d" % (ld.host, ld.port)],
                       env=env, capture_output=True, text=True, timeout=120)
    print(p.stdout + p.stderr)
    assert p.returncode == 0, p.stdout + p.stderr
