#!/usr/bin/python3
"""ACL behaviour that needs several connections, against redis-server 7.0.15:
each scenario drives its connections to a redis-server and to a
raftkv-server in the same order and compares every reply byte for byte
(RESP2 and RESP3 connections), and whether a connection was closed.

  /usr/bin/python3 diff_acl.py [--redis-vs-redis] [-k NAME] [--cluster]

Covered: EXEC checks every queued command again after an ACL change (the
-NOPERM inside EXEC's reply, the ACL LOG entries with context multi); ACL
SETUSER, DELUSER, WHOAMI, USERS, LIST, GETUSER inside MULTI; ACL SETUSER
disconnecting the user's subscribers its new channels no longer allow,
ACL DELUSER its clients, while other changes keep them.

A step is (conn, arg, ...); ("closed", conn) records whether conn was
closed by the server (EOF within a deadline; an open one is probed with
PING); ("log", conn, n) records ACL LOG n without its age and client-info
fields (they differ between servers by nature). With --cluster the RaftKV
side is the leader of a 3-node cluster.
"""
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat  # noqa: E402

U = ("ACL", "SETUSER", "u", "on", ">pw", "~k*", "&news*", "+@all")

SCENARIOS = [
    ("exec-rechecks-keys-and-commands", {"a": 2, "b": 2}, [
        ("b",) + U, ("a", "AUTH", "u", "pw"), ("a", "MULTI"), ("a", "SET", "k1", "v"),
        ("a", "GET", "k1"), ("a", "SET", "k2", "v"),
        ("b", "ACL", "SETUSER", "u", "resetkeys", "~k2*", "-get"),
        ("a", "EXEC"), ("a", "GET", "k2"), ("b", "GET", "k1"), ("b", "GET", "k2"),
        ("log", "b", "3")]),
    ("exec-rechecks-resp3", {"a": 3, "b": 2}, [
        ("b",) + U, ("a", "AUTH", "u", "pw"), ("a", "MULTI"), ("a", "SET", "k1", "v"),
        ("a", "INCR", "k3"), ("b", "ACL", "SETUSER", "u", "-@write"), ("a", "EXEC"),
        ("log", "b", "1")]),
    ("exec-rechecks-channels", {"a": 2, "b": 2}, [
        ("b",) + U, ("a", "AUTH", "u", "pw"), ("a", "MULTI"), ("a", "PUBLISH", "news1", "x"),
        ("a", "PUBLISH", "news2", "y"), ("b", "ACL", "SETUSER", "u", "resetchannels", "&news2"),
        ("a", "EXEC")]),
    ("exec-allowed-again", {"a": 2, "b": 2}, [
        ("b",) + U, ("a", "AUTH", "u", "pw"), ("a", "MULTI"), ("a", "SET", "x1", "v"),
        ("b", "ACL", "SETUSER", "u", "~x*"), ("a", "EXEC"), ("b", "GET", "x1")]),
    ("exec-user-deleted", {"a": 2, "b": 2}, [
        ("b",) + U, ("a", "AUTH", "u", "pw"), ("a", "MULTI"), ("a", "SET", "k1", "v"),
        ("b", "ACL", "DELUSER", "u"), ("closed", "a"), ("b", "GET", "k1")]),
    ("acl-inside-multi", {"a": 2, "b": 2}, [
        ("a", "MULTI"), ("a", "ACL", "SETUSER", "m1", "on", ">p", "+get", "~m*"),
        ("a", "ACL", "GETUSER", "m1"), ("a", "ACL", "WHOAMI"), ("a", "ACL", "USERS"),
        ("a", "ACL", "SETUSER", "m1", "+nosuch"), ("a", "ACL", "SETUSER", "m1", "(+get"),
        ("a", "ACL", "DELUSER", "default"), ("a", "ACL", "DELUSER", "m1", "nobody"),
        ("a", "ACL", "LIST"), ("a", "ACL", "GETUSER", "m1"), ("a", "EXEC"),
        ("b", "ACL", "USERS")]),
    ("acl-inside-multi-resp3", {"a": 3}, [
        ("a", "MULTI"), ("a", "ACL", "SETUSER", "m2", "on", "nopass", "&c", "+subscribe"),
        ("a", "ACL", "GETUSER", "m2"), ("a", "EXEC"), ("a", "ACL", "DELUSER", "m2")]),
    ("acl-reads-inside-multi", {"a": 2, "b": 3}, [
        ("a", "ACL", "SETUSER", "d1", "on", "nopass", "%R~r*", "+get", "+set"),
        ("a", "MULTI"), ("a", "ACL", "CAT"), ("a", "ACL", "CAT", "nosuch"), ("a", "ACL", "DRYRUN", "d1", "GET", "r1"),
        ("a", "ACL", "DRYRUN", "d1", "SET", "r1", "v"), ("a", "ACL", "DRYRUN", "nobody", "GET", "x"),
        ("a", "ACL", "DRYRUN", "d1", "nosuch"), ("a", "ACL", "HELP"), ("a", "EXEC"),
        ("b", "MULTI"), ("b", "ACL", "CAT"), ("b", "ACL", "DRYRUN", "d1", "GET", "x"),
        ("b", "EXEC")]),
    ("exec-rechecks-acl-commands", {"a": 2, "b": 2}, [
        ("b", "ACL", "SETUSER", "adm", "on", ">pw", "+@all", "~*"), ("a", "AUTH", "adm", "pw"),
        ("a", "MULTI"), ("a", "ACL", "SETUSER", "z1", "on"), ("a", "ACL", "WHOAMI"),
        ("a", "ACL", "USERS"), ("b", "ACL", "SETUSER", "adm", "-acl|setuser", "-acl|users"),
        ("a", "EXEC"), ("b", "ACL", "USERS"), ("log", "b", "2")]),
    ("acl-inside-multi-errors", {"a": 2}, [
        ("a", "MULTI"), ("a", "ACL", "SETUSER"), ("a", "ACL", "NOSUCH"), ("a", "ACL", "WHOAMI", "x"),
        ("a", "EXEC"), ("a", "MULTI"), ("a", "ACL", "WHOAMI"), ("a", "DISCARD")]),
    ("acl-multi-then-auth", {"a": 2, "b": 2}, [
        ("a", "MULTI"), ("a", "ACL", "SETUSER", "m3", "on", ">p3", "+@all", "~*"),
        ("a", "SET", "after", "1"), ("a", "EXEC"), ("b", "AUTH", "m3", "p3"), ("b", "ACL", "WHOAMI"),
        ("b", "GET", "after"), ("a", "ACL", "DELUSER", "m3"), ("closed", "b")]),
    ("channels-revoked-disconnect", {"sub": 2, "psub": 2, "other": 2, "plain": 2, "b": 2}, [
        ("b", "ACL", "SETUSER", "u", "on", ">pw", "~*", "resetchannels", "&news*", "&x", "+@all"),
        ("sub", "AUTH", "u", "pw"), ("sub", "SUBSCRIBE", "news1"),
        ("psub", "AUTH", "u", "pw"), ("psub", "PSUBSCRIBE", "news*"),
        ("other", "AUTH", "u", "pw"), ("other", "SUBSCRIBE", "x"),
        ("plain", "AUTH", "u", "pw"), ("plain", "PING"),
        ("b", "ACL", "SETUSER", "u", "resetchannels", "&news1", "&x"),
        ("closed", "psub"), ("closed", "sub"), ("closed", "other"), ("closed", "plain"),
        ("b", "ACL", "SETUSER", "u", "-ping", "resetpass", ">pw2"), ("closed", "other"),
        ("b", "ACL", "SETUSER", "u", "reset"), ("closed", "other"), ("closed", "plain")]),
    ("allchannels-revoked", {"sub": 3, "b": 2}, [
        ("b", "ACL", "SETUSER", "v", "on", "nopass", "allchannels", "+@all", "~*"),
        ("sub", "AUTH", "v", "x"), ("sub", "SUBSCRIBE", "news1"),
        ("b", "ACL", "SETUSER", "v", "&news*"), ("closed", "sub"),
        ("b", "ACL", "SETUSER", "v", "resetchannels", "&news2"), ("closed", "sub")]),
    ("allchannels-kept", {"sub": 2, "b": 2}, [
        ("b", "ACL", "SETUSER", "v", "on", "nopass", "allchannels", "+@all", "~*"),
        ("sub", "AUTH", "v", "x"), ("sub", "SUBSCRIBE", "news1"),
        ("b", "ACL", "SETUSER", "v", "-get", "(+set &zz)"), ("closed", "sub"),
        ("b", "ACL", "SETUSER", "v", "resetchannels", "&news1"), ("closed", "sub")]),
    ("selector-channels", {"sub": 2, "b": 2}, [
        ("b", "ACL", "SETUSER", "w", "on", "nopass", "resetchannels", "&a", "+@all", "~*",
         "(&c +get)"),
        ("sub", "AUTH", "w", "x"), ("sub", "SUBSCRIBE", "a"),
        ("b", "ACL", "SETUSER", "w", "clearselectors"), ("closed", "sub"),
        ("b", "ACL", "SETUSER", "w", "resetchannels", "(&a)"), ("closed", "sub")]),
    ("selector-channels-cleared", {"sub": 2, "b": 2}, [
        ("b", "ACL", "SETUSER", "w", "on", "nopass", "resetchannels", "&a", "+@all", "~*",
         "(&c +subscribe)"),
        ("sub", "AUTH", "w", "x"), ("sub", "SUBSCRIBE", "c"),
        ("b", "ACL", "SETUSER", "w", "clearselectors"), ("closed", "sub")]),
    ("other-user-changed", {"sub": 2, "b": 2}, [
        ("b", "ACL", "SETUSER", "w", "on", "nopass", "resetchannels", "&a", "+@all", "~*"),
        ("sub", "AUTH", "w", "x"), ("sub", "SUBSCRIBE", "a"),
        ("b", "ACL", "SETUSER", "z", "on", "resetchannels"), ("closed", "sub")]),
]


