#!/usr/bin/python3
"""compat_diff_pubsub: pub/sub on one node against redis-server 7.0.15,
byte for byte, in RESP2 and RESP3, over several connections at once.

Each scenario names its connections (a, b, p, ...) and lists steps: a
command sent on one connection, whose replies (and the pushes before them)
are read and compared. Every step is followed by a sentinel PING <marker>
on the same connection, and everything up to the sentinel's reply is that
step's output: so a step needs no count of its replies, and a message
delivered to a subscriber (pushed when the publisher's PUBLISH applied,
before its reply) is read by the next step on the subscriber's connection.
A step with n=N reads exactly N replies and sends no sentinel (QUIT, or
inside MULTI where PING would be queued).

The sentinel PING is part of the comparison too: in RESP2 subscribe mode it
is answered ["pong", marker], otherwise marker.

{p} in any argument becomes a prefix unique to the scenario and protocol,
so scenarios share no channel even while connections of an earlier one are
still closing. unordered: the step's replies are compared as a multiset,
each sorted (Redis lists channels, and unsubscribes from all of them, in
its hash order; RaftKV in subscription order). mask_id: HELLO's client id
is left out of the comparison.

  RAFTKV_SERVER=build/server/raftkv-server /usr/bin/python3 diff_pubsub.py [--proto 2|3]
  --redis-vs-redis (or COMPAT_REDIS_VS_REDIS=1): both sides redis-server
"""
import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat  # noqa: E402


def S(conn, *args, n=None, unordered=False, mask_id=False):
    return (conn, [a.encode() if isinstance(a, str) else a for a in args], n,
            {"unordered": unordered, "mask_id": mask_id})


