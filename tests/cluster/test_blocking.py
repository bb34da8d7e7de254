"""Blocking commands (BLPOP & co.) on one node and on three: clients blocked
on the node they are connected to, woken by pushes applied from the log,
served first-blocked-first-served per key, timeouts, CLIENT UNBLOCK, a
follower forwarding attempts while its other clients' writes keep flowing,
and failover while blocked (server/blocking.c). Every wait is on a condition
with a deadline; every server is stopped by pid."""
import os
import signal
import socket
import subprocess
import threading
import time

import pytest
import redis

from conftest import testproc, wait_until

REDIS_SERVER = os.environ.get("REDIS_SERVER", "/usr/bin/redis-server")


class Blocked:
    """A command run on its own connection in a thread: .result (or .error)
    and the monotonic time it was answered. The replies of the commands in
    raw are kept as sent (redis-py would reshape them)."""

    def __init__(self, node, *cmd, raw=("BLPOP", "BRPOP", "BZPOPMIN", "BZPOPMAX"), **kw):
        self.node, self.cmd = node, cmd
        self.conn = node.client(socket_timeout=60, **kw)
        for name in raw:
            self.conn.response_callbacks.pop(name, None)
        self.id = self.conn.client_id()  # on the connection the command will use
        self.result = self.error = self.at = None
        self.started = time.monotonic()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            self.result = self.conn.execute_command(*self.cmd)
        except redis.RedisError as e:
            self.error = e
        self.at = time.monotonic()

    def done(self):
        return self.at is not None

    def wait(self, timeout=20.0):
        self.thread.join(timeout)
        assert self.done(), "%r not answered within %.1fs" % (self.cmd, timeout)
        return self

    def client_id(self):
        return self.id

    def close(self):
        self.conn.close()


def blocked_clients(node):
    with node.client() as r:
        return int(r.info("clients")["blocked_clients"])


def wait_blocked(node, n, timeout=20.0):
    wait_until(lambda: blocked_clients(node) == n, timeout, "%d blocked clients on node %d" %
               (n, node.id))


def block(node, *cmd, expect=None):
    """Starts cmd on node and waits until node counts it blocked (expect:
    the count then, default one more than before)."""
    before = blocked_clients(node)
    b = Blocked(node, *cmd)
    wait_blocked(node, before + 1 if expect is None else expect)
    assert not b.done(), "%r was answered at once: %r" % (cmd, b.result)
    return b


@pytest.fixture(params=[1, 3], ids=["1node", "3nodes"])
def cluster(request, make_cluster):
    c = make_cluster(request.param)
    c.leader()
    return c


def nodes_of(c):
    """The leader and, with peers, a follower (a proxy-mode follower)."""
    ld = c.leader()
    fs = [n for n in c.nodes if n is not ld]
    return ld, (fs[0] if fs else ld)


# ------------------------------------------------------------ served, woken


def test_blpop_with_elements_is_served_at_once(cluster):
    ld, f = nodes_of(cluster)
    with ld.client() as r:
        r.rpush("k", "a", "b")
    with ld.client() as r:
        assert r.blpop(["nokey", "k"], 5) == (b"k", b"a")
    with f.client() as r:
        assert r.blpop(["k"], 5) == (b"k", b"b")
    with ld.client() as r:
        assert r.llen("k") == 0
    assert blocked_clients(ld) == 0 and blocked_clients(f) == 0


def test_blocked_client_is_woken_by_a_push_from_another_client_on_any_node(cluster):
    ld, f = nodes_of(cluster)
    for waiter_node, pusher_node in ((ld, f), (f, ld), (f, f)):
        b = block(waiter_node, "BRPOP", "q", 0)
        with pusher_node.client() as r:
            r.lpush("q", "x")
        assert b.wait().result == [b"q", b"x"]
        assert b.error is None
        b.close()
    wait_blocked(ld, 0)
    with ld.client() as r:
        assert r.llen("q") == 0


