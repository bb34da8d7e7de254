"""DUMP and RESTORE against redis-server 7.0.15, both ways.

- Every type and encoding Redis 7.0 writes (small and large collections,
  integer strings, strings Redis LZF-compresses, listpack integers of
  every width, long elements) is built in redis-server, DUMPed, RESTOREd
  into RaftKV and compared value for value and OBJECT ENCODING for
  OBJECT ENCODING; then built in RaftKV, DUMPed, RESTOREd into redis-server
  and compared the same way.
- Encodings Redis 7.0 only reads (RDB_TYPE_ZSET with text scores,
  ziplists, QUICKLIST with ziplist nodes, LIST_ZIPLIST) are built here by
  hand and RESTOREd into both servers, which must agree.
- Expiry: a relative TTL and ABSTTL.
- Errors, byte for byte against redis-server's replies.
- A 3-node cluster: a RESTORE of a large collection gives every node the
  same key (the same DUMP bytes)."""
import os
import struct
import sys

import pytest
import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat  # noqa: E402


@pytest.fixture(scope="module")
def servers():
    rs = compat.start_redis()
    kv = compat.start_raftkv()
    try:
        yield (redis.Redis(rs.host, rs.port, socket_timeout=20),
               redis.Redis(kv.host, kv.port, socket_timeout=20), rs, kv)
    finally:
        san = kv.sanitizer_report()
        kv.stop()
        rs.stop()
        assert san is None, "sanitizer report:\n" + san


def value(r, key):
    t = r.type(key).decode()
    if t == "string":
        v = r.get(key)
    elif t == "list":
        v = r.lrange(key, 0, -1)
    elif t == "set":
        v = sorted(r.smembers(key))
    elif t == "hash":
        v = sorted(r.hgetall(key).items())
    elif t == "zset":
        v = sorted(r.zrange(key, 0, -1, withscores=True))
    else:
        v = None
    return t, v


def encoding(r, key):
    return r.object("encoding", key)


# name -> commands that build it (run on either server).
def builders():
    b = {}
    for i, s in enumerate([b"hello", b"12", b"-5", b"300", b"70000", b"-2147483648",
                           b"2147483647", b"2147483648", b"-2147483649", b"0123", b"",
                           b"9223372036854775807", b" 1", b"1.5", bytes(range(256))]):
        b["str%d" % i] = [("SET", "k", s)]
    b["str_lzf"] = [("SET", "k", b"abcdefgh" * 500)]
    b["str_lzf_short"] = [("SET", "k", b"x" * 21)]
    b["str_lzf_runs"] = [("SET", "k", b"a" * 1000000)]  # LZF near its largest ratio
    b["str_big"] = [("SET", "k", os.urandom(1 << 20) * 4)]
    b["str_random"] = [("SET", "k", os.urandom(3000))]
    b["list_small"] = [("RPUSH", "k", "a", "b", "1", "2", "-1", "")]
    b["list_ints"] = [("RPUSH", "k", *[str(v) for v in (
        0, 127, 128, -1, -4096, 4095, 4096, -32768, 32767, 32768, -8388608, 8388607,
        8388608, -2147483648, 2147483647, 2147483648, -9223372036854775808,
        9223372036854775807, 12, 13)])]
    b["list_large"] = [("RPUSH", "k", *["element-%d" % i for i in range(3000)])]
    b["list_long_elems"] = [("RPUSH", "k", "x" * 100, "y" * 200, "z" * 5000, "w" * 70000)]
    b["set_intset"] = [("SADD", "k", "1", "2", "3", "-100", "40000")]
    b["set_intset64"] = [("SADD", "k", "1", "9223372036854775807", "-9223372036854775808")]
    b["set_mixed"] = [("SADD", "k", "a", "1", "b")]
    b["set_large"] = [("SADD", "k", *["m%d" % i for i in range(1000)])]
    b["set_large_ints"] = [("SADD", "k", *[str(i) for i in range(600)])]
    b["hash_small"] = [("HSET", "k", "f1", "v1", "f2", "2", "n", "-70000", "e", "")]
    b["hash_large"] = [("HSET", "k", *[x for i in range(1000) for x in ("f%d" % i, "v%d" % i)])]
    b["list_big_compressible"] = [("RPUSH", "k", *[b"z" * 9000] * 50)]
    b["hash_long_value"] = [("HSET", "k", "f", "v" * 100, "g", "1")]
    b["zset_small"] = [("ZADD", "k", "1", "a", "2.5", "b", "-3", "c", "inf", "d", "-inf", "e",
                        "1e300", "f", "0.1", "g")]
    b["zset_large"] = [("ZADD", "k", *[x for i in range(300) for x in (str(i * 1.25), "m%d" % i)])]
    b["zset_long_member"] = [("ZADD", "k", "1", "m" * 100, "2", "n")]
    return b


