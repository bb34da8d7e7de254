"""MIGRATE against redis-server 7.0.15: the same migrations run with
redis-server as the source and with RaftKV as the source must give the
same replies byte for byte, and leave the same keys on both sides.

- RaftKV -> redis-server, redis-server -> RaftKV, RaftKV -> RaftKV: every
  type, with and without a TTL.
- The KEYS form, COPY, REPLACE, BUSYKEY relayed (the keys the target
  accepted are deleted, the other stays), NOKEY, syntax errors.
- AUTH and AUTH2 to a password-protected target, a wrong password relayed.
- A target that accepts and never answers (a socket server here): -IOERR
  after the timeout; a port nobody listens on and a host name that does not
  resolve: -IOERR; nothing deleted.
- A 3-node source cluster, MIGRATE sent to a follower (forwarded to the
  leader): the keys reach the target and vanish on every node."""
import os
import socket
import sys
import threading

import pytest
import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat  # noqa: E402

H = compat.HOST


def raw(server, *args):
    c = compat.Conn(server.host, server.port)
    try:
        return c.call(*args).raw
    finally:
        c.close()


@pytest.fixture(scope="module")
def servers():
    started = []
    try:
        for kind in ("redis", "redis", "raftkv", "raftkv"):
            started.append(compat.start_redis() if kind == "redis" else compat.start_raftkv())
        yield started
    finally:
        reports = [s.sanitizer_report() for s in started if s.kind == "raftkv"]
        for s in started:
            s.stop()
        bad = [r for r in reports if r]
        assert not bad, "sanitizer report:\n" + "\n".join(bad)


BUILD = [
    ("SET", "s", "hello"),
    ("SET", "n", "12345"),
    ("SET", "big", "x" * 100000),
    ("SET", "ttl", "v", "PX", "100000"),
    ("RPUSH", "l", "a", "b", "1", ""),
    ("SADD", "st", "a", "b", "3"),
    ("HSET", "h", "f1", "v1", "f2", "2"),
    ("ZADD", "z", "1", "a", "2.5", "b"),
    ("RPUSH", "lbig", *["e%d" % i for i in range(500)]),
]
KEYS = ["s", "n", "big", "ttl", "l", "st", "h", "z", "lbig"]


def value(r, key):
    t = r.type(key).decode()
    if t == "string":
        return t, r.get(key)
    if t == "list":
        return t, r.lrange(key, 0, -1)
    if t == "set":
        return t, sorted(r.smembers(key))
    if t == "hash":
        return t, sorted(r.hgetall(key).items())
    if t == "zset":
        return t, r.zrange(key, 0, -1, withscores=True)
    return t, None


def state(s):
    r = redis.Redis(s.host, s.port, socket_timeout=20)
    out = {}
    for db in (0, 3):
        r.execute_command("SELECT", db)
        for k in sorted(r.keys("*")):
            ttl = r.pttl(k)
            out[(db, k)] = (value(r, k), ttl > 0)
    r.close()
    return out


def flush(*servers):
    for s in servers:
        assert raw(s, "FLUSHALL") == b"+OK\r\n"


def scenario(src, dst):
    """The migrations; returns the replies and both sides' keys."""
    flush(src, dst)
    r = redis.Redis(src.host, src.port, socket_timeout=20)
    for c in BUILD:
        r.execute_command(*c)
    d = redis.Redis(dst.host, dst.port, socket_timeout=20)
    d.set("busy", "old")
    d.execute_command("SELECT", 3)
    d.set("busy3", "old")
    r.set("busy", "new")
    r.set("busy3", "new")
    r.set("copied", "c")
    r.set("other", "o")
    p, out = str(dst.port), []
    for args in [
        (H, p, "s", "0", "5000"),
        (H, p, "", "0", "5000", "KEYS", "n", "big", "missing", "ttl"),
        (H, p, "", "3", "5000", "KEYS", "l", "st", "h", "z", "lbig"),
        (H, p, "nokey", "0", "5000"),
        (H, p, "", "0", "5000", "KEYS", "nokey1", "nokey2"),
        (H, p, "copied", "0", "5000", "COPY"),
        (H, p, "", "0", "5000", "KEYS", "other", "busy"),  # BUSYKEY: other moves, busy stays
        (H, p, "busy3", "3", "5000", "REPLACE"),
        (H, p, "copied", "0", "5000", "COPY"),  # BUSYKEY now
        (H, p, "copied", "0", "5000", "COPY", "REPLACE"),
        (H, p, "copied", "99", "5000"),  # the target refuses SELECT 99
    ]:
        out.append((args, raw(src, "MIGRATE", *args)))
    r.close()
    d.close()
    return out, state(src), state(dst)