def test_three_clients_on_one_key_are_served_in_the_order_they_blocked(cluster):
    for node in nodes_of(cluster):
        bs = [block(node, "BLPOP", "fifo", 0) for _ in range(3)]
        with cluster.leader().client() as r:
            r.rpush("fifo", "a", "b", "c")
        got = [b.wait().result for b in bs]
        assert got == [[b"fifo", b"a"], [b"fifo", b"b"], [b"fifo", b"c"]]
        for b in bs:
            b.close()


def test_several_keys_are_tried_in_argument_order(cluster):
    ld, f = nodes_of(cluster)
    with ld.client() as r:
        r.rpush("k3", "c")
        r.rpush("k2", "b")
    with f.client() as r:
        assert r.blpop(["k1", "k2", "k3"], 1) == (b"k2", b"b")
        assert r.blpop(["k1", "k2", "k3"], 1) == (b"k3", b"c")
    b = block(f, "BLPOP", "k1", "k2", "k3", 0)
    with ld.client() as r:
        r.rpush("k3", "z")
    assert b.wait().result == [b"k3", b"z"]


def test_a_push_of_two_serves_two_waiters_and_leaves_the_rest(cluster):
    ld, f = nodes_of(cluster)
    bs = [block(f, "BRPOP", "two", 0) for _ in range(3)]
    with ld.client() as r:
        r.rpush("two", "a", "b")
    wait_until(lambda: sum(b.done() for b in bs) == 2, 20, "two waiters served")
    assert [b.result for b in bs[:2]] == [[b"two", b"b"], [b"two", b"a"]]
    assert not bs[2].done()
    wait_blocked(f, 1)
    with ld.client() as r:
        r.rpush("two", "c")
    assert bs[2].wait().result == [b"two", b"c"]