BUILDERS = builders()


def build(r, name):
    r.delete("k")
    for cmd in BUILDERS[name]:
        r.execute_command(*cmd)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_redis_dump_restores_in_raftkv(servers, name):
    rd, kv, _, _ = servers
    build(rd, name)
    payload = rd.dump("k")
    kv.delete("k")
    assert kv.restore("k", 0, payload) in (True, b"OK")
    assert value(kv, "k") == value(rd, "k")
    assert encoding(kv, "k") == encoding(rd, "k")


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_raftkv_dump_restores_in_redis(servers, name):
    rd, kv, _, _ = servers
    build(kv, name)
    payload = kv.dump("k")
    rd.delete("k")
    assert rd.restore("k", 0, payload) in (True, b"OK")
    assert value(rd, "k") == value(kv, "k")
    assert encoding(rd, "k") == encoding(kv, "k")
    # And back: RaftKV's own DUMP restores in RaftKV.
    kv.delete("k2")
    assert kv.restore("k2", 0, payload) in (True, b"OK")
    assert value(kv, "k2") == value(kv, "k")


def test_raftkv_dump_of_strings_is_redis_dump(servers):
    """Strings Redis does not compress DUMP to the same bytes."""
    rd, kv, _, _ = servers
    for s in [b"hello", b"12", b"-5", b"70000", b"2147483648", b"", b"x" * 20, b"0123"]:
        rd.set("k", s)
        kv.set("k", s)
        assert kv.dump("k") == rd.dump("k"), s


def test_dump_of_missing_key_is_nil(servers):
    _, kv, _, _ = servers
    kv.delete("nokey")
    assert kv.dump("nokey") is None


def test_expiry_relative_and_absttl(servers):
    rd, kv, _, _ = servers
    rd.set("k", "v")
    payload = rd.dump("k")
    kv.delete("k", "k2")
    assert kv.restore("k", 100000, payload) in (True, b"OK")
    assert 99000 <= kv.pttl("k") <= 100000
    when = int(kv.time()[0]) * 1000 + 50000
    assert kv.restore("k2", when, payload, absttl=True) in (True, b"OK")
    assert 48000 <= kv.pttl("k2") <= 50000
    # An absolute time in the past: OK, and no key; REPLACE of an existing
    # key with it deletes the key, as in Redis.
    kv.delete("k3")
    assert kv.restore("k3", 1, payload, absttl=True) in (True, b"OK")
    assert kv.exists("k3") == 0
    kv.set("k3", "old")
    assert kv.restore("k3", 1, payload, absttl=True, replace=True) in (True, b"OK")
    assert kv.exists("k3") == 0
    # DUMP does not carry the TTL; RESTORE with 0 gives none.
    kv.delete("k4")
    assert kv.restore("k4", 0, kv.dump("k")) in (True, b"OK")
    assert kv.pttl("k4") == -1


def test_replace_keeps_nothing_of_the_old_key(servers):
    rd, kv, _, _ = servers
    build(rd, "hash_small")
    payload = rd.dump("k")
    kv.delete("k")
    kv.rpush("k", "x", "y")
    kv.pexpire("k", 100000)
    assert kv.restore("k", 0, payload, replace=True) in (True, b"OK")
    assert value(kv, "k") == value(rd, "k")
    assert kv.pttl("k") == -1


def ziplist(entries):
    """A ziplist (Redis < 7.0's compact encoding) of bytes / int entries."""
    body = b""
    prev = 0
    last = 10
    for e in entries:
        if isinstance(e, int):
            if 0 <= e <= 12:
                enc = bytes([0xF1 + e])
            elif -128 <= e <= 127:
                enc = b"\xfe" + struct.pack("<b", e)
            elif -32768 <= e <= 32767:
                enc = b"\xc0" + struct.pack("<h", e)
            elif -(1 << 23) <= e < (1 << 23):
                enc = b"\xf0" + struct.pack("<i", e)[:3]
            elif -(1 << 31) <= e < (1 << 31):
                enc = b"\xd0" + struct.pack("<i", e)
            else:
                enc = b"\xe0" + struct.pack("<q", e)
        else:
            n = len(e)
            if n < 64:
                enc = bytes([n]) + e
            elif n < 16384:
                enc = bytes([0x40 | (n >> 8), n & 0xFF]) + e
            else:
                enc = b"\x80" + struct.pack(">I", n) + e
        pl = bytes([prev]) if prev < 254 else b"\xfe" + struct.pack("<I", prev)
        ent = pl + enc
        last = 10 + len(body)
        body += ent
        prev = len(ent)
    total = 10 + len(body) + 1
    return struct.pack("<IIH", total, last, len(entries)) + body + b"\xff"


