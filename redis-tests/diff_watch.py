#!/usr/bin/python3
"""WATCH / UNWATCH / MULTI / EXEC against redis-server 7.0.15: each scenario
drives several connections (a watches, b writes) to a redis-server and to a
raftkv-server in the same order and compares every reply byte for byte,
in RESP2 and RESP3 (EXEC's null reply is *-1 / _).

  /usr/bin/python3 diff_watch.py [--redis-vs-redis] [-k NAME]

A step is (conn, arg, ...); ("expire-wait", key) waits, with a deadline,
until key's PX has passed on both servers (polling the clock, not the key:
a read of an expired key deletes it in Redis, which would touch it).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat  # noqa: E402


def touched_by(*writes, setup=(), conns=None):
    """a watches k (after setup by b), b runs writes, a's EXEC decides."""
    steps = [("b",) + tuple(s) for s in setup]
    steps += [("a", "WATCH", "k"), ("a", "GET", "k")]
    steps += [("b",) + tuple(w) for w in writes]
    steps += [("a", "MULTI"), ("a", "SET", "out", "1"), ("a", "EXEC"), ("a", "GET", "out")]
    return conns or {"a": 2, "b": 2}, steps


def scen(name, spec):
    return (name, spec[0], spec[1])


SCENARIOS = [
    scen("untouched", touched_by(setup=[("SET", "k", "v")])),
    scen("untouched-absent", touched_by()),
    scen("set", touched_by(("SET", "k", "2"), setup=[("SET", "k", "v")])),
    scen("set-same-value", touched_by(("SET", "k", "v"), setup=[("SET", "k", "v")])),
    scen("set-creates", touched_by(("SET", "k", "v"))),
    scen("set-nx-fails", touched_by(("SET", "k", "2", "NX"), setup=[("SET", "k", "v")])),
    scen("set-xx-absent", touched_by(("SET", "k", "2", "XX"))),
    scen("incr-error", touched_by(("INCR", "k"), setup=[("SET", "k", "v")])),
    scen("wrongtype", touched_by(("LPUSH", "k", "x"), setup=[("SET", "k", "v")])),
    scen("incr", touched_by(("INCR", "k"), setup=[("SET", "k", "1")])),
    scen("append", touched_by(("APPEND", "k", "x"), setup=[("SET", "k", "v")])),
    scen("setrange", touched_by(("SETRANGE", "k", "0", "v"), setup=[("SET", "k", "v")])),
    scen("del", touched_by(("DEL", "k"), setup=[("SET", "k", "v")])),
    scen("del-absent", touched_by(("DEL", "k"))),
    scen("unlink", touched_by(("UNLINK", "k"), setup=[("SET", "k", "v")])),
    scen("expire", touched_by(("EXPIRE", "k", "100"), setup=[("SET", "k", "v")])),
    scen("persist-none", touched_by(("PERSIST", "k"), setup=[("SET", "k", "v")])),
    scen("persist", touched_by(("PERSIST", "k"), setup=[("SET", "k", "v", "EX", "100")])),
    scen("getdel", touched_by(("GETDEL", "k"), setup=[("SET", "k", "v")])),
    scen("hset-same", touched_by(("HSET", "k", "f", "v"), setup=[("HSET", "k", "f", "v")])),
    scen("hdel-absent-field", touched_by(("HDEL", "k", "nof"), setup=[("HSET", "k", "f", "v")])),
    scen("hincrby", touched_by(("HINCRBY", "k", "n", "1"), setup=[("HSET", "k", "f", "v")])),
    scen("lset", touched_by(("LSET", "k", "0", "y"), setup=[("RPUSH", "k", "x")])),
    scen("lpush", touched_by(("LPUSH", "k", "y"), setup=[("RPUSH", "k", "x")])),
    scen("lpop-last", touched_by(("LPOP", "k"), setup=[("RPUSH", "k", "x")])),
    scen("lrem-none", touched_by(("LREM", "k", "0", "zz"), setup=[("RPUSH", "k", "x")])),
    scen("sadd-existing", touched_by(("SADD", "k", "x"), setup=[("SADD", "k", "x")])),
    scen("sadd-new", touched_by(("SADD", "k", "y"), setup=[("SADD", "k", "x")])),
    scen("srem-absent", touched_by(("SREM", "k", "zz"), setup=[("SADD", "k", "x")])),
    scen("zadd-same", touched_by(("ZADD", "k", "1", "m"), setup=[("ZADD", "k", "1", "m")])),
    scen("zadd-score", touched_by(("ZADD", "k", "2", "m"), setup=[("ZADD", "k", "1", "m")])),
    scen("zincrby", touched_by(("ZINCRBY", "k", "1", "m"), setup=[("ZADD", "k", "1", "m")])),
    scen("sunionstore", touched_by(("SUNIONSTORE", "k", "s1"), setup=[("SADD", "s1", "x")])),
    scen("rename-from", touched_by(("RENAME", "k", "k2"), setup=[("SET", "k", "v")])),
    scen("rename-to", touched_by(("RENAME", "k2", "k"), setup=[("SET", "k2", "v")])),
    scen("move", touched_by(("MOVE", "k", "1"), setup=[("SET", "k", "v")])),
    ("move-in", {"a": 2, "b": 2}, [
        ("a", "SELECT", "1"), ("a", "WATCH", "k"), ("b", "SET", "k", "v"), ("b", "MOVE", "k", "1"),
        ("a", "MULTI"), ("a", "SET", "out", "1"), ("a", "EXEC")]),
    scen("copy-to", touched_by(("COPY", "k2", "k"), setup=[("SET", "k2", "v")])),
    scen("flushdb", touched_by(("FLUSHDB",), setup=[("SET", "k", "v")])),
    scen("flushall", touched_by(("FLUSHALL",), setup=[("SET", "k", "v")])),
    scen("swapdb", touched_by(("SWAPDB", "0", "1"), setup=[("SET", "k", "v")])),
    scen("other-key", touched_by(("SET", "k2", "v"), setup=[("SET", "k", "v")])),
    # A key absent when watched: Redis 7.0 touches only watched keys that
    # exist in a flushed or swapped db, and deleting other keys (whatever
    # their hash) touches nothing.
    scen("flushdb-absent", touched_by(("FLUSHDB",), setup=[("SET", "o", "v")])),
    scen("swapdb-absent", touched_by(("SWAPDB", "0", "1"), setup=[("SET", "o", "v")])),
    scen("swapdb-in", touched_by(("SWAPDB", "0", "1"),
                                 setup=[("SELECT", "1"), ("SET", "k", "v"), ("SELECT", "0")])),
    scen("set-then-flushdb", touched_by(("SET", "k", "v"), ("FLUSHDB",))),
    scen("del-others", touched_by(*[("DEL", "o%d" % i) for i in range(64)],
                                  setup=[("MSET",) + tuple(x for i in range(64) for x in ("o%d" % i, "v"))])),
    scen("set-then-del", touched_by(("SET", "k", "v"), ("DEL", "k"))),
    # Streams: which commands touch the key (Redis's signalModifiedKey).
    scen("xgroup-create-first", touched_by(("XGROUP", "CREATE", "k", "g", "$"), setup=[("XADD", "k", "1-1", "f", "v")])),
    scen("xgroup-create-mkstream", touched_by(("XGROUP", "CREATE", "k", "g", "$", "MKSTREAM"))),
    scen("xgroup-create-second", touched_by(("XGROUP", "CREATE", "k", "g2", "$"), setup=[("XADD", "k", "1-1", "f", "v"), ("XADD", "k", "1-2", "f", "w"), ("XGROUP", "CREATE", "k", "g", "0"), ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "k", ">")])),
    scen("xgroup-setid", touched_by(("XGROUP", "SETID", "k", "g", "0"), setup=[("XADD", "k", "1-1", "f", "v"), ("XADD", "k", "1-2", "f", "w"), ("XGROUP", "CREATE", "k", "g", "0"), ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "k", ">")])),
    scen("xgroup-createconsumer", touched_by(("XGROUP", "CREATECONSUMER", "k", "g", "c2"), setup=[("XADD", "k", "1-1", "f", "v"), ("XADD", "k", "1-2", "f", "w"), ("XGROUP", "CREATE", "k", "g", "0"), ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "k", ">")])),
    scen("xgroup-delconsumer", touched_by(("XGROUP", "DELCONSUMER", "k", "g", "c"), setup=[("XADD", "k", "1-1", "f", "v"), ("XADD", "k", "1-2", "f", "w"), ("XGROUP", "CREATE", "k", "g", "0"), ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "k", ">")])),
    scen("xgroup-destroy", touched_by(("XGROUP", "DESTROY", "k", "g"), setup=[("XADD", "k", "1-1", "f", "v"), ("XADD", "k", "1-2", "f", "w"), ("XGROUP", "CREATE", "k", "g", "0"), ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "k", ">")])),
    scen("xreadgroup", touched_by(("XREADGROUP", "GROUP", "g", "c2", "STREAMS", "k", "0"), setup=[("XADD", "k", "1-1", "f", "v"), ("XADD", "k", "1-2", "f", "w"), ("XGROUP", "CREATE", "k", "g", "0"), ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "k", ">")])),
    scen("xreadgroup-new", touched_by(("XADD", "k2", "1-1", "f", "v"), ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "k", ">"), setup=[("XADD", "k", "1-1", "f", "v"), ("XADD", "k", "1-2", "f", "w"), ("XGROUP", "CREATE", "k", "g", "0"), ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "k", ">")])),
    scen("xack", touched_by(("XACK", "k", "g", "1-1"), setup=[("XADD", "k", "1-1", "f", "v"), ("XADD", "k", "1-2", "f", "w"), ("XGROUP", "CREATE", "k", "g", "0"), ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "k", ">")])),
    scen("xclaim", touched_by(("XCLAIM", "k", "g", "c2", "0", "1-1"), setup=[("XADD", "k", "1-1", "f", "v"), ("XADD", "k", "1-2", "f", "w"), ("XGROUP", "CREATE", "k", "g", "0"), ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "k", ">")])),
    scen("xautoclaim", touched_by(("XAUTOCLAIM", "k", "g", "c2", "0", "0"), setup=[("XADD", "k", "1-1", "f", "v"), ("XADD", "k", "1-2", "f", "w"), ("XGROUP", "CREATE", "k", "g", "0"), ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "k", ">")])),
    scen("xsetid", touched_by(("XSETID", "k", "5-5"), setup=[("XADD", "k", "1-1", "f", "v")])),
    scen("xdel-none", touched_by(("XDEL", "k", "9-9"), setup=[("XADD", "k", "1-1", "f", "v")])),
    scen("xtrim-none", touched_by(("XTRIM", "k", "MAXLEN", "5"), setup=[("XADD", "k", "1-1", "f", "v")])),
    scen("xtrim", touched_by(("XTRIM", "k", "MAXLEN", "0"), setup=[("XADD", "k", "1-1", "f", "v")])),
    scen("resp3-null", touched_by(("SET", "k", "2"), setup=[("SET", "k", "v")], conns={"a": 3, "b": 2})),
    scen("resp3-untouched", touched_by(setup=[("SET", "k", "v")], conns={"a": 3, "b": 2})),
    ("other-db", {"a": 2, "b": 2}, [
        ("a", "SELECT", "1"), ("a", "WATCH", "k"), ("b", "SET", "k", "v"),
        ("a", "MULTI"), ("a", "SET", "out", "1"), ("a", "EXEC"),
        ("a", "WATCH", "k"), ("b", "SELECT", "1"), ("b", "SET", "k", "v"),
        ("a", "MULTI"), ("a", "SET", "out", "2"), ("a", "EXEC"), ("a", "GET", "out")]),
    ("watch-then-select", {"a": 2, "b": 2}, [
        ("a", "WATCH", "k"), ("a", "SELECT", "1"), ("b", "SET", "k", "v"),
        ("a", "MULTI"), ("a", "SET", "out", "1"), ("a", "EXEC")]),
    ("several-keys", {"a": 2, "b": 2}, [
        ("a", "WATCH", "x", "y", "z"), ("a", "WATCH", "w"), ("b", "SET", "w", "1"),
        ("a", "MULTI"), ("a", "INCR", "n"), ("a", "EXEC"), ("a", "GET", "n")]),
    ("empty-exec", {"a": 2, "b": 2}, [
        ("a", "WATCH", "k"), ("a", "MULTI"), ("a", "EXEC"),
        ("a", "WATCH", "k"), ("b", "SET", "k", "1"), ("a", "MULTI"), ("a", "EXEC")]),
    ("watch-inside-multi", {"a": 2, "b": 2}, [
        ("a", "MULTI"), ("a", "WATCH", "k"), ("a", "SET", "out", "1"), ("a", "EXEC"),
        ("a", "WATCH"), ("a", "UNWATCH", "x")]),
    ("unwatch", {"a": 2, "b": 2}, [
        ("a", "WATCH", "k"), ("a", "UNWATCH"), ("b", "SET", "k", "1"),
        ("a", "MULTI"), ("a", "SET", "out", "1"), ("a", "EXEC")]),
    ("unwatch-in-multi", {"a": 2, "b": 2}, [
        ("a", "WATCH", "k"), ("a", "MULTI"), ("a", "UNWATCH"), ("a", "SET", "out", "1"),
        ("b", "SET", "k", "1"), ("a", "EXEC"),
        ("a", "WATCH", "k"), ("a", "MULTI"), ("a", "UNWATCH"), ("a", "SET", "out", "2"), ("a", "EXEC")]),
    ("exec-clears", {"a": 2, "b": 2}, [
        ("a", "WATCH", "k"), ("a", "MULTI"), ("a", "SET", "out", "1"), ("a", "EXEC"),
        ("b", "SET", "k", "1"), ("a", "MULTI"), ("a", "SET", "out", "2"), ("a", "EXEC"),
        ("a", "WATCH", "k"), ("b", "SET", "k", "2"), ("a", "MULTI"), ("a", "EXEC"),
        ("a", "MULTI"), ("a", "SET", "out", "3"), ("a", "EXEC")]),
    ("discard-clears", {"a": 2, "b": 2}, [
        ("a", "WATCH", "k"), ("a", "MULTI"), ("a", "DISCARD"), ("b", "SET", "k", "1"),
        ("a", "MULTI"), ("a", "SET", "out", "1"), ("a", "EXEC")]),
    ("execabort-clears", {"a": 2, "b": 2}, [
        ("a", "WATCH", "k"), ("a", "MULTI"), ("a", "NOSUCHCMD"), ("b", "SET", "k", "1"),
        ("a", "EXEC"), ("a", "MULTI"), ("a", "SET", "out", "1"), ("a", "EXEC"),
        ("a", "WATCH", "k"), ("a", "MULTI"), ("a", "GET"), ("a", "EXEC"),
        ("b", "SET", "k", "2"), ("a", "MULTI"), ("a", "EXEC")]),
    ("exec-without-multi-keeps", {"a": 2, "b": 2}, [
        ("a", "WATCH", "k"), ("a", "EXEC"), ("b", "SET", "k", "1"),
        ("a", "MULTI"), ("a", "SET", "out", "1"), ("a", "EXEC")]),
    ("reset-clears", {"a": 2, "b": 2}, [
        ("a", "WATCH", "k"), ("a", "RESET"), ("b", "SET", "k", "1"),
        ("a", "MULTI"), ("a", "SET", "out", "1"), ("a", "EXEC")]),
    ("own-write", {"a": 2, "b": 2}, [
        ("a", "WATCH", "k"), ("a", "SET", "k", "1"),
        ("a", "MULTI"), ("a", "SET", "out", "1"), ("a", "EXEC")]),
    ("expires", {"a": 2, "b": 2}, [
        ("b", "SET", "k", "v", "PX", "300"), ("a", "WATCH", "k"), ("expire-wait", "k"),
        ("a", "MULTI"), ("a", "SET", "out", "1"), ("a", "EXEC")]),
    ("expires-resp3", {"a": 3, "b": 2}, [
        ("b", "SET", "k", "v", "PX", "300"), ("a", "WATCH", "k"), ("expire-wait", "k"),
        ("a", "MULTI"), ("a", "SET", "out", "1"), ("a", "EXEC")]),
    ("watch-expired", {"a": 2, "b": 2}, [
        ("b", "SET", "k", "v", "PX", "300"), ("expire-wait", "k"), ("a", "WATCH", "k"),
        ("a", "MULTI"), ("a", "SET", "out", "1"), ("a", "EXEC")]),
    ("expired-then-set", {"a": 2, "b": 2}, [
        ("b", "SET", "k", "v", "PX", "300"), ("expire-wait", "k"), ("a", "WATCH", "k"),
        ("b", "SET", "k", "w"), ("a", "MULTI"), ("a", "SET", "out", "1"), ("a", "EXEC")]),
    ("watch-arity", {"a": 2}, [("a", "WATCH"), ("a", "UNWATCH"), ("a", "WATCH", "a", "a")]),
]