# Key permissions per key spec: %R~r* read-only keys, %W~w* write-only
# keys, ~b* both. A command that reads one key and writes another needs R
# on the first and W on the second only.
KS = [("b", "ACL", "SETUSER", "ks", "on", ">pw", "%R~r*", "%W~w*", "~b*", "+@all"),
      ("b", "SET", "r1", "v"), ("b", "RPUSH", "rl", "3", "1", "2"), ("b", "SADD", "rs", "m"),
      ("b", "ZADD", "rz", "1", "m"), ("a", "AUTH", "ks", "pw")]
KEYSPEC_STEPS = KS + [("a",) + c for c in [
    ("GET", "r1"), ("GET", "w1"), ("SET", "w1", "v"), ("SET", "r1", "v"), ("SET", "w1", "v", "GET"),
    ("SET", "b1", "v", "GET"), ("COPY", "r1", "w2"), ("COPY", "w2", "w3"), ("COPY", "r1", "r2"),
    ("LMOVE", "rl", "wl", "LEFT", "RIGHT"), ("LMOVE", "rl", "bl", "LEFT", "RIGHT"),
    ("LMOVE", "bl", "wl", "LEFT", "RIGHT"), ("RPOPLPUSH", "bl", "wl"), ("RPOPLPUSH", "rl", "bl"),
    ("BITOP", "AND", "w4", "r1", "b1"), ("BITOP", "AND", "r4", "r1"), ("BITOP", "OR", "w4", "w1"),
    ("BITFIELD", "r1", "GET", "u8", "0"), ("BITFIELD", "r1", "SET", "u8", "0", "1"),
    ("BITFIELD", "b2", "GET", "u8", "0", "INCRBY", "u8", "0", "1"),
    ("BITFIELD", "w13", "OVERFLOW", "SAT"), ("BITFIELD", "r1", "GET", "u8", "0", "OVERFLOW", "WRAP"),
    ("BITFIELD", "w13", "SET", "u8", "0", "1"), ("BITFIELD_RO", "r1", "GET", "u8", "0"),
    ("SORT", "rl", "STORE", "w5"), ("SORT", "rl"), ("SORT", "rl", "STORE", "r5"),
    ("SORT", "wl"), ("SORT_RO", "rl"), ("SORT", "rl", "LIMIT", "0", "1", "STORE", "w6", "ALPHA"),
    ("SUNIONSTORE", "w7", "rs"), ("SINTERSTORE", "r7", "rs"), ("SMOVE", "rs", "ws", "m"),
    ("ZUNIONSTORE", "w8", "1", "rz"), ("ZRANGESTORE", "w9", "rz", "0", "-1"),
    ("ZRANGESTORE", "w9", "wz", "0", "-1"), ("RENAME", "r1", "w10"), ("RENAME", "b1", "w10"),
    ("DEL", "w10"), ("DEL", "r1"), ("UNLINK", "w1"), ("EXISTS", "r1", "w1"), ("TYPE", "w1"),
    ("EXPIRE", "w1", "100"), ("TTL", "w1"), ("APPEND", "w11", "x"), ("STRLEN", "w11"),
    ("INCR", "w12"), ("GETDEL", "w12"), ("GETDEL", "b12"), ("GETEX", "r1"),
    ("EVAL", "return 1", "2", "r1", "w1"), ("EVAL", "return 1", "0"),
    ("EVAL", "return 1", "1", "x1"), ("MSET", "w14", "1", "b14", "2"), ("MSET", "w14", "1", "r14", "2"),
    ("MGET", "r1", "b1"), ("MGET", "r1", "w1"), ("HSET", "wh", "f", "v"), ("HGET", "wh", "f"),
    ("OBJECT", "ENCODING", "r1"), ("OBJECT", "ENCODING", "w1"),
    ("PFMERGE", "w15", "r1"), ("PFCOUNT", "r1", "w1"),
    ("SET", "w16", "v", "NX", "GET"), ("GETSET", "w17", "v"), ("GETSET", "b17", "v")]] + [
    ("b", "ACL", "DRYRUN", "ks", "COPY", "r1", "w2"), ("b", "ACL", "DRYRUN", "ks", "COPY", "w1", "w2"),
    ("b", "ACL", "DRYRUN", "ks", "SET", "w1", "v", "GET"),
    ("b", "ACL", "DRYRUN", "ks", "LMOVE", "rl", "rl", "LEFT", "LEFT"), ("log", "b", "5")]