def rdb_len(n):
    if n < 64:
        return bytes([n])
    if n < 16384:
        return bytes([0x40 | (n >> 8), n & 0xFF])
    return b"\x80" + struct.pack(">I", n)


def rdb_str(s):
    return rdb_len(len(s)) + s


CRC_TABLE = []


def crc64(data):
    if not CRC_TABLE:
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x95AC9329AC4BC9B5 if c & 1 else c >> 1
            CRC_TABLE.append(c)
    crc = 0
    for b in data:
        crc = CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def payload(value, version=10):
    body = value + struct.pack("<H", version)
    return body + struct.pack("<Q", crc64(body))


def test_crc64_is_redis_crc64():
    assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA


OLD = {
    "zset_text_scores": bytes([3]) + rdb_len(3) + rdb_str(b"a") + b"\x031.5" + rdb_str(b"b")
    + b"\xfe" + rdb_str(b"c") + b"\xff",
    "list_ziplist": bytes([10]) + rdb_str(ziplist([b"a", 5, -3, 300, 70000, 1 << 40, b"x" * 300])),
    "hash_ziplist": bytes([13]) + rdb_str(ziplist([b"f", b"v", b"n", 12, b"m", -200])),
    "zset_ziplist": bytes([12]) + rdb_str(ziplist([b"a", 1, b"b", b"2.5", b"c", -7])),
    "quicklist_ziplist": bytes([14]) + rdb_len(2) + rdb_str(ziplist([b"a", b"b", 3]))
    + rdb_str(ziplist([b"c", 100000])),
    "plain_list": bytes([1]) + rdb_len(3) + rdb_str(b"a") + rdb_str(b"b") + rdb_str(b"c"),
    "plain_set": bytes([2]) + rdb_len(2) + rdb_str(b"a") + rdb_str(b"7"),
    "plain_hash": bytes([4]) + rdb_len(1) + rdb_str(b"f") + rdb_str(b"v"),
    "quicklist2_plain_node": bytes([18]) + rdb_len(1) + rdb_len(1) + rdb_str(b"p" * 10),
}


@pytest.mark.parametrize("name", sorted(OLD))
def test_old_encodings_restore_alike(servers, name):
    rd, kv, _, _ = servers
    p = payload(OLD[name])
    rd.delete("k")
    kv.delete("k")
    assert rd.restore("k", 0, p) in (True, b"OK")
    assert kv.restore("k", 0, p) in (True, b"OK")
    assert value(kv, "k") == value(rd, "k")


def raw(server, *args):
    c = compat.Conn(server.host, server.port)
    try:
        return c.call(*args).raw
    finally:
        c.close()


def test_errors_as_redis(servers):
    rd, kv, rs, ks = servers
    rd.set("src", "v")
    good = rd.dump("src")
    bad_crc = good[:-1] + bytes([good[-1] ^ 1])
    v11 = payload(good[:-10], version=11)
    cases = [
        ("RESTORE", "busy", "0", good),
        ("RESTORE", "new", "-1", good),
        ("RESTORE", "new", "abc", good),
        ("RESTORE", "new", "0", bad_crc),
        ("RESTORE", "new", "0", v11),
        ("RESTORE", "new", "0", b"short"),
        ("RESTORE", "new", "0", payload(bytes([1, 0]))),  # an empty list
        ("RESTORE", "new", "0", payload(bytes([15, 0]))),  # a stream
        ("RESTORE", "new", "0", payload(bytes([0, 5]) + b"ab")),  # runs into the footer: OK
        ("RESTORE", "new2", "0", payload(bytes([0, 20]) + b"ab")),  # truncated
        ("RESTORE", "new3", "0", payload(bytes([0, 0xC3, 3, 10]) + b"\x01ab")),  # bad LZF
        ("RESTORE", "new", "0", payload(bytes([2, 2]) + rdb_str(b"a") + rdb_str(b"a"))),  # dup
        ("RESTORE", "new", "0", payload(bytes([11]) + rdb_str(b"\x03\x00\x00\x00\x01\x00\x00\x00x"))),
        ("RESTORE", "new", "0", good, "IDLETIME", "-1"),
        ("RESTORE", "new", "0", good, "IDLETIME", "x"),
        ("RESTORE", "new", "0", good, "FREQ", "256"),
        ("RESTORE", "new", "0", good, "IDLETIME", "1", "FREQ", "1"),
        ("RESTORE", "new", "0", good, "NOPE"),
        ("RESTORE", "new", "0", good, "IDLETIME"),
        ("RESTORE", "new", "0"),
        ("DUMP",),
        ("DUMP", "a", "b"),
    ]
    for s in (rd, kv):
        s.set("busy", "x")
        s.delete("new", "new2", "new3")
    for args in cases:
        want = raw(rs, *args)
        got = raw(ks, *args)
        assert got == want, args
    # Options Redis accepts and RaftKV takes as given.
    for s in (rs, ks):
        assert raw(s, "RESTORE", "i", "0", good, "IDLETIME", "5", "REPLACE") == b"+OK\r\n"
        assert raw(s, "RESTORE", "f", "0", good, "FREQ", "5", "REPLACE") == b"+OK\r\n"
    assert kv.object("idletime", "i") == 0


