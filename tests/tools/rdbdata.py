"""What the raftkv-rdb and backup tests share: a data set with every type
and encoding redis-server 7.0 writes, a command-level dump of a server's
key space to compare two servers without DUMP, CRC-64/Jones, and running
raftkv-rdb.

  RAFTKV_RDB      path to raftkv-rdb (set by CMake)
  RAFTKV_SERVER   path to raftkv-server (set by CMake)
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "redis-tests"))
import compat  # noqa: E402,F401  (redis-tests/compat.py: servers, clusters)

import redis  # noqa: E402

RDB_TOOL = os.environ.get("RAFTKV_RDB", "")

# Databases the data set writes into.
DBS = (0, 1, 5, 15)
# Keys with an expiry get one this far away (ms): far enough that they live
# through the test, close enough that a wrong unit (s for ms) shows.
FAR_TTL_MS = 3_600_000
# Tolerance comparing two servers' remaining TTLs (the test's own time).
TTL_SLACK_MS = 60_000


def client(srv, db=0):
    return redis.Redis(host=srv.host, port=srv.port, db=db, socket_timeout=30)


def fill(srv, with_streams=True, with_plain_list=False):
    """Every type in every encoding redis-server 7.0 chooses, in the
    databases of DBS; returns {(db, key): expected OBJECT ENCODING} for the
    source side's own check that the encodings were really made."""
    enc = {}
    for db in DBS:
        c = client(srv, db)
        p = "db%d:" % db
        # strings: int, embstr, raw, LZF-compressible, binary, empty, big int
        c.set(p + "int", "12345"); enc[(db, p + "int")] = b"int"
        c.set(p + "negint", "-7"); enc[(db, p + "negint")] = b"int"
        c.set(p + "bigint", "123456789012345"); enc[(db, p + "bigint")] = b"int"
        c.set(p + "emb", "hello"); enc[(db, p + "emb")] = b"embstr"
        c.set(p + "raw", "r" * 50 + "x" * 10 + "".join(chr(65 + i % 26) for i in range(200)))
        enc[(db, p + "raw")] = b"raw"
        c.set(p + "lzf", "abcd" * 5000)
        c.set(p + "bin", bytes(range(256)) * 3)
        c.set(p + "empty", "")
        c.set(b"\x00\xffbinary key\r\n" + p.encode(), b"v\x00v")
        c.set("k" * 300 + p, "long compressible key")  # an LZF-compressed key
        c.set(str(70000 + db), "an integer-encoded key")
        c.setbit(p + "bitmap", 10000, 1)
        c.pfadd(p + "hll", *["e%d" % i for i in range(500)])
        # lists: one listpack node; many nodes
        c.rpush(p + "list:small", "a", "b", "1", "-2", "c" * 30)
        enc[(db, p + "list:small")] = b"quicklist"  # 7.0: every list (listpack nodes)
        c.rpush(p + "list:big", *["element-%d-%s" % (i, "z" * (i % 40)) for i in range(3000)])
        enc[(db, p + "list:big")] = b"quicklist"
        # sets: intset, hashtable
        c.sadd(p + "set:int", 1, 2, 3, -100, 1 << 40)
        enc[(db, p + "set:int")] = b"intset"
        c.sadd(p + "set:str", "x", "y", "z", "w" * 100)
        enc[(db, p + "set:str")] = b"hashtable"
        c.sadd(p + "set:bigint", *range(500))
        enc[(db, p + "set:bigint")] = b"intset"
        c.sadd(p + "set:many", *["m%d" % i for i in range(1000)])
        enc[(db, p + "set:many")] = b"hashtable"
        # sorted sets: listpack, skiplist (many members; a long member)
        c.zadd(p + "zset:small", {"a": 1, "b": 2.5, "c": -3, "d": 1e100, "e": float("inf")})
        enc[(db, p + "zset:small")] = b"listpack"
        c.zadd(p + "zset:big", {"member-%d" % i: i * 0.5 for i in range(500)})
        c.zadd(p + "zset:big", {"ninf": float("-inf")})
        enc[(db, p + "zset:big")] = b"skiplist"
        c.zadd(p + "zset:longmember", {"q" * 100: 7})
        enc[(db, p + "zset:longmember")] = b"skiplist"
        # hashes: listpack, hashtable
        c.hset(p + "hash:small", mapping={"f1": "v1", "f2": "2", "f3": ""})
        enc[(db, p + "hash:small")] = b"listpack"
        c.hset(p + "hash:big", mapping={"field-%d" % i: "value-%d" % i for i in range(1000)})
        enc[(db, p + "hash:big")] = b"hashtable"
        c.hset(p + "hash:longval", mapping={"f": "v" * 100})
        enc[(db, p + "hash:longval")] = b"hashtable"
        # expiries, far in the future, on every type
        for k in (p + "int", p + "raw", p + "list:small", p + "set:int", p + "zset:big", p + "hash:small"):
            c.pexpire(k, FAR_TTL_MS)
        if with_streams:
            c.xadd(p + "stream", {"a": "1"}, id="1-1")
            c.xadd(p + "stream", {"b": "2", "c": "3"}, id="2-1")
            for i in range(200):
                c.xadd(p + "stream", {"f": str(i)})
            c.xgroup_create(p + "stream", "g1", id="0")
            c.xreadgroup("g1", "consumer-a", {p + "stream": ">"}, count=3)
            c.xgroup_create(p + "stream", "g2", id="$")
            c.xdel(p + "stream", "1-1")
            enc[(db, p + "stream")] = b"stream"
        c.close()
    if with_plain_list:
        # A PLAIN quicklist node: an element above the packed threshold
        # (redis-server started with --enable-debug-command yes).
        c = client(srv)
        c.execute_command("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1000")
        c.rpush("db0:list:plain", "small", "P" * 5000, "small2")
        c.execute_command("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1073741824")
        c.close()
    return enc