def check_same(got, want):
    for (args, g), (_, w) in zip(got[0], want[0]):
        assert g == w, "MIGRATE %s: %r, redis-server %r" % (args, g, w)
    assert got[1] == want[1], "source keys differ"
    assert got[2] == want[2], "target keys differ"


def test_migrations_reply_and_move_as_redis(servers):
    rs, rs2, kv, kv2 = servers
    want = scenario(rs, rs2)
    assert want[0][0][1] == b"+OK\r\n"
    assert (0, b"busy") in want[1] and (0, b"other") not in want[1]
    check_same(scenario(kv, rs2), want)  # RaftKV -> redis-server
    check_same(scenario(rs, kv2), want)  # redis-server -> RaftKV
    check_same(scenario(kv, kv2), want)  # RaftKV -> RaftKV


def test_a_ttl_travels(servers):
    rs, rs2, kv, kv2 = servers
    for src, dst in ((kv, rs2), (rs, kv2), (kv, kv2)):
        flush(src, dst)
        r = redis.Redis(src.host, src.port)
        r.set("t", "v", px=100000)
        assert raw(src, "MIGRATE", H, str(dst.port), "t", "0", "5000") == b"+OK\r\n"
        ttl = redis.Redis(dst.host, dst.port).pttl("t")
        assert 90000 < ttl <= 100000, ttl
        assert r.exists("t") == 0


def test_errors_as_redis(servers):
    rs, rs2, kv, kv2 = servers
    cases = [
        ("MIGRATE", H, "1", "k", "0", "100", "BOGUS"),
        ("MIGRATE", H, "1", "k", "0", "100", "AUTH"),
        ("MIGRATE", H, "1", "k", "0", "100", "AUTH2", "u"),
        ("MIGRATE", H, "1", "k", "0", "100", "KEYS", "a"),
        ("MIGRATE", H, "1", "k", "x", "100"),
        ("MIGRATE", H, "1", "k", "0", "x"),
        ("MIGRATE", H, "1", "k", "0", "99999999999999999999"),
        ("MIGRATE", H, "1", "k", "0"),
        ("MIGRATE", H, "1", "", "0", "100", "KEYS"),
        ("MIGRATE", H, "1", "nokey", "0", "100"),
    ]
    for c in cases:
        assert raw(kv, *c) == raw(rs, *c), c


def test_auth_to_a_protected_target(servers):
    rs, rs2, kv, kv2 = servers
    target = compat.Server("redis", ["--requirepass", "pw"]).start()
    try:
        t = redis.Redis(target.host, target.port, password="pw")
        for src in (rs, kv):
            flush(src)
            t.flushall()
            r = redis.Redis(src.host, src.port)
            r.mset({"a": "1", "b": "2", "c": "3", "d": "4"})
            p = str(target.port)
            # The refused ones first: redis-server keeps an authenticated
            # connection to a target for 10 s, RaftKV connects every time.
            got = [raw(src, "MIGRATE", H, p, "c", "0", "5000", "AUTH", "wrong"),
                   raw(src, "MIGRATE", H, p, "d", "0", "5000"),
                   raw(src, "MIGRATE", H, p, "a", "0", "5000", "AUTH", "pw"),
                   raw(src, "MIGRATE", H, p, "b", "0", "5000", "AUTH2", "default", "pw")]
            assert got[0].startswith(b"-ERR Target instance replied with error: WRONGPASS"), got
            assert got[1].startswith(b"-ERR Target instance replied with error: NOAUTH"), got
            assert got[2:] == [b"+OK\r\n", b"+OK\r\n"], got
            if src is rs:
                want = got
            else:
                assert got == want
            assert sorted(r.keys("*")) == [b"c", b"d"]
            assert t.mget("a", "b", "c", "d") == [b"1", b"2", None, None]
    finally:
        target.stop()