def test_two_clients_blocked_on_different_nodes_and_one_element(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    fs = [n for n in c.nodes if n is not ld]
    b1 = block(fs[0], "BLPOP", "one", 0)
    b2 = block(fs[1], "BLPOP", "one", 0)
    b3 = block(ld, "BLPOP", "one", 0)
    with ld.client() as r:
        r.rpush("one", "x")
    bs = [b1, b2, b3]
    wait_until(lambda: any(b.done() for b in bs), 20, "one waiter served")
    # The losers' attempts find nothing and they stay blocked.
    wait_until(lambda: sum(blocked_clients(n) for n in c.nodes) == 2, 20, "two still blocked")
    assert sum(b.done() for b in bs) == 1
    assert [b.result for b in bs if b.done()] == [[b"one", b"x"]]
    with ld.client() as r:
        assert r.llen("one") == 0
        r.rpush("one", "y", "z")
    for b in bs:
        b.wait()
    assert sorted(b.result[1] for b in bs) == [b"x", b"y", b"z"]


# ------------------------------------------------------------ the other commands


def test_brpoplpush_and_blmove_wake(cluster):
    ld, f = nodes_of(cluster)
    b = block(f, "BRPOPLPUSH", "src", "dst", 0)
    with ld.client() as r:
        r.rpush("src", "a", "b")
    assert b.wait().result == b"b"
    b = block(f, "BLMOVE", "src2", "dst", "LEFT", "LEFT", 0)
    with ld.client() as r:
        r.rpush("src2", "c")
    assert b.wait().result == b"c"
    with ld.client() as r:
        assert r.lrange("dst", 0, -1) == [b"c", b"b"]


def test_blmpop_wakes(cluster):
    ld, f = nodes_of(cluster)
    b = block(f, "BLMPOP", 0, 2, "m1", "m2", "RIGHT", "COUNT", 2)
    with ld.client() as r:
        r.rpush("m2", "a", "b", "c")
    assert b.wait().result == [b"m2", [b"c", b"b"]]


def test_bzpopmin_bzpopmax_and_bzmpop_wake(cluster):
    ld, f = nodes_of(cluster)
    b = block(f, "BZPOPMIN", "z1", "z2", 0)
    with ld.client() as r:
        r.zadd("z2", {"a": 1, "b": 2})
    assert b.wait().result == [b"z2", b"a", b"1"]
    b = block(f, "BZPOPMAX", "z3", 0)
    with ld.client() as r:
        r.zadd("z3", {"x": 5, "y": 7})
    assert b.wait().result == [b"z3", b"y", b"7"]
    b = block(f, "BZMPOP", 0, 1, "z4", "MAX", "COUNT", 5)
    with ld.client() as r:
        r.zadd("z4", {"p": 1, "q": 2})
    assert b.wait().result == [b"z4", [[b"q", b"2"], [b"p", b"1"]]]


# ------------------------------------------------------------ Redis 7.0's details


def test_a_waited_key_that_changes_type_or_is_deleted_keeps_the_client_blocked(cluster):
    ld, f = nodes_of(cluster)
    b = block(f, "BLPOP", "t1", "t2", 0)
    with ld.client() as r:
        r.set("t1", "string")
        r.zadd("t2", {"m": 1})
        r.delete("t2")
        r.rpush("t2", "ok")  # served from t2 although t1 is a string, as in Redis 7.0
    assert b.wait().result == [b"t2", b"ok"]
    # But a key of another type at arrival is WRONGTYPE.
    with f.client() as r:
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            r.blpop(["t1", "t2"], 0)
        r.delete("t1")
    b = block(f, "BLPOP", "t1", 0)
    with ld.client() as r:
        r.set("t1", "x")  # not a list: no wake
    wait_blocked(f, 1)
    with ld.client() as r:
        r.delete("t1")
        r.rpush("t1", "y")
    assert b.wait().result == [b"t1", b"y"]


def test_blpop_inside_multi_does_not_block(cluster):
    ld, f = nodes_of(cluster)
    with f.client() as r:
        p = r.pipeline(transaction=True)
        p.blpop(["empty"], 0)
        p.rpush("empty", "a")
        p.blpop(["empty"], 0)
        t0 = time.monotonic()
        assert p.execute() == [None, 1, (b"empty", b"a")]
        assert time.monotonic() - t0 < 5
    assert blocked_clients(f) == 0


def test_a_pipeline_behind_a_blocked_command_waits(cluster):
    ld, f = nodes_of(cluster)
    s = socket.create_connection(("127.0.0.1", f.port))
    try:
        s.sendall(b"*3\r\n$5\r\nBLPOP\r\n$2\r\npk\r\n$1\r\n0\r\n*1\r\n$4\r\nPING\r\n"
                  b"*1\r\n$4\r\nQUIT\r\n")
        wait_blocked(f, 1)
        s.settimeout(0.3)
        with pytest.raises(socket.timeout):
            s.recv(100)  # neither PING nor QUIT ran
        with ld.client() as r:
            r.rpush("pk", "v")
        s.settimeout(20)
        want = b"*2\r\n$2\r\npk\r\n$1\r\nv\r\n+PONG\r\n+OK\r\n"
        got = b""
        while len(got) < len(want):
            d = s.recv(100)
            if not d:
                break
            got += d
        assert got == want
    finally:
        s.close()


def test_a_client_that_disconnects_while_blocked_is_forgotten(cluster):
    ld, f = nodes_of(cluster)
    s = socket.create_connection(("127.0.0.1", f.port))
    s.sendall(b"*3\r\n$5\r\nBLPOP\r\n$4\r\ngone\r\n$1\r\n0\r\n")
    wait_blocked(f, 1)
    s.close()
    wait_blocked(f, 0)
    with ld.client() as r:
        r.rpush("gone", "kept")
    b2 = Blocked(f, "BLPOP", "gone", 5)
    assert b2.wait().result == [b"gone", b"kept"]


# ------------------------------------------------------------ timeouts


def test_a_fractional_timeout_answers_null_after_it_and_not_much_later(cluster):
    ld, f = nodes_of(cluster)
    for node in (ld, f):
        b = Blocked(node, "BLPOP", "nothing", "0.3")
        b.wait()
        took = b.at - b.started
        assert b.result is None and b.error is None
        assert 0.3 <= took < 0.3 + 0.25, took
    assert blocked_clients(f) == 0


def test_timeout_zero_waits_until_served(cluster):
    ld, f = nodes_of(cluster)
    b = block(f, "BLPOP", "forever", 0)
    t0 = time.monotonic()
    b.thread.join(1.0)  # the property: no answer for a second
    assert not b.done() and time.monotonic() - t0 >= 1.0
    with ld.client() as r:
        r.rpush("forever", "late")
    assert b.wait().result == [b"forever", b"late"]


def test_client_unblock_timeout_and_error(cluster):
    ld, f = nodes_of(cluster)
    for node in (ld, f):
        b = block(node, "BLPOP", "ub", 0)
        with node.client() as r:
            assert r.execute_command("CLIENT", "UNBLOCK", b.client_id(), "TIMEOUT") == 1
            assert b.wait().result is None and b.error is None
            b = block(node, "BRPOP", "ub", 0)
            assert r.execute_command("CLIENT", "UNBLOCK", b.client_id(), "ERROR") == 1
            b.wait()
            assert isinstance(b.error, redis.ResponseError)
            assert str(b.error) == "UNBLOCKED client unblocked via CLIENT UNBLOCK"
            b = block(node, "BRPOP", "ub", 0)
            assert r.execute_command("CLIENT", "UNBLOCK", b.client_id()) == 1
            assert b.wait().result is None
            assert r.execute_command("CLIENT", "UNBLOCK", r.client_id()) == 0
            assert r.execute_command("CLIENT", "UNBLOCK", 999999) == 0
            with pytest.raises(redis.ResponseError, match="TIMEOUT or ERROR"):
                r.execute_command("CLIENT", "UNBLOCK", 1, "LATER")
        assert blocked_clients(node) == 0


def test_blocked_clients_in_info_and_client_list(cluster):
    ld, f = nodes_of(cluster)
    assert blocked_clients(f) == 0
    b1 = block(f, "BLPOP", "i1", 0)
    b2 = block(f, "BZPOPMIN", "i2", 0)
    assert blocked_clients(f) == 2
    with f.client() as r:
        flags = {int(c["id"]): c["flags"] for c in r.client_list()}
        assert flags[b1.client_id()] == "b" and flags[b2.client_id()] == "b"
        assert flags[r.client_id()] == "N"
    with ld.client() as r:
        r.rpush("i1", "x")
        r.zadd("i2", {"m": 1})
    b1.wait()
    b2.wait()
    wait_blocked(f, 0)


def start_redis_server():
    port = testproc.pick_port()
    p = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--save", "", "--appendonly", "no",
                          "--daemonize", "no", "--bind", "127.0.0.1"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True,
                         preexec_fn=testproc.die_with_parent)
    testproc.wait_until(lambda: testproc.answers_ping("127.0.0.1", port), 20, "redis-server")
    return p, port


