#!/usr/bin/python3
"""Client-side caching (CLIENT TRACKING) against redis-server 7.0.15: each
scenario drives several connections to a redis-server and to a raftkv-server
in the same order and compares everything each connection receives, byte
for byte: replies, invalidation pushes (RESP3), __redis__:invalidate
messages (RESP2 redirect), tracking-redir-broken.

  /usr/bin/python3 diff_tracking.py [--redis-vs-redis] [--cluster] [-k NAME]

After every step each other connection is synchronised: it sends PING and
reads up to the PONG, so whatever the step sent it (an invalidation) is
collected in order, with no sleeping (that PING counts as a command for
CLIENT CACHING, on both servers alike). Client ids differ between servers:
{id:x} in a step is connection x's CLIENT ID, and in the transcripts each
connection's id is replaced by {id:x} before comparing.

--cluster adds a 3-node check: a client tracking on a follower is
invalidated when a write through the leader applies on that follower.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat  # noqa: E402

# (name, {conn: proto}, steps); a step is (conn, arg, ...) or ("close", conn).
SCENARIOS = [
    # Streams: Redis signals the key (invalidation) for XADD, XDEL, XTRIM
    # and a stream MKSTREAM creates, not for the consumer-group commands
    # nor XSETID.
    ("streams", {"a": 3, "b": 2}, [
        ("b", "XADD", "s", "1-1", "f", "v"),
        ("b", "XADD", "s", "1-2", "f", "w"),
        ("a", "CLIENT", "TRACKING", "on"),
        ("a", "XRANGE", "s", "-", "+"),
        ("a", "XRANGE", "s2", "-", "+"),
        ("b", "XGROUP", "CREATE", "s", "g", "0"),
        ("a", "XRANGE", "s", "-", "+"),
        ("a", "XRANGE", "s2", "-", "+"),
        ("b", "XGROUP", "CREATE", "s", "g2", "$"),
        ("a", "XRANGE", "s", "-", "+"),
        ("a", "XRANGE", "s2", "-", "+"),
        ("b", "XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"),
        ("a", "XRANGE", "s", "-", "+"),
        ("a", "XRANGE", "s2", "-", "+"),
        ("b", "XACK", "s", "g", "1-1"),
        ("a", "XRANGE", "s", "-", "+"),
        ("a", "XRANGE", "s2", "-", "+"),
        ("b", "XCLAIM", "s", "g", "c2", "0", "1-2"),
        ("a", "XRANGE", "s", "-", "+"),
        ("a", "XRANGE", "s2", "-", "+"),
        ("b", "XAUTOCLAIM", "s", "g", "c3", "0", "0"),
        ("a", "XRANGE", "s", "-", "+"),
        ("a", "XRANGE", "s2", "-", "+"),
        ("b", "XGROUP", "SETID", "s", "g", "0"),
        ("a", "XRANGE", "s", "-", "+"),
        ("a", "XRANGE", "s2", "-", "+"),
        ("b", "XGROUP", "CREATECONSUMER", "s", "g", "c4"),
        ("a", "XRANGE", "s", "-", "+"),
        ("a", "XRANGE", "s2", "-", "+"),
        ("b", "XGROUP", "DELCONSUMER", "s", "g", "c4"),
        ("a", "XRANGE", "s", "-", "+"),
        ("a", "XRANGE", "s2", "-", "+"),
        ("b", "XGROUP", "DESTROY", "s", "g2"),
        ("a", "XRANGE", "s", "-", "+"),
        ("a", "XRANGE", "s2", "-", "+"),
        ("b", "XSETID", "s", "5-5"),
        ("a", "XRANGE", "s", "-", "+"),
        ("a", "XRANGE", "s2", "-", "+"),
        ("b", "XDEL", "s", "9-9"),
        ("a", "XRANGE", "s", "-", "+"),
        ("a", "XRANGE", "s2", "-", "+"),
        ("b", "XADD", "s", "6-1", "f", "x"),
        ("a", "XRANGE", "s", "-", "+"),
        ("a", "XRANGE", "s2", "-", "+"),
        ("b", "XDEL", "s", "6-1"),
        ("a", "XRANGE", "s", "-", "+"),
        ("a", "XRANGE", "s2", "-", "+"),
        ("b", "XTRIM", "s", "MAXLEN", "1"),
        ("a", "XRANGE", "s", "-", "+"),
        ("a", "XRANGE", "s2", "-", "+"),
        ("b", "XGROUP", "CREATE", "s2", "g", "$", "MKSTREAM"),
    ]),
    ("default-mode", {"a": 3, "b": 2}, [
        ("a", "CLIENT", "TRACKING", "on"),
        ("a", "GET", "k"),
        ("b", "SET", "k", "1"),
        ("b", "SET", "k", "2"),
        ("a", "MGET", "k", "k2"),
        ("b", "MSET", "k", "1", "k2", "2"),
        ("a", "GET", "k"),
        ("a", "HGET", "h", "f"),
        ("b", "HSET", "h", "f", "v"),
        ("a", "LRANGE", "l", "0", "-1"),
        ("b", "RPUSH", "l", "x"),
        ("a", "ZUNION", "2", "z1", "z2"),
        ("b", "ZADD", "z2", "1", "m"),
        ("b", "DEL", "k"),
        ("a", "CLIENT", "TRACKINGINFO"),
        ("a", "CLIENT", "GETREDIR"),
        ("a", "GET", "k"),
        ("a", "CLIENT", "TRACKING", "off"),
        ("b", "SET", "k", "3"),
        ("a", "CLIENT", "TRACKINGINFO"),
    ]),
    ("own-write", {"a": 3}, [
        ("a", "CLIENT", "TRACKING", "on"),
        ("a", "GET", "k"),
        ("a", "SET", "k", "1"),
        ("a", "GET", "k"),
        ("a", "INCR", "k"),
    ]),
    ("noloop", {"a": 3, "b": 2}, [
        ("a", "CLIENT", "TRACKING", "on", "NOLOOP"),
        ("a", "GET", "k"),
        ("a", "SET", "k", "1"),
        ("b", "SET", "k", "2"),
        ("a", "GET", "k"),
        ("b", "SET", "k", "3"),
        ("a", "CLIENT", "TRACKINGINFO"),
    ]),
    ("optin", {"a": 3, "b": 2}, [
        ("a", "CLIENT", "TRACKING", "on", "OPTIN"),
        ("a", "GET", "k"),
        ("b", "SET", "k", "1"),
        ("a", "CLIENT", "CACHING", "yes"),
        ("a", "CLIENT", "TRACKINGINFO"),
        ("a", "GET", "k"),
        ("b", "SET", "k", "2"),
        ("a", "CLIENT", "CACHING", "yes"),
        ("a", "PING"),
        ("a", "GET", "k"),
        ("b", "SET", "k", "3"),
        ("a", "CLIENT", "CACHING", "yes"),
        ("a", "MULTI"),
        ("a", "GET", "k"),
        ("a", "GET", "k2"),
        ("a", "EXEC"),
        ("b", "MSET", "k", "4", "k2", "4"),
        ("a", "CLIENT", "CACHING", "no"),
    ]),
    ("optout", {"a": 3, "b": 2}, [
        ("a", "CLIENT", "TRACKING", "on", "OPTOUT"),
        ("a", "CLIENT", "CACHING", "no"),
        ("a", "GET", "k"),
        ("b", "SET", "k", "1"),
        ("a", "GET", "k"),
        ("b", "SET", "k", "2"),
        ("a", "CLIENT", "CACHING", "yes"),
        ("a", "CLIENT", "TRACKINGINFO"),
    ]),
    ("bcast", {"a": 3, "b": 2, "c": 3}, [
        ("a", "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:", "PREFIX", "obj:"),
        ("c", "CLIENT", "TRACKING", "on", "BCAST"),
        ("a", "CLIENT", "TRACKINGINFO"),
        ("b", "SET", "user:1", "x"),
        ("b", "SET", "other", "x"),
        ("b", "MSET", "user:2", "a", "obj:1", "b", "user:1", "c"),
        ("b", "MULTI"),
        ("b", "SET", "obj:9", "1"),
        ("b", "SET", "obj:2", "1"),
        ("b", "SET", "obj:9", "2"),
        ("b", "EXEC"),
        ("a", "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "us"),
        ("a", "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "zz"),
        ("a", "CLIENT", "TRACKINGINFO"),
        ("b", "SET", "zz", "1"),
        ("a", "CLIENT", "TRACKING", "on"),
    ]),
    ("bcast-noloop", {"a": 3, "b": 2}, [
        ("a", "CLIENT", "TRACKING", "on", "BCAST", "NOLOOP"),
        ("a", "SET", "k1", "1"),
        ("b", "SET", "k2", "1"),
        ("a", "MSET", "k3", "1", "k4", "1"),
    ]),
    ("redirect-resp3", {"a": 2, "b": 3}, [
        ("a", "CLIENT", "TRACKING", "on", "REDIRECT", "{id:b}"),
        ("a", "CLIENT", "GETREDIR"),
        ("a", "CLIENT", "TRACKINGINFO"),
        ("a", "GET", "k"),
        ("a", "SET", "k", "1"),
        ("a", "GET", "k"),
        ("b", "SET", "k", "2"),
    ]),
    ("redirect-broken", {"a": 3, "b": 3, "w": 2}, [
        ("a", "CLIENT", "TRACKING", "on", "REDIRECT", "{id:b}"),
        ("a", "GET", "k"),
        ("close", "b"),
        ("w", "SET", "k", "1"),
        ("a", "CLIENT", "TRACKINGINFO"),
    ]),
    ("flush", {"a": 3, "b": 2, "c": 3}, [
        ("a", "CLIENT", "TRACKING", "on"),
        ("c", "CLIENT", "TRACKING", "on", "BCAST"),
        ("a", "GET", "k"),
        ("b", "FLUSHALL"),
        ("a", "GET", "k"),
        ("b", "FLUSHDB"),
        ("b", "SET", "k", "1"),
    ]),
    ("errors", {"a": 2}, [
        ("a", "CLIENT", "TRACKING", "maybe"),
        ("a", "CLIENT", "TRACKING", "on", "foo"),
        ("a", "CLIENT", "TRACKING", "on", "PREFIX", "x"),
        ("a", "CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT"),
        ("a", "CLIENT", "TRACKING", "on", "BCAST", "OPTIN"),
        ("a", "CLIENT", "TRACKING", "on", "REDIRECT", "abc"),
        ("a", "CLIENT", "TRACKING", "on", "REDIRECT", "999999"),
        ("a", "CLIENT", "TRACKING", "on", "REDIRECT", "{id:a}", "REDIRECT", "{id:a}"),
        ("a", "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "ab", "PREFIX", "a"),
        ("a", "CLIENT", "TRACKING", "on", "REDIRECT"),
        ("a", "CLIENT", "CACHING", "yes"),
        ("a", "CLIENT", "CACHING"),
        ("a", "CLIENT", "GETREDIR"),
        ("a", "CLIENT", "TRACKINGINFO"),
        ("a", "CLIENT", "TRACKING", "on", "OPTIN"),
        ("a", "CLIENT", "TRACKING", "on", "OPTOUT"),
        ("a", "CLIENT", "TRACKING", "on", "BCAST"),
        ("a", "CLIENT", "CACHING", "no"),
        ("a", "CLIENT", "CACHING", "maybe"),
        ("a", "CLIENT", "CACHING", "yes", "extra"),
        ("a", "CLIENT", "TRACKING", "off", "PREFIX", "p"),
        ("a", "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a", "PREFIX", "b"),
        ("a", "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "abc"),
        ("a", "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "b"),
        ("a", "CLIENT", "TRACKINGINFO"),
        ("a", "RESET"),
        ("a", "CLIENT", "TRACKINGINFO"),
    ]),
]

PONG = (b"+PONG\r\n", b"*2\r\n$4\r\npong\r\n$0\r\n\r\n", b">2\r\n$4\r\npong\r\n$0\r\n\r\n")


class Side:
    """One server's connections for a scenario and what each received."""

    def __init__(self, port, conns):
        self.conns, self.ids, self.log = {}, {}, []
        for name, proto in conns.items():
            c = compat.Conn("127.0.0.1", port)
            if proto == 3:
                c.call("HELLO", "3")
            self.conns[name] = c
            self.ids[name] = int(c.call("CLIENT", "ID").value)

    def expand(self, args):
        out = []
        for a in args:
            m = re.fullmatch(r"\{id:(\w)\}", a)
            out.append(str(self.ids[m.group(1)]) if m else a)
        return out

    def drain(self, name):
        """Everything pending on name, up to the reply to a PING."""
        c = self.conns[name]
        c.send(compat.encode("PING"))
        got = []
        while True:
            r = c.read()
            if r.raw in PONG:
                return got
            got.append(r.raw)

    def step(self, st):
        if st[0] == "close":
            self.conns.pop(st[1]).close()
            self.log.append((st[1], [b"<closed>"]))
            return
        name, args = st[0], self.expand(st[1:])
        c = self.conns[name]
        c.send(compat.encode(*args))
        got = []
        while True:  # pushes may come before the reply
            r = c.read()
            got.append(r.raw)
            if r.kind != ">" and not (r.kind == "*" and r.value and r.value[0].value == b"message"):
                break
        self.log.append((name, got))
        for other in sorted(self.conns):
            if other != name:
                msgs = self.drain(other)
                if msgs:
                    self.log.append((other, msgs))

    def normalized(self):
        out = []
        for name, items in self.log:
            norm = []
            for raw in items:
                for n, i in self.ids.items():
                    raw = raw.replace(b":%d\r\n" % i, b":{id:%s}\r\n" % n.encode())
                norm.append(raw)
            out.append((name, norm))
        return out

    def close(self):
        for c in self.conns.values():
            c.close()