class Silent:
    """A port that accepts connections and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind((H, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        self.sock.settimeout(0.1)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.t.join(5)
        for c in self.conns:
            c.close()
        self.sock.close()


def test_timeout_and_unreachable_delete_nothing(servers):
    rs, rs2, kv, kv2 = servers
    silent = Silent()
    closed = compat.pick_port()
    try:
        for src in (rs, kv):
            flush(src)
            r = redis.Redis(src.host, src.port, socket_timeout=20)
            r.set("k", "v")
            got = raw(src, "MIGRATE", H, str(silent.port), "k", "0", "300")
            assert got == b"-IOERR error or timeout reading to target instance\r\n", got
            # Refused: Redis's blocking connect "succeeds" and the write fails.
            got = raw(src, "MIGRATE", H, str(closed), "k", "0", "300")
            assert got == b"-IOERR error or timeout writing to target instance\r\n", got
            # An address that does not resolve: no socket at all.
            got = raw(src, "MIGRATE", "no-such-host.invalid", "1", "k", "0", "300")
            assert got == b"-IOERR error or timeout connecting to the client\r\n", got
            assert r.get("k") == b"v"
            # The connection still works, and a pipeline behind MIGRATE waits for it.
            c = compat.Conn(src.host, src.port)
            c.send(compat.encode("MIGRATE", H, str(silent.port), "k", "0", "200") +
                   compat.encode("GET", "k"))
            assert c.read().raw.startswith(b"-IOERR")
            assert c.read().raw == b"$1\r\nv\r\n"
            c.close()
    finally:
        silent.close()


def test_a_client_that_leaves_mid_migration_is_forgotten(servers):
    rs, rs2, kv, kv2 = servers
    silent = Silent()
    try:
        flush(kv)
        r = redis.Redis(kv.host, kv.port, socket_timeout=20)
        r.set("k", "v")
        c = compat.Conn(kv.host, kv.port)
        c.send(compat.encode("MIGRATE", H, str(silent.port), "k", "0", "300"))
        compat.wait_until(lambda: silent.conns, 10, "MIGRATE to connect")
        c.close()
        # The server goes on; the key stays.
        compat.wait_until(lambda: r.ping(), 10, "the server")
        assert r.get("k") == b"v"
    finally:
        silent.close()


def test_migrate_through_a_follower_removes_the_keys_everywhere(servers):
    rs = servers[1]
    cluster = compat.start_raftkv_cluster(3)
    try:
        flush(rs)
        ld = cluster.leader()
        lr = redis.Redis(ld.host, ld.port, socket_timeout=20)
        lr.mset({"a": "1", "b": "2"})
        lr.rpush("l", "x", "y")
        f = cluster.followers()[0]
        got = raw(f, "MIGRATE", H, str(rs.port), "", "0", "5000", "KEYS", "a", "l", "none")
        assert got == b"+OK\r\n", got
        t = redis.Redis(rs.host, rs.port)
        assert t.get("a") == b"1" and t.lrange("l", 0, -1) == [b"x", b"y"]
        # A write pipelined before MIGRATE on the leader is applied first;
        # a read pipelined after it sees the key gone.
        c = compat.Conn(ld.host, ld.port)
        c.send(compat.encode("SET", "p", "pv") +
               compat.encode("MIGRATE", H, str(rs.port), "p", "0", "5000") +
               compat.encode("EXISTS", "p"))
        assert [c.read().raw for _ in range(3)] == [b"+OK\r\n", b"+OK\r\n", b":0\r\n"]
        c.close()
        assert t.get("p") == b"pv"
        for nd in cluster.nodes:
            n = redis.Redis(nd.host, nd.port, socket_timeout=20)
            n.execute_command("READONLY")
            compat.wait_until(lambda: n.exists("a", "l") == 0, 20,
                              "node %d to apply the DEL" % nd.id)
            assert n.get("b") == b"2"
            n.close()
    finally:
        san = cluster.sanitizer_report()
        bad = cluster.stop()
        assert san is None, "sanitizer report:\n" + san
        assert not bad, "nodes %s did not stop cleanly" % bad


def test_a_redirect_mode_follower_answers_moved(servers):
    rs = servers[1]
    cluster = compat.start_raftkv_cluster(3, ["--follower-mode", "redirect"])
    try:
        ld = cluster.leader()
        redis.Redis(ld.host, ld.port, socket_timeout=20).set("k", "v")
        f = cluster.followers()[0]
        slot = redis.Redis(ld.host, ld.port).execute_command("CLUSTER", "KEYSLOT", "k")
        got = raw(f, "MIGRATE", H, str(rs.port), "k", "0", "5000")
        assert got == b"-MOVED %d %s:%d\r\n" % (slot, H.encode(), ld.port), got
        got = raw(f, "MIGRATE", H, str(rs.port), "", "0", "5000", "KEYS", "k")
        assert got == b"-MOVED %d %s:%d\r\n" % (slot, H.encode(), ld.port), got
    finally:
        san = cluster.sanitizer_report()
        bad = cluster.stop()
        assert san is None, "sanitizer report:\n" + san
        assert not bad, "nodes %s did not stop cleanly" % bad
