#!/usr/bin/python3
"""Differential test of keyspace notifications: the same command sequences
on redis-server 7.0.15 and on RaftKV, with notify-keyspace-events set and a
subscriber on PSUBSCRIBE __key*__:*; the (channel, message) streams must be
identical, case by case.

  /usr/bin/python3 diff_notify.py [--verbose] [CASE...]
  /usr/bin/python3 diff_notify.py --redis-vs-redis
  /usr/bin/python3 diff_notify.py --cluster [--follower-mode proxy|redirect]

Each case starts from an empty key space (FLUSHALL emits no event), sets its
classes (CONFIG SET notify-keyspace-events, default KEA) when they change,
runs its commands on one connection, then PUBLISHes a sentinel message; the
subscriber's events up to the sentinel are the case's stream. A step
("WAIT", event, key) instead reads the subscriber until that keyevent arrives (the
expiry of a key is timed by the server: active expiry on redis-server, an
expire entry on RaftKV), with a deadline. The command replies are compared
too.

--redis-vs-redis puts a second redis-server in RaftKV's place (the tool's
self-check). --cluster makes the RaftKV side a 3-node cluster: the
commands and CONFIG SET go through a follower (proxy mode forwards them),
and a subscriber on every node must see exactly redis-server's stream:
every node emits the same events in the same order, since each comes from
applying the log.

Exit status 0 when every stream matches, 1 otherwise.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat  # noqa: E402

SENTINEL = "diff-notify-sentinel"
UNORDERED = {"SPOP", "SMEMBERS"}
PATTERN = "__key*__:*"
WAIT_DEADLINE = 15.0

# (name, classes, steps). A step is a command (a tuple of arguments) or
# ("WAIT", event, key).
CASES = [
    ("string", "KEA", [
        ("SET", "s", "v"),
        ("SET", "s", "v", "NX"),
        ("SET", "s", "w", "XX", "EX", "100"),
        ("SET", "s", "w", "KEEPTTL", "GET"),
        ("SETNX", "s2", "x"),
        ("SETEX", "s3", "10", "x"),
        ("PSETEX", "s4", "10000", "x"),
        ("GETSET", "s4", "y"),
        ("MSET", "m1", "1", "m2", "2"),
        ("MSETNX", "m1", "1", "m3", "3"),
        ("MSETNX", "m4", "1", "m5", "3"),
        ("INCR", "m1"), ("DECR", "m1"), ("INCRBY", "m1", "5"), ("DECRBY", "m1", "2"),
        ("INCRBYFLOAT", "m1", "1.5"),
        ("INCR", "s"),
        ("APPEND", "s", "tail"), ("APPEND", "new", "x"),
        ("SETRANGE", "s", "1", "zz"), ("SETRANGE", "s", "0", ""), ("SETRANGE", "r", "3", "x"),
        ("GETEX", "s", "PERSIST"), ("GETEX", "s", "PERSIST"), ("GETEX", "s", "EX", "50"),
        ("GETEX", "s", "PXAT", "1"), ("GETEX", "nosuch", "EX", "5"),
        ("GETDEL", "m2"), ("GETDEL", "m2"),
        ("GET", "nosuch"), ("STRLEN", "s2"),
        ("SETEX", "s4", "0", "v"),
    ]),
    ("bits_and_hll", "KEA", [
        ("SETBIT", "b", "7", "1"), ("SETBIT", "b", "7", "1"), ("GETBIT", "b", "7"),
        ("PFADD", "h", "a", "b", "c"), ("PFADD", "h", "a"), ("PFADD", "h2"),
        ("PFMERGE", "h3", "h", "h2"), ("PFCOUNT", "h"),
        ("BITOP", "AND", "d", "b", "nosuch"), ("BITOP", "NOT", "d", "b"), ("BITOP", "OR", "d", "nosuch"),
        ("BITOP", "OR", "d", "nosuch"), ("HSET", "hh", "f", "v"), ("BITOP", "XOR", "hh", "b"),
        ("BITFIELD", "f", "SET", "u8", "0", "1"), ("BITFIELD", "f", "SET", "u8", "0", "1", "INCRBY", "u8", "0", "1"),
        ("BITFIELD", "f", "GET", "u8", "0"), ("BITFIELD_RO", "f", "GET", "u8", "0"),
        ("BITFIELD", "g", "OVERFLOW", "FAIL", "SET", "u8", "0", "300"),
        ("BITFIELD", "f", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "-100"),
    ]),
    ("keyspace", "KEA", [
        ("SET", "a", "1"), ("SET", "b", "2"),
        ("RENAME", "a", "c"), ("RENAME", "c", "c"), ("RENAME", "c", "b"),
        ("RENAMENX", "b", "d"), ("SET", "e", "1"), ("RENAMENX", "d", "e"),
        ("COPY", "d", "f"), ("COPY", "d", "f"), ("COPY", "d", "f", "REPLACE"), ("COPY", "d", "g", "DB", "2"),
        ("MOVE", "f", "3"), ("MOVE", "e", "3"), ("MOVE", "nosuch", "3"),
        ("DEL", "d", "e", "nosuch"), ("UNLINK", "g"), ("EXISTS", "g"),
        ("RPUSH", "l", "x"), ("RENAME", "l", "l2"),
        ("SWAPDB", "0", "1"), ("SWAPDB", "0", "1"), ("FLUSHDB",),
    ]),
    ("expire", "KEA", [
        ("SET", "k", "v"),
        ("EXPIRE", "k", "100"), ("EXPIRE", "k", "100", "NX"), ("EXPIRE", "k", "200", "GT"),
        ("PEXPIRE", "k", "500000"), ("EXPIREAT", "k", "4000000000"), ("PEXPIREAT", "k", "4000000000000"),
        ("PERSIST", "k"), ("PERSIST", "k"), ("EXPIRE", "nosuch", "10"),
        ("EXPIRE", "k", "-1"), ("SET", "k", "v"), ("PEXPIREAT", "k", "1"),
        ("SET", "t", "v", "PX", "30"), ("WAIT", "expired", "t"),
        ("HSET", "th", "f", "v"), ("PEXPIRE", "th", "30"), ("WAIT", "expired", "th"),
        ("ZADD", "z", "1", "a"), ("EXPIRE", "z", "-5"), ("SADD", "s", "a"), ("EXPIREAT", "s", "1"),
        # A time already past: redis-server stores the key and expires it
        # later, RaftKV at once; the events are the same.
        ("SET", "past", "v", "PXAT", "1"), ("WAIT", "expired", "past"),
        ("SET", "k", "v"), ("SET", "k", "w", "EXAT", "1"), ("WAIT", "expired", "k"),
    ]),
    ("hash", "KEA", [
        ("HSET", "h", "f", "v", "g", "w"), ("HSET", "h", "f", "v"), ("HMSET", "h", "x", "1"),
        ("HSETNX", "h", "f", "v"), ("HSETNX", "h", "n", "v"),
        ("HINCRBY", "h", "x", "2"), ("HINCRBY", "h", "f", "1"), ("HINCRBYFLOAT", "h", "x", "0.5"),
        ("HDEL", "h", "nosuch"), ("HDEL", "h", "f", "g"), ("HDEL", "h", "x", "n"),
        ("HGET", "h", "x"),
    ]),
    ("list", "KEA", [
        ("RPUSH", "l", "a", "b", "c"), ("LPUSH", "l", "z"), ("LPUSHX", "l", "y"), ("RPUSHX", "l", "w"),
        ("LPUSHX", "nosuch", "y"), ("RPUSHX", "nosuch", "y"),
        ("LSET", "l", "0", "Y"), ("LSET", "l", "100", "Y"),
        ("LINSERT", "l", "BEFORE", "a", "q"), ("LINSERT", "l", "AFTER", "nosuch", "q"),
        ("LREM", "l", "0", "q"), ("LREM", "l", "0", "nosuch"),
        ("LTRIM", "l", "1", "-1"), ("LPOP", "l"), ("RPOP", "l", "2"), ("LPOP", "l", "0"),
        ("LMOVE", "l", "m", "LEFT", "RIGHT"), ("RPOPLPUSH", "l", "m"), ("RPOPLPUSH", "m", "m"),
        ("LMPOP", "2", "nosuch", "m", "RIGHT", "COUNT", "1"), ("LMPOP", "1", "m", "LEFT", "COUNT", "5"),
        ("RPUSH", "l", "a"), ("LTRIM", "l", "5", "6"), ("LPOP", "nosuch"),
    ]),
    ("set", "KEA", [
        ("SADD", "s", "a", "b", "c", "d"), ("SADD", "s", "a"), ("SREM", "s", "a", "nosuch"), ("SREM", "s", "nosuch"),
        ("SMOVE", "s", "t", "b"), ("SMOVE", "s", "t", "nosuch"), ("SMOVE", "s", "s", "c"),
        ("SADD", "t", "c"), ("SMOVE", "s", "t", "c"), ("SPOP", "s"), ("SPOP", "s", "10"),
        ("SUNIONSTORE", "u", "t", "nosuch"), ("SINTERSTORE", "i", "t", "u"), ("SDIFFSTORE", "d", "t", "nosuch"),
        ("SDIFFSTORE", "u", "t", "u"), ("SINTERSTORE", "i", "t", "nosuch"), ("SINTERSTORE", "i", "t", "nosuch"),
        ("SPOP", "t", "0"), ("SADD", "one", "x"), ("SPOP", "one", "1"), ("SPOP", "t", "5"),
        ("SPOP", "nosuch"),
    ]),
    ("zset", "KEA", [
        ("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"), ("ZADD", "z", "NX", "9", "a"),
        ("ZADD", "z", "XX", "CH", "1", "a"), ("ZADD", "z", "XX", "CH", "7", "a"), ("ZADD", "z", "GT", "1", "a"),
        ("ZINCRBY", "z", "1", "b"), ("ZADD", "z", "INCR", "2", "c"), ("ZADD", "nosuch", "XX", "1", "a"),
        ("ZREM", "z", "nosuch"), ("ZREM", "z", "a"),
        ("ZRANGESTORE", "r", "z", "0", "-1"), ("ZRANGESTORE", "r2", "z", "10", "20"),
        ("ZUNIONSTORE", "u", "2", "z", "r"), ("ZINTERSTORE", "i", "2", "z", "nosuch"), ("ZINTERSTORE", "u", "2", "z", "nosuch"),
        ("ZDIFFSTORE", "d", "1", "z"),
        ("ZPOPMIN", "z"), ("ZPOPMAX", "z", "0"), ("ZPOPMAX", "z", "1"), ("ZMPOP", "2", "nosuch", "z", "MIN"),
        ("ZREMRANGEBYRANK", "r", "0", "0"), ("ZREMRANGEBYRANK", "r", "10", "20"),
        ("ZADD", "lex", "0", "a", "0", "b", "0", "c"), ("ZREMRANGEBYLEX", "lex", "[a", "[b"),
        ("ZREMRANGEBYSCORE", "r", "0", "100"), ("ZREMRANGEBYLEX", "lex", "-", "+"),
        ("ZPOPMIN", "z", "10"), ("ZSCORE", "d", "b"),
    ]),
    ("stream", "KEAn", [
        ("XADD", "x", "1-1", "f", "v"), ("XADD", "x", "1-1", "f", "v"), ("XADD", "x", "NOMKSTREAM", "2-1", "f", "v"),
        ("XADD", "nosuch", "NOMKSTREAM", "1-1", "f", "v"), ("XADD", "x", "MAXLEN", "1", "3-1", "f", "v"),
        ("XADD", "x", "MAXLEN", "5", "4-1", "f", "v"), ("XADD", "x", "MAXLEN", "~", "1", "5-1", "f", "v"),
        ("XDEL", "x", "9-9"), ("XDEL", "x", "3-1", "4-1"), ("XDEL", "nosuch", "1-1"),
        ("XTRIM", "x", "MAXLEN", "5"), ("XTRIM", "x", "MAXLEN", "0"), ("XTRIM", "nosuch", "MAXLEN", "0"),
        ("XSETID", "x", "10-0"), ("XSETID", "x", "1-0", "ENTRIESADDED", "1"), ("XSETID", "nosuch", "1-1"),
        ("XADD", "y", "MAXLEN", "0", "1-1", "f", "v"), ("XLEN", "y"), ("XRANGE", "x", "-", "+"),
        ("RENAME", "x", "z"), ("COPY", "z", "w"), ("DEL", "z", "y"),
        ("XGROUP", "CREATE", "g1", "grp", "$", "MKSTREAM"), ("XGROUP", "CREATE", "g1", "grp", "$"),
        ("XADD", "g1", "1-1", "f", "v"), ("XGROUP", "CREATECONSUMER", "g1", "grp", "c1"),
        ("XGROUP", "CREATECONSUMER", "g1", "grp", "c1"), ("XREADGROUP", "GROUP", "grp", "c2", "STREAMS", "g1", ">"),
        ("XACK", "g1", "grp", "1-1"), ("XCLAIM", "g1", "grp", "c3", "0", "1-1"),
        ("XAUTOCLAIM", "g1", "grp", "c4", "0", "0"), ("XGROUP", "SETID", "g1", "grp", "0"),
        ("XGROUP", "DELCONSUMER", "g1", "grp", "c1"), ("XGROUP", "DELCONSUMER", "g1", "grp", "nosuch"),
        ("XGROUP", "DESTROY", "g1", "grp"), ("XGROUP", "DESTROY", "g1", "grp"),
    ]),
    ("sort", "KEA", [
        ("RPUSH", "l", "3", "1", "2"), ("SORT", "l", "STORE", "out"), ("SORT", "l", "STORE", "l"),
        ("SORT", "nosuch", "STORE", "out"), ("SORT", "nosuch", "STORE", "out"), ("SORT", "l"),
    ]),
    ("new", "KEAn", [
        ("SET", "k", "v"), ("SET", "k", "w"), ("SET", "t", "v"), ("RENAME", "k", "t"),
        ("RPUSH", "l", "a"), ("RPUSH", "l", "b"), ("LMOVE", "l", "m", "LEFT", "LEFT"),
        ("HSET", "h", "f", "v"), ("SADD", "s", "a"), ("SMOVE", "s", "s2", "a"), ("ZADD", "z", "1", "a"),
        ("INCR", "n"), ("APPEND", "ap", "x"), ("SETBIT", "bits", "1", "1"), ("PFADD", "hll", "a"),
        ("COPY", "t", "c"), ("MOVE", "c", "4"), ("SUNIONSTORE", "su", "s2"), ("ZUNIONSTORE", "zu", "1", "z"),
        ("SORT", "l", "STORE", "so"), ("MSET", "x", "1", "y", "2"),
    ]),
    ("classes", "Kl", [
        ("SET", "s", "v"), ("RPUSH", "l", "a"), ("DEL", "l", "s"), ("HSET", "h", "f", "v"),
        ("CONFIG", "SET", "notify-keyspace-events", "E$x"), ("SET", "s", "v"), ("RPUSH", "l", "a"),
        ("SET", "e", "v", "PX", "30"), ("WAIT", "expired", "e"),
        ("CONFIG", "SET", "notify-keyspace-events", "Kg"), ("DEL", "l", "s"),
    ]),
    # The blocking pops served at once (one that would block would hang
    # redis-server), WRONGTYPE, and inside MULTI where nothing blocks.
    ("blocking", "KEA", [
        ("RPUSH", "l", "a", "b", "c"), ("RPUSH", "l2", "x"),
        ("BLPOP", "nosuch", "l", "0"), ("BRPOP", "l", "0"), ("BLPOP", "l2", "l", "0"), ("BLPOP", "l", "0.5"),
        ("RPUSH", "s", "1", "2", "3"), ("BLMOVE", "s", "d", "LEFT", "RIGHT", "0"), ("BRPOPLPUSH", "s", "s", "0"),
        ("BLMOVE", "s", "d", "RIGHT", "LEFT", "0"), ("BLMPOP", "0", "2", "nosuch", "s", "LEFT", "COUNT", "5"),
        ("BLMPOP", "0", "1", "d", "RIGHT"), ("RPUSH", "s", "x"), ("BRPOPLPUSH", "s", "d", "0"),
        ("ZADD", "z", "1", "a", "2", "b", "3", "c"), ("BZPOPMIN", "nosuch", "z", "0"), ("BZPOPMAX", "z", "0"),
        ("BZMPOP", "0", "1", "z", "MIN", "COUNT", "5"),
        ("SET", "str", "v"), ("BLPOP", "str", "0"), ("BZPOPMIN", "str", "0"), ("RPUSH", "l", "a"),
        ("BLMOVE", "l", "str", "LEFT", "LEFT", "0"), ("BLPOP", "l", "-1"),
        ("MULTI",), ("BLPOP", "e", "0"), ("RPUSH", "e", "x", "y"), ("BRPOP", "e", "0"),
        ("BLMOVE", "e", "f", "LEFT", "LEFT", "0"), ("BLMOVE", "e", "f", "LEFT", "LEFT", "0"),
        ("ZADD", "ez", "1", "m"), ("BZPOPMIN", "ez", "0"), ("BZMPOP", "0", "1", "ez", "MAX"), ("EXEC",),
    ]),
    ("multi", "KEA", [
        ("MULTI",), ("SET", "a", "1"), ("RPUSH", "l", "x"), ("INCR", "a"), ("DEL", "l"), ("EXEC",),
        ("SELECT", "5"), ("SET", "in5", "1"), ("DEL", "in5"), ("SELECT", "0"),
    ]),
]


def is_event(e, ev, key):
    """e is the keyevent notification of event ev on key (it comes after
    the keyspace one)."""
    return e[0].startswith("__keyevent@") and e[0].endswith("__:" + ev) and e[1] == key


def is_push(r):
    return r.kind in "*>" and r.value and r.value[0].value in (b"message", b"pmessage")


class Subscriber:
    """PSUBSCRIBE PATTERN and SUBSCRIBE SENTINEL on one connection."""

    def __init__(self, host, port):
        self.c = compat.Conn(host, port)
        self.c.send(compat.encode("PSUBSCRIBE", PATTERN) + compat.encode("SUBSCRIBE", SENTINEL))
        for _ in range(2):
            r = self.c.read()
            if r.kind not in "*>" or r.value[0].value not in (b"psubscribe", b"subscribe"):
                raise AssertionError("subscribe answered %r" % r.raw)

    def next_event(self):
        """(channel, message) of the next pmessage, or ('SENTINEL', data)."""
        r = self.c.read()
        if not is_push(r):
            raise AssertionError("subscriber got %r" % r.raw)
        if r.value[0].value == b"message":
            return ("SENTINEL", r.value[2].value)
        return (r.value[2].value.decode("latin-1"), r.value[3].value.decode("latin-1"))

    def until(self, stop, deadline):
        """Events up to and including the one stop() accepts."""
        self.c.sock.settimeout(max(0.1, deadline - time.monotonic()))
        out = []
        while True:
            e = self.next_event()
            out.append(e)
            if stop(e):
                return out

    def close(self):
        self.c.close()


def run_case(target, subs, name, classes, steps, current):
    """Runs one case on target (host/port); returns (replies, streams) with
    one stream per subscriber, and the classes now set."""
    c = compat.Conn(target.host, target.port)
    replies = []
    streams = [[] for _ in subs]
    try:
        call = c.call
        r = call("FLUSHALL")
        if r.raw != b"+OK\r\n":
            raise AssertionError("FLUSHALL answered %r" % r.raw)
        if classes != current:
            r = call("CONFIG", "SET", "notify-keyspace-events", classes)
            if r.raw != b"+OK\r\n":
                raise AssertionError("CONFIG SET answered %r" % r.raw)
            current = classes
        for step in steps:
            if step[0] == "WAIT":
                deadline = time.monotonic() + WAIT_DEADLINE
                for i, s in enumerate(subs):
                    streams[i] += s.until(lambda e: is_event(e, step[1], step[2]), deadline)
                continue
            r = call(*step)
            replies.append((" ".join(step), r))
            if step[:3] == ("CONFIG", "SET", "notify-keyspace-events"):
                current = step[3]
        tag = "%s-%d" % (name, time.monotonic_ns())
        r = call("PUBLISH", SENTINEL, tag)
        if r.kind != ":":
            raise AssertionError("PUBLISH answered %r" % r.raw)
        deadline = time.monotonic() + WAIT_DEADLINE
        for i, s in enumerate(subs):
            streams[i] += s.until(lambda e: e == ("SENTINEL", tag.encode()), deadline)
            streams[i] = [e for e in streams[i] if e[0] != "SENTINEL"]
    finally:
        c.close()
    return replies, streams, current


def run_all(target, sub_addrs, cases):
    subs = [Subscriber(h, p) for h, p in sub_addrs]
    results = {}
    current = ""
    try:
        for name, classes, steps in cases:
            replies, streams, current = run_case(target, subs, name, classes, steps, current)
            results[name] = (replies, streams)
    finally:
        for s in subs:
            s.close()
    return results


def config_checks(target):
    """CONFIG GET's canonical string and CONFIG SET's error, as replies."""
    c = compat.Conn(target.host, target.port)
    out = []
    try:
        for cls in ("KEA", "An", "Kx", "nK", "Ag$lshzxetdKEmn", "gd", ""):
            out.append(("set " + cls, c.call("CONFIG", "SET", "notify-keyspace-events", cls).raw))
            out.append(("get " + cls, c.call("CONFIG", "GET", "notify-keyspace-events").raw))
        out.append(("bad", c.call("CONFIG", "SET", "notify-keyspace-events", "KEQ").raw))
        out.append(("after bad", c.call("CONFIG", "GET", "notify-keyspace-events").raw))
    finally:
        c.close()
    return out


def fmt(stream):
    return "\n".join("    %s %s" % e for e in stream) or "    (none)"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--redis-vs-redis", action="store_true")
    ap.add_argument("--cluster", action="store_true")
    ap.add_argument("--follower-mode", default="proxy", choices=("proxy", "redirect"))
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("cases", nargs="*")
    args = ap.parse_args()
    if args.redis_vs_redis:
        if args.cluster:
            ap.error("--cluster needs RaftKV")
        os.environ["COMPAT_REDIS_VS_REDIS"] = "1"
    cases = [c for c in CASES if not args.cases or c[0] in args.cases]
    if not cases:
        ap.error("no such case")

    failures = 0
    redis = compat.start_redis()
    try:
        want = run_all(redis, [(redis.host, redis.port)], cases)
        want_cfg = config_checks(redis)
    finally:
        redis.stop()

    if args.cluster:
        other = compat.start_raftkv_cluster(3, ["--follower-mode", args.follower_mode])
        leader = other.leader()
        follower = other.followers()[0]
        # Commands through a follower in proxy mode: forwarded, and the
        # events still come from applying on every node.
        target = follower if args.follower_mode == "proxy" else leader
        sub_addrs = [(n.host, n.port) for n in other.nodes]
    else:
        other = compat.start_raftkv()
        target = other
        sub_addrs = [(other.host, other.port)]
    try:
        if args.cluster and args.follower_mode == "redirect":
            # notify-keyspace-events is a write: a follower redirects it.
            c = compat.Conn(follower.host, follower.port)
            try:
                r = c.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
            finally:
                c.close()
            if not r.raw.startswith(b"-MOVED "):
                print("CONFIG SET on a redirect-mode follower answered %r" % r.raw)
                failures += 1
        got = run_all(target, sub_addrs, cases)
        got_cfg = config_checks(target)
        report = other.sanitizer_report()
        if report:
            print("sanitizer report:\n" + report)
            failures += 1
    finally:
        rc = other.stop()
        if args.cluster and rc:
            print("nodes that did not exit 0: %r" % (rc,))
            failures += 1
        elif not args.cluster and rc not in (0, None) and not args.redis_vs_redis:
            print("server exited with status %r" % rc)
            failures += 1

    for name, _, _ in cases:
        w_replies, (w_stream,) = want[name]
        g_replies, g_streams = got[name]
        ok = True
        for (cmd, a), (_, b) in zip(w_replies, g_replies):
            # A set's members come in no defined order.
            same = (compat.canonical(a) == compat.canonical(b) if cmd.split()[0] in UNORDERED
                    else a.raw == b.raw)
            if not same:
                print("%s: %s: redis %r, raftkv %r" % (name, cmd, a.raw, b.raw))
                ok = False
        for i, g in enumerate(g_streams):
            if g != w_stream:
                where = " (node %d)" % (i + 1) if len(g_streams) > 1 else ""
                print("%s: events differ%s\n  redis-server:\n%s\n  raftkv:\n%s" % (name, where, fmt(w_stream), fmt(g)))
                ok = False
        if ok:
            print("%s: ok (%d events)" % (name, len(w_stream)))
            if args.verbose:
                print(fmt(w_stream))
        else:
            failures += 1
    for (what, a), (_, b) in zip(want_cfg, got_cfg):
        if a != b:
            print("config %s: redis %r, raftkv %r" % (what, a, b))
            failures += 1
    print("%s" % ("FAILED (%d)" % failures if failures else "all streams match"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