def test_restore_of_a_large_collection_is_the_same_on_every_node():
    cluster = compat.start_raftkv_cluster(3)
    rs = compat.start_redis()
    try:
        rd = redis.Redis(rs.host, rs.port, socket_timeout=20)
        rd.zadd("big", {"member-%d" % i: i / 3 for i in range(20000)})
        p = rd.dump("big")
        ld = cluster.leader()
        c = redis.Redis(ld.host, ld.port, socket_timeout=30)
        assert c.restore("big", 0, p) in (True, b"OK")
        want = c.dump("big")
        assert value(c, "big") == value(rd, "big")
        # The same payload through a follower (forwarded to the leader).
        f = cluster.followers()[0]
        fc = redis.Redis(f.host, f.port, socket_timeout=30)
        assert fc.restore("big2", 0, p) in (True, b"OK")
        for nd in cluster.nodes:
            r = redis.Redis(nd.host, nd.port, socket_timeout=30)
            compat.wait_until(lambda: r.dump("big") == want and r.dump("big2") == want, 20,
                              "node %d to apply the RESTOREs" % nd.id)
            assert r.zcard("big") == 20000
            assert r.object("encoding", "big") == b"skiplist"
    finally:
        san = cluster.sanitizer_report()
        bad = cluster.stop()
        rs.stop()
        assert san is None, "sanitizer report:\n" + san
        assert not bad, "nodes %s did not stop cleanly" % bad


def test_restore_notifies_as_redis(servers):
    """Keyspace events of RESTORE: "restore"; of a REPLACE with a TTL
    already past: "del" of the old key."""
    rd, kv, _, _ = servers
    rd.set("src", "v")
    good = rd.dump("src")
    got = {}
    for name, r in (("redis", rd), ("raftkv", kv)):
        r.config_set("notify-keyspace-events", "KEA")
        p = r.pubsub()
        p.psubscribe("__keyevent@0__:*")
        compat.wait_until(lambda: p.get_message(timeout=0.1) is not None, 10, "psubscribe")
        r.delete("n1")
        r.set("n2", "old")
        r.restore("n1", 0, good)
        r.restore("n2", 1, good, absttl=True, replace=True)
        r.set("end", "1")
        msgs = []

        def done():
            m = p.get_message(timeout=0.1)
            if m and m["type"] == "pmessage":
                msgs.append((m["channel"], m["data"]))
            return msgs and msgs[-1][1] == b"end"

        compat.wait_until(done, 10, "the events of " + name)
        got[name] = msgs
        p.close()
        r.config_set("notify-keyspace-events", "")
    assert (b"__keyevent@0__:restore", b"n1") in got["redis"]
    assert got["raftkv"] == got["redis"]


def test_restore_and_dump_inside_multi(servers):
    rd, kv, rs, ks = servers
    build(rd, "zset_small")
    p = rd.dump("k")
    for s in (rs, ks):
        c = compat.Conn(s.host, s.port)
        try:
            c.call("DEL", "m")
            c.send(compat.encode("MULTI") + compat.encode("RESTORE", "m", "0", p)
                   + compat.encode("ZRANGE", "m", "0", "-1", "WITHSCORES")
                   + compat.encode("RESTORE", "m", "0", p) + compat.encode("EXEC"))
            got = [c.read().raw for _ in range(5)]
        finally:
            c.close()
        if s is rs:
            want = got
    assert got == want