# (name, steps); a connection is opened at its first step (HELLO 3 first in
# the RESP3 run, its reply not compared: it holds the client id).
SCENARIOS = [
    ("unsubscribe from nothing", [
        S("a", "UNSUBSCRIBE"),
        S("a", "PUNSUBSCRIBE"),
        S("a", "SUNSUBSCRIBE"),
        S("a", "UNSUBSCRIBE", "{p}x", "{p}y"),
        S("a", "PUNSUBSCRIBE", "{p}x*"),
        S("a", "SUNSUBSCRIBE", "{p}s"),
        S("a", "GET", "{p}k"),
    ]),
    ("subscribe counts and unsubscribe", [
        S("a", "SUBSCRIBE", "{p}a", "{p}b", "{p}a"),
        S("a", "PSUBSCRIBE", "{p}x*", "{p}x*", "{p}y?"),
        S("a", "SSUBSCRIBE", "{p}s1", "{p}s2"),
        S("a", "UNSUBSCRIBE", "{p}zz", "{p}a"),
        S("a", "PUNSUBSCRIBE", "{p}zz", "{p}x*"),
        S("a", "SUNSUBSCRIBE", "{p}s1"),
        S("a", "SUBSCRIBE", "{p}c", "{p}d"),
        S("a", "UNSUBSCRIBE", unordered=True),
        S("a", "PUNSUBSCRIBE"),
        S("a", "UNSUBSCRIBE"),
        S("a", "SUNSUBSCRIBE"),
        S("a", "GET", "{p}k"),
    ]),
    ("subscribe mode commands", [
        S("a", "SUBSCRIBE", "{p}ch"),
        S("a", "GET", "{p}k"),
        S("a", "SET", "{p}k", "v"),
        S("a", "PUBLISH", "{p}ch", "m"),
        S("a", "SPUBLISH", "{p}ch", "m"),
        S("a", "MULTI", n=1),
        S("a", "DISCARD", n=1),
        S("a", "CLIENT", "GETNAME"),
        S("a", "CONFIG", "GET", "maxmemory"),
        S("a", "PUBSUB", "NUMPAT"),
        S("a", "PUBSUB", "NOSUCH"),
        S("a", "PUBSUB", "NUMPAT", "extra"),
        S("a", "NOSUCHCOMMAND", "x"),
        S("a", "GET"),
        S("a", "ECHO", "x"),
        S("a", "PING"),
        S("a", "PING", "hello"),
        S("a", "PING", "a", "b"),
        S("a", "SUBSCRIBE"),
        S("a", "PSUBSCRIBE", "{p}p*"),
        S("a", "UNSUBSCRIBE", "{p}ch"),
        S("a", "GET", "{p}k"),
        S("a", "PUNSUBSCRIBE"),
        S("a", "GET", "{p}k"),
        S("a", "SSUBSCRIBE", "{p}s"),
        S("a", "GET", "{p}k"),
        S("a", "SUNSUBSCRIBE"),
        S("a", "PING"),
    ]),
    ("hello in subscribe mode", [
        S("a", "SUBSCRIBE", "{p}ch"),
        S("a", "HELLO", "3", mask_id=True),
        S("a", "HELLO", "2", mask_id=True),
        S("a", "GET", "{p}k"),
        S("a", "PING"),
        S("b", "PUBLISH", "{p}ch", "after-hello"),
        S("a", "PING"),
    ]),
    ("reset leaves subscribe mode", [
        S("a", "SUBSCRIBE", "{p}ch", "{p}ch2"),
        S("a", "PSUBSCRIBE", "{p}*"),
        S("a", "SSUBSCRIBE", "{p}s"),
        S("b", "PUBSUB", "NUMSUB", "{p}ch", "{p}ch2"),
        S("a", "RESET"),
        S("a", "PING"),
        S("a", "GET", "{p}k"),
        S("b", "PUBSUB", "NUMSUB", "{p}ch", "{p}ch2"),
        S("b", "PUBSUB", "SHARDNUMSUB", "{p}s"),
        S("b", "PUBLISH", "{p}ch", "nobody"),
        S("a", "UNSUBSCRIBE"),
    ]),
    ("quit in subscribe mode", [
        S("a", "SUBSCRIBE", "{p}ch"),
        S("a", "QUIT", n=1),
    ]),
    ("pubsub introspection", [
        S("x", "PUBSUB", "CHANNELS", "{p}*"),
        S("x", "PUBSUB", "NUMSUB"),
        S("a", "SUBSCRIBE", "{p}one", "{p}two"),
        S("b", "SUBSCRIBE", "{p}two", "{p}three"),
        S("b", "PSUBSCRIBE", "{p}t*", "{p}o*"),
        S("c", "PSUBSCRIBE", "{p}t*"),
        S("c", "SSUBSCRIBE", "{p}s1", "{p}s2"),
        S("x", "PUBSUB", "CHANNELS", "{p}*", unordered=True),
        S("x", "PUBSUB", "CHANNELS", "{p}t*", unordered=True),
        S("x", "PUBSUB", "CHANNELS", "{p}one"),
        S("x", "PUBSUB", "CHANNELS", "{p}nomatch*"),
        S("x", "PUBSUB", "NUMSUB", "{p}one", "{p}two", "{p}three", "{p}none"),
        S("x", "PUBSUB", "SHARDCHANNELS", "{p}s*", unordered=True),
        S("x", "PUBSUB", "SHARDCHANNELS", "{p}s1"),
        S("x", "PUBSUB", "SHARDNUMSUB", "{p}s1", "{p}zz"),
        S("x", "PUBSUB", "SHARDNUMSUB"),
        S("x", "PUBSUB", "HELP"),
        S("x", "PUBSUB", "help"),
        S("x", "PUBSUB", "HELP", "x"),
        S("x", "PUBSUB", "NOSUCH"),
        S("x", "PUBSUB", "CHANNELS", "a", "b"),
        S("x", "PUBSUB", "SHARDCHANNELS", "a", "b"),
        S("x", "PUBSUB", "NUMPAT", "x"),
        S("x", "PUBSUB"),
        S("a", "UNSUBSCRIBE", unordered=True),
        S("b", "UNSUBSCRIBE", unordered=True),
        S("b", "PUNSUBSCRIBE"),
        S("c", "PUNSUBSCRIBE"),
        S("c", "SUNSUBSCRIBE", unordered=True),
        S("x", "PUBSUB", "CHANNELS", "{p}*"),
        S("x", "PUBSUB", "SHARDCHANNELS", "{p}*"),
    ]),
    ("message and pmessage", [
        S("a", "SUBSCRIBE", "{p}news"),
        S("b", "PSUBSCRIBE", "{p}n*"),
        S("c", "SUBSCRIBE", "{p}news"),
        S("c", "PSUBSCRIBE", "{p}new?"),
        S("p", "PUBLISH", "{p}news", "hello"),
        S("a", "PING"),
        S("b", "PING"),
        S("c", "PING"),
        S("p", "PUBLISH", "{p}news", b"bin\x00\r\n\xffary"),
        S("p", "PUBLISH", "{p}nope", "x"),
        S("p", "PUBLISH", "{p}other", "x"),
        S("p", "PUBLISH", "{p}news", ""),
        S("a", "PING"),
        S("b", "PING"),
        S("c", "PING"),
        S("c", "UNSUBSCRIBE", "{p}news"),
        S("p", "PUBLISH", "{p}news", "after"),
        S("a", "PING"),
        S("c", "PING"),
    ]),
    ("glob patterns", [
        S("a", "PSUBSCRIBE", "{p}h?llo", "{p}h[ae]llo", "{p}h[^e]llo", "{p}h\\*llo",
          "{p}[a-c]x", "{p}*"),
        S("p", "PUBLISH", "{p}hello", "1"),
        S("a", "PING", unordered=True),
        S("p", "PUBLISH", "{p}hallo", "2"),
        S("a", "PING", unordered=True),
        S("p", "PUBLISH", "{p}h*llo", "3"),
        S("a", "PING", unordered=True),
        S("p", "PUBLISH", "{p}bx", "4"),
        S("a", "PING", unordered=True),
        S("p", "PUBLISH", "{p}dx", "5"),
        S("a", "PING", unordered=True),
        S("p", "PUBLISH", "other", "6"),
        S("a", "PING"),
    ]),
    ("shard channels", [
        S("a", "SSUBSCRIBE", "{p}s"),
        S("b", "SUBSCRIBE", "{p}s"),
        S("c", "PSUBSCRIBE", "{p}*"),
        S("p", "SPUBLISH", "{p}s", "shard"),
        S("p", "PUBLISH", "{p}s", "plain"),
        S("a", "PING"),
        S("b", "PING"),
        S("c", "PING"),
    ]),
    ("a publisher subscribed to its own channel", [
        S("a", "SUBSCRIBE", "{p}self"),
        S("a", "PUBLISH", "{p}self", "to-myself"),
        S("a", "SET", "{p}k", "v"),
        S("a", "PING"),
    ]),
    ("pipelined subscribe, ping and unsubscribe", [
        S("a", "SUBSCRIBE", "{p}q"),
        S("p", "PUBLISH", "{p}q", "m1"),
        S("a", "UNSUBSCRIBE", "{p}q"),
        S("p", "PUBLISH", "{p}q", "m2"),
        S("a", "PING"),
    ]),
    ("publish inside multi", [
        S("a", "MULTI", n=1),
        S("a", "PUBLISH", "{p}ch", "queued", n=1),
        S("a", "EXEC", n=1),
    ]),
]