def run_scenario(name, conns, steps, rport, kport):
    a, b = Side(rport, conns), Side(kport, conns)
    try:
        for st in steps:
            a.step(st)
            b.step(st)
        for side in (a, b):  # what came after the last reply
            for cname in sorted(side.conns):
                msgs = side.drain(cname)
                if msgs:
                    side.log.append((cname + " (end)", msgs))
        return compat.logs_agree(name, a.normalized(), b.normalized())
    finally:
        a.close()
        b.close()


def call_reply(c, *args):
    """The reply to a command, skipping pushes that come before it (an
    invalidation of a write that the read already reflects)."""
    c.send(compat.encode(*args))
    while True:
        r = c.read()
        if r.kind != ">":
            return r


def limit_check(port):
    """tracking-table-max-keys: past it, a key is dropped after its
    invalidation is sent (RaftKV drops at once; Redis does it in its cron)."""
    t = compat.Conn("127.0.0.1", port)
    c = compat.Conn("127.0.0.1", port)
    try:
        assert c.call("CONFIG", "SET", "tracking-table-max-keys", "2").raw == b"+OK\r\n"
        t.call("HELLO", "3")
        t.call("CLIENT", "TRACKING", "on")
        pushes = []
        for k in ("a", "b", "c", "d"):
            t.send(compat.encode("GET", k))
            while True:
                r = t.read()
                if r.kind != ">":
                    break
                pushes.append(r.raw)
        info = c.call("INFO", "stats").value.decode()
        keys = int(info.split("tracking_total_keys:")[1].split("\r\n")[0])
        if len(pushes) != 2 or keys != 2:
            print("FAIL limit: %d invalidations %r, %d keys tracked (want 2 and 2)" % (len(pushes), pushes, keys))
            return False
        print("ok tracking-table-max-keys")
        return True
    finally:
        c.call("CONFIG", "SET", "tracking-table-max-keys", "1000000")
        t.close()
        c.close()