def check_encodings(srv, enc):
    for (db, key), want in enc.items():
        got = client(srv, db).object("encoding", key)
        assert got == want, "source: %r in db %d is %r, the data set wants %r" % (key, db, got, want)


def keyspace(srv, dbs=range(16)):
    """{(db, key): (type, contents, has_ttl, pttl)} through ordinary commands."""
    out = {}
    for db in dbs:
        c = client(srv, db)
        for key in c.scan_iter(count=1000):
            t = c.type(key)
            if t == b"string":
                v = c.get(key)
            elif t == b"list":
                v = c.lrange(key, 0, -1)
            elif t == b"set":
                v = sorted(c.smembers(key))
            elif t == b"zset":
                v = c.zrange(key, 0, -1, withscores=True)
            elif t == b"hash":
                v = sorted(c.hgetall(key).items())
            elif t == b"stream":
                v = (c.xrange(key), sorted(tuple(_field(g, f) for f in ("name", "pending", "last-delivered-id"))
                                           for g in c.xinfo_groups(key)))
            else:
                v = None
            ttl = c.pttl(key)
            out[(db, key)] = (t, v, ttl >= 0, ttl)
        c.close()
    return out


def _field(d, name):
    return d[name] if name in d else d[name.encode()]


def assert_same_keyspace(a, b, what):
    assert set(a) == set(b), "%s: keys differ: only in the first %r, only in the second %r" % (
        what, sorted(set(a) - set(b))[:10], sorted(set(b) - set(a))[:10])
    for k in a:
        ta, va, ha, pa = a[k]
        tb, vb, hb, pb = b[k]
        assert (ta, ha) == (tb, hb), "%s: %r: type/expiry %r vs %r" % (what, k, (ta, ha), (tb, hb))
        assert va == vb, "%s: %r (%s) contents differ" % (what, k, ta)
        if ha:
            assert abs(pa - pb) < TTL_SLACK_MS, "%s: %r: PTTL %d vs %d" % (what, k, pa, pb)


def rdb_tool(*args, timeout=300):
    if not RDB_TOOL:
        raise RuntimeError("RAFTKV_RDB is not set (path to raftkv-rdb)")
    p = subprocess.run([RDB_TOOL] + [str(a) for a in args], capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def import_into(srv, path, *extra):
    return rdb_tool("import", path, "-h", srv.host, "-p", srv.port, *extra)


def export_from(srv, path, *extra):
    return rdb_tool("export", path, "-h", srv.host, "-p", srv.port, *extra)


def crc64(data, crc=0):
    """CRC-64/Jones as Redis computes it (reflected, init 0, no final xor)."""
    table = _crc_table()
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


_TABLE = []


def _crc_table():
    if not _TABLE:
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x95AC9329AC4BC9B5 if c & 1 else c >> 1
            _TABLE.append(c)
    return _TABLE


def supports(srv, *command):
    """False when the server answers the command with unknown command."""
    try:
        client(srv).execute_command(*command)
    except redis.ResponseError as e:
        if "unknown command" in str(e) or "unknown subcommand" in str(e):
            return False
    return True