def run_step(conn, step, marker):
    """The replies to step (and pushes before them) as Reply objects."""
    _, args, n, _ = step
    if n is not None:
        conn.send(compat.encode(*args))
        return [conn.read() for _ in range(n)]
    conn.send(compat.encode(*args) + compat.encode("PING", marker))
    out = []
    while True:
        r = conn.read()
        out.append(r)
        if r.kind == "$" and r.value == marker.encode():
            return out
        if r.kind in "*>" and r.value and len(r.value) == 2 and r.value[1].value == marker.encode():
            return out


def sub(args, prefix):
    return [a.replace(b"{p}", prefix) for a in args]


def unordered_form(replies):
    """Replies in any order: each one sorted, the whole sorted, but the
    counts that end (un)subscribe confirmations kept in arrival order (they
    go down by one per confirmation whatever the order of the names)."""
    items, counts = [], []
    for r in replies:
        v = r.value
        if r.kind in "*>" and v and len(v) == 3 and v[2].kind == ":" and \
                v[0].value.endswith(b"subscribe"):
            counts.append(v[2].value)
            items.append((r.kind, v[0].value, v[1].value))
        else:
            items.append(compat.canonical(r))
    return sorted(items, key=repr), counts


ID = re.compile(rb"\$2\r\nid\r\n:\d+")


def run(proto, servers):
    fails = 0
    for si, (name, steps) in enumerate(SCENARIOS):
        failed = 0
        prefix = b"ps%d.%d." % (proto, si)
        conns = [{}, {}]
        try:
            for k, step in enumerate(steps):
                who, args, n, how = step
                args = sub(args, prefix)
                outs = []
                for side, srv in enumerate(servers):
                    if who not in conns[side]:
                        c = compat.Conn(srv.host, srv.port)
                        if proto == 3:
                            c.call("HELLO", "3")
                        conns[side][who] = c
                    outs.append(run_step(conns[side][who], (who, args, n, how),
                                         "mark-%d-%d" % (si, k)))
                a, b = outs
                if how["unordered"]:
                    same = unordered_form(a) == unordered_form(b)
                elif how["mask_id"]:
                    same = [ID.sub(b"id:?", x.raw) for x in a] == [ID.sub(b"id:?", x.raw) for x in b]
                else:
                    same = [x.raw for x in a] == [x.raw for x in b]
                if not same:
                    failed += 1
                    print("FAIL resp%d [%s] step %d %s %r\n  redis:  %r\n  raftkv: %r" % (
                        proto, name, k, who, args, b"".join(x.raw for x in a),
                        b"".join(x.raw for x in b)))
                    break
        finally:
            for side in conns:
                for c in side.values():
                    c.close()
        fails += failed
        if not failed:
            print("ok   resp%d %s" % (proto, name))
    return fails


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proto", type=int, choices=(2, 3), action="append")
    ap.add_argument("--redis-vs-redis", action="store_true")
    o = ap.parse_args()
    if o.redis_vs_redis:
        os.environ["COMPAT_REDIS_VS_REDIS"] = "1"
    redis = compat.start_redis()
    raftkv = compat.start_raftkv()
    fails = 0
    try:
        for proto in o.proto or (2, 3):
            fails += run(proto, (redis, raftkv))
        for s in (redis, raftkv):
            report = s.sanitizer_report()
            if report:
                print("sanitizer report from %s:\n%s" % (s.kind, report))
                fails += 1
    finally:
        redis.stop()
        raftkv.stop()
    print("%d failing step(s)" % fails)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