def cluster_check():
    """A client tracking on a follower is invalidated when a write made
    through the leader applies there."""
    cl = compat.start_raftkv_cluster(3, ("--follower-mode", "proxy"))
    try:
        leader = cl.leader()
        follower = next(n for n in cl.nodes if n is not leader)
        t = compat.Conn("127.0.0.1", follower.port)
        t.call("HELLO", "3")
        assert t.call("CLIENT", "TRACKING", "on").raw == b"+OK\r\n"
        w = compat.Conn("127.0.0.1", leader.port)
        w.call("SET", "k", "0")
        call_reply(t, "GET", "k")
        assert w.call("SET", "k", "1").raw == b"+OK\r\n"
        t.sock.settimeout(10)
        r = t.read()  # the invalidation, once the follower applies the SET
        want = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"
        if r.raw != want:
            print("FAIL cluster: follower client got %r, want %r" % (r.raw, want))
            return False
        # A write through the follower (proxied) invalidates too.
        call_reply(t, "GET", "k")
        w2 = compat.Conn("127.0.0.1", follower.port)
        assert w2.call("SET", "k", "2").raw == b"+OK\r\n"
        r = t.read()
        if r.raw != want:
            print("FAIL cluster: after a proxied write got %r" % r.raw)
            return False
        # An expiry applied on the follower invalidates too.
        assert w.call("SET", "e", "v", "PX", "1500").raw == b"+OK\r\n"
        got = call_reply(t, "GET", "e")
        wante = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\ne\r\n"
        if got.raw != b"$1\r\nv\r\n":
            print("FAIL cluster: GET e answered %r before its expiry" % got.raw)
            return False
        r = t.read()  # the expire entry's invalidation (<= 10 s)
        if r.raw != wante:
            print("FAIL cluster: expiry invalidation %r" % r.raw)
            return False
        for c in (t, w, w2):
            c.close()
        print("ok cluster: tracking on a follower (writes through leader and follower, expiry)")
        return True
    finally:
        cl.stop()


def main():
    return compat.scenario_main(SCENARIOS, run_scenario, cluster=True, after=limit_check,
                                after_cluster=cluster_check)


if __name__ == "__main__":
    sys.exit(main())