class Side:
    def __init__(self, port, conns):
        self.conns, self.log = {}, []
        for name, proto in conns.items():
            c = compat.Conn("127.0.0.1", port)
            if proto == 3:
                c.call("HELLO", "3")
            self.conns[name] = c

    def step(self, st):
        name, args = st[0], st[1:]
        r = self.conns[name].call(*args)
        self.log.append((name, " ".join(args), r.raw))

    def close(self):
        for c in self.conns.values():
            c.close()


def run_scenario(name, conns, steps, rport, kport):
    a, b = Side(rport, conns), Side(kport, conns)
    try:
        expiry = {}
        for st in steps:
            if st[0] == "expire-wait":
                # Both servers got the SET ... PX n of st[1] before: wait
                # past the latest deadline (clock only, no read of the key).
                deadline = expiry[st[1]]
                while time.time() < deadline:
                    time.sleep(min(0.05, max(0.0, deadline - time.time())))
                continue
            a.step(st)
            b.step(st)
            if st[1] == "SET" and "PX" in st:
                expiry[st[2]] = time.time() + int(st[st.index("PX") + 1]) / 1000.0 + 0.1
        return compat.logs_agree(name, a.log, b.log)
    finally:
        a.close()
        b.close()


def main():
    return compat.scenario_main(SCENARIOS, run_scenario)


if __name__ == "__main__":
    sys.exit(main())