def raw_reply(port, cmd, proto):
    """The bytes a blocking command's timeout answers, read to the end."""
    s = socket.create_connection(("127.0.0.1", port))
    try:
        s.settimeout(20)
        if proto == 3:
            s.sendall(b"HELLO 3\r\n")
            got = b""
            while b"modules" not in got or not got.endswith(b"*0\r\n"):
                got += s.recv(4096)
        args = cmd.split()
        s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a.encode())
                                                     for a in args) + b"*1\r\n$4\r\nQUIT\r\n")
        out = b""
        while True:
            d = s.recv(4096)
            if not d:
                break
            out += d
        return out
    finally:
        s.close()


def test_timeout_reply_bytes_match_redis_server_in_resp2_and_resp3(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    f = [n for n in c.nodes if n is not ld][0]
    p, port = start_redis_server()
    try:
        for cmd in ("BLPOP k 0.05", "BRPOP k1 k2 0.05", "BLMOVE k d LEFT RIGHT 0.05",
                    "BRPOPLPUSH k d 0.05", "BLMPOP 0.05 1 k LEFT", "BZPOPMIN z 0.05",
                    "BZPOPMAX z 0.05", "BZMPOP 0.05 2 z y MIN COUNT 3"):
            for proto in (2, 3):
                want = raw_reply(port, cmd, proto)
                assert want.startswith(b"*-1\r\n" if proto == 2 else b"_\r\n"), want
                for node in (ld, f):
                    assert raw_reply(node.port, cmd, proto) == want, (cmd, proto, node.id)
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=20)


# ------------------------------------------------------------ a follower, failover