SCENARIOS.append(("key-specs", {"a": 2, "b": 2}, KEYSPEC_STEPS))
SCENARIOS.append(("key-patterns", {"a": 2, "b": 2}, [
    ("b", "ACL", "SETUSER", "pt", "on", "nopass", "~pre:*", "~a?c*", "~x[yz]*", "~p\\*q*",
     "~*mid*", "~exact", "~star*", "+@all"), ("a", "AUTH", "pt", "x")] + [
    ("a", "EXISTS", k) for k in ["pre:", "pre:1", "pre", "Pre:1", "abc", "abcd", "ac", "xy1", "xa",
                                 "p*q", "pq", "p*qq", "amidb", "mid", "exact", "exactly", "star",
                                 "sta", "starry", "pre:\x00bin"]]))
SCENARIOS.append(("key-specs-in-exec", {"a": 2, "b": 2}, KS + [
    ("a", "MULTI"), ("a", "COPY", "r1", "w2"), ("a", "SET", "w3", "v", "GET"), ("a", "GET", "r1"),
    ("b", "ACL", "SETUSER", "ks", "resetkeys", "%W~r*", "%R~w*"), ("a", "EXEC")]))


class Side:
    def __init__(self, port, conns):
        self.conns, self.log, self.dead = {}, [], set()
        for name, proto in conns.items():
            c = compat.Conn("127.0.0.1", port)
            if proto == 3:
                c.call("HELLO", "3")
            self.conns[name] = c

    def closed(self, name):
        """True when the server closed name's connection: EOF within 2 s, or
        a PING that finds it closed."""
        if name in self.dead:
            return True
        c = self.conns[name]
        c.sock.settimeout(2.0)
        try:
            extra = c.sock.recv(1 << 16)
            if not extra:
                self.dead.add(name)
                return True
            c.buf += extra  # a push; keep it
        except socket.timeout:
            pass
        except OSError:
            self.dead.add(name)
            return True
        finally:
            c.sock.settimeout(20.0)
        try:
            c.send(b"*1\r\n$4\r\nPING\r\n")
            c.read()
            return False
        except (EOFError, OSError):
            self.dead.add(name)
            return True

    def step(self, st):
        if st[0] == "closed":
            self.log.append(("closed", st[1], self.closed(st[1])))
            return
        if st[0] == "log":
            r = self.conns[st[1]].call("ACL", "LOG", st[2])
            entries = []
            for e in r.value:
                kv = [x.raw for x in e.value]
                pairs = dict(zip(kv[0::2], kv[1::2]))
                entries.append([(k, v) for k, v in zip(kv[0::2], kv[1::2])
                                if b"age-seconds" not in k and b"client-info" not in k])
                assert pairs
            self.log.append(("log", st[2], entries))
            return
        name, args = st[0], st[1:]
        r = self.conns[name].call(*args)
        self.log.append((name, " ".join(args), r.raw))

    def close(self):
        for c in self.conns.values():
            try:
                c.close()
            except OSError:
                pass


def run_scenario(name, conns, steps, rport, kport):
    a, b = Side(rport, conns), Side(kport, conns)
    try:
        for st in steps:
            a.step(st)
            b.step(st)
        return compat.logs_agree(name, a.log, b.log)
    finally:
        a.close()
        b.close()


def reset(port):
    c = compat.Conn("127.0.0.1", port)
    c.call("FLUSHALL")
    users = c.call("ACL", "USERS")
    for u in users.value:
        if u.value != b"default":
            c.call("ACL", "DELUSER", u.value.decode())
    c.call("ACL", "LOG", "RESET")
    c.close()


def main():
    return compat.scenario_main(SCENARIOS, run_scenario, reset=reset, cluster=True)


if __name__ == "__main__":
    sys.exit(main())