def test_a_follower_forwarding_a_blocked_blpop_keeps_other_writes_flowing(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    f = [n for n in c.nodes if n is not ld][0]

    def incr_latencies(n):
        out = []
        with f.client() as r:
            for i in range(n):
                t0 = time.monotonic()
                r.set("s%d" % i, i)
                r.incr("counter")
                out.append(time.monotonic() - t0)
        return sorted(out)

    base = incr_latencies(100)
    blocked = [block(f, "BLPOP", "never%d" % i, 0) for i in range(5)]
    # Attempts that find nothing keep going through the same connection.
    with ld.client() as r:
        for i in range(5):
            r.rpush("other%d" % i, "x")
    during = incr_latencies(100)
    with f.client() as r:
        assert int(r.get("counter")) == 200
    median_base, median_during = base[50], during[50]
    assert median_during < 3 * median_base + 0.02, (median_base, median_during)
    assert during[-1] < 1.0, during[-1]
    assert not any(b.done() for b in blocked)
    assert blocked_clients(f) == 5


def test_failover_while_blocked_on_a_follower(make_cluster):
    c = make_cluster(3)
    old = c.leader()
    f = [n for n in c.nodes if n is not old][0]
    b = block(f, "BLPOP", "fo", 0)
    old.kill()
    new = c.leader(among=[n for n in c.nodes if n is not old])
    assert blocked_clients(f) == 1 and not b.done()
    with new.client() as r:
        r.rpush("fo", "after")
    assert b.wait().result == [b"fo", b"after"]
    with new.client() as r:
        assert r.llen("fo") == 0


def test_a_client_blocked_on_a_leader_that_steps_down_is_served_through_the_new_one(make_cluster):
    c = make_cluster(3)
    old = c.leader()
    b = block(old, "BLPOP", "sd", 0)
    old.pause()
    try:
        new = c.leader(among=[n for n in c.nodes if n is not old])
    finally:
        old.resume()
    wait_until(lambda: old.role() == "follower" and int(old.raft()["raft_leader_id"]) == new.id,
               20, "the old leader to follow the new one")
    assert not b.done() and blocked_clients(old) == 1
    with new.client() as r:
        r.rpush("sd", "v")
    assert b.wait().result == [b"sd", b"v"]


def test_a_timeout_with_an_attempt_in_flight_waits_for_it_and_served_wins(make_cluster):
    # A long election timeout: the leader is held for longer than the
    # client's timeout, and no election may come meanwhile.
    c = make_cluster(3, args=["--election-timeout", "5000", "--heartbeat-interval", "100"])
    ld = c.leader()
    f = [n for n in c.nodes if n is not ld][0]
    with ld.client() as r:
        r.rpush("inflight", "a")
    with f.client() as r:
        r.ping()  # the follower's proxy connection is set up by the first write
        r.set("warm", 1)
    ld.pause()
    try:
        b = Blocked(f, "BLPOP", "inflight", "0.1")
        time.sleep(0.5)  # the scenario: the leader holds the attempt past the timeout
        assert not b.done()
    finally:
        ld.resume()
    assert b.wait().result == [b"inflight", b"a"]
    assert b.at - b.started >= 0.5
    with ld.client() as r:
        assert r.llen("inflight") == 0


def test_blocked_in_another_database(cluster):
    ld, f = nodes_of(cluster)
    b = Blocked(f, "BLPOP", "dbk", 0, db=3)
    wait_blocked(f, 1)
    with ld.client() as r:
        r.rpush("dbk", "db0")  # another database: no wake
    with ld.client(db=3) as r:
        r.rpush("dbk", "db3")
    assert b.wait().result == [b"dbk", b"db3"]
    with ld.client() as r:
        assert r.lrange("dbk", 0, -1) == [b"db0"]


def raw_served(port, setup, cmd, push, proto):
    """cmd blocks on port (RESP proto), then push runs on setup_port: the
    bytes cmd is answered."""
    s = socket.create_connection(("127.0.0.1", port))
    try:
        s.settimeout(20)
        if proto == 3:
            s.sendall(b"HELLO 3\r\n")
            got = b""
            while not got.endswith(b"*0\r\n"):
                got += s.recv(4096)
        args = cmd.split()
        s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a.encode())
                                                     for a in args) + b"*1\r\n$4\r\nQUIT\r\n")
        setup(push)
        out = b""
        while True:
            d = s.recv(4096)
            if not d:
                break
            out += d
        return out
    finally:
        s.close()


def test_served_reply_bytes_match_redis_server_in_resp2_and_resp3(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    f = [n for n in c.nodes if n is not ld][0]
    p, port = start_redis_server()
    ref = redis.Redis(port=port)
    try:
        cases = [("BLPOP a b 0", ["RPUSH", "b", "x", "y"]),
                 ("BLMOVE s d RIGHT LEFT 0", ["RPUSH", "s", "m"]),
                 ("BLMPOP 0 1 l RIGHT COUNT 2", ["RPUSH", "l", "1", "2", "3"]),
                 ("BZPOPMAX z 0", ["ZADD", "z", "1.5", "p", "2.25", "q"]),
                 ("BZMPOP 0 1 z2 MIN COUNT 2", ["ZADD", "z2", "1", "a", "2", "b"])]
        for cmd, push in cases:
            for proto in (2, 3):
                ref.flushall()

                def on_redis(push):
                    wait_until(lambda: int(ref.info("clients")["blocked_clients"]) == 1, 20,
                               "redis-server to block")
                    ref.execute_command(*push)
                want = raw_served(port, on_redis, cmd, push, proto)
                with ld.client() as r:
                    r.flushall()

                def on_raftkv(push):
                    wait_blocked(f, 1)
                    with ld.client() as r:
                        r.execute_command(*push)
                assert raw_served(f.port, on_raftkv, cmd, push, proto) == want, (cmd, proto)
    finally:
        ref.close()
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=20)


def test_a_follower_in_redirect_mode_answers_moved(make_cluster):
    c = make_cluster(3, args=["--follower-mode", "redirect"])
    ld = c.leader()
    f = [n for n in c.nodes if n is not ld][0]
    with f.client() as r:
        with pytest.raises(redis.ResponseError, match="MOVED"):
            r.blpop(["rk"], 0)
    assert blocked_clients(f) == 0


def test_consumers_on_every_node_pop_each_item_exactly_once(make_cluster):
    c = make_cluster(3)
    c.leader()
    got, lock = [], threading.Lock()

    def consume(node):
        with node.client(socket_timeout=60) as r:
            r.response_callbacks.pop("BRPOP", None)
            while True:
                k, v = r.execute_command("BRPOP", "work", 0)
                if v == b"stop":
                    return
                with lock:
                    got.append(v)

    consumers = [threading.Thread(target=consume, args=(n,), daemon=True)
                 for n in c.nodes for _ in range(2)]
    for t in consumers:
        t.start()
    wait_until(lambda: sum(blocked_clients(n) for n in c.nodes) == 6, 20, "six consumers blocked")
    items = [b"item%d" % i for i in range(300)]
    for i in range(0, len(items), 3):  # producers on every node, some pushes of several
        with c.nodes[i % 3].client() as r:
            r.lpush("work", *items[i:i + 3])
    with c.leader().client() as r:
        r.lpush("work", *[b"stop"] * 6)
    for t in consumers:
        t.join(60)
        assert not t.is_alive(), "a consumer did not finish"
    assert sorted(got) == sorted(items)
    with c.leader().client() as r:
        assert r.llen("work") == 0


def test_a_first_attempt_that_could_not_run_is_retried_as_given(make_cluster):
    c = make_cluster(3)
    old = c.leader()
    fs = [n for n in c.nodes if n is not old]
    with old.client() as r:
        r.set("str", "x")
        r.rpush("lst", "a")
    wait_until(lambda: all(n.client().llen("lst") == 1 for n in fs), 20, "the followers applied")
    old.kill()
    # Sent while the followers still follow the dead leader: the attempts
    # cannot reach it and are tried again once a leader is elected.
    wrong = Blocked(fs[0], "BLPOP", "str", 0)
    served = Blocked(fs[1], "BRPOP", "nothing", "lst", 0)
    assert served.wait(30).result == [b"lst", b"a"]
    wrong.wait(30)
    assert isinstance(wrong.error, redis.ResponseError) and "WRONGTYPE" in str(wrong.error)
