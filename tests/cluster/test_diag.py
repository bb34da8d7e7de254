"""MONITOR and SLOWLOG on a 3-node cluster (server/diag.h): a write a
follower forwards to the leader (RAFT.PROXY) shows on the leader as the
client's command, its address "proxy:<follower id>:<client addr>"; the
follower shows it with the client's own address; the peer traffic itself
(RAFT.MSG, RAFT.PROXY, ...) never shows on any node."""
import re
import socket
import time

LINE = re.compile(rb"^\+\d+\.\d{6} \[(\d+) ([^\]]*)\] (.*)$")


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Raw:
    """A connection read line by line (replies here are one line each)."""

    def __init__(self, node):
        self.sock = socket.create_connection(("127.0.0.1", node.port), timeout=20)
        self.buf = b""

    def addr(self):
        return "%s:%d" % self.sock.getsockname()

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed"
            self.buf += chunk
        out, self.buf = self.buf.split(b"\r\n", 1)
        return out

    def exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed"
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read(self):
        """One RESP2 reply: lists, bytes, ints; an error raises."""
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind == b"*":
            return [self.read() for _ in range(int(rest))]
        if kind == b"$":
            return self.exact(int(rest) + 2)[:-2] if int(rest) >= 0 else None
        if kind == b":":
            return int(rest)
        assert kind == b"+", line
        return rest

    def call(self, *args):
        self.sock.sendall(encode(*args))
        return self.line()

    def close(self):
        self.sock.close()


def monitor(node):
    m = Raw(node)
    assert m.call("MONITOR") == b"+OK"
    return m


def lines_until(m, last, timeout=20):
    """Monitor lines (db, addr, args) up to the one whose args are last."""
    out = []
    deadline = time.monotonic() + timeout
    while True:
        assert time.monotonic() < deadline, "no %r among %r" % (last, out)
        mt = LINE.match(m.line())
        assert mt, out
        out.append((int(mt.group(1)), mt.group(2).decode(), mt.group(3)))
        if mt.group(3) == last:
            return out


def test_monitor_shows_forwarded_commands_marked(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    f = c.followers()[0]
    lmon, fmon = monitor(ld), monitor(f)
    cl = Raw(f)
    me = cl.addr()
    assert cl.call("SET", "pk", "p\nv") == b"+OK"
    assert cl.call("SELECT", "2") == b"+OK"
    assert cl.call("MULTI") == b"+OK"
    assert cl.call("SET", "t", "1") == b"+QUEUED"
    assert cl.call("INCR", "t") == b"+QUEUED"
    assert cl.call("EXEC") == b"*2"
    assert cl.line() == b"+OK" and cl.line() == b":2"
    assert cl.call("SET", "end", "x") == b"+OK"
    end = b'"SET" "end" "x"'

    marked = "proxy:%d:%s" % (f.id, me)
    got = lines_until(lmon, end)
    # Heartbeats and the proxy itself flowed all along: none of it shows.
    assert not any(b"RAFT." in args.upper() for _, _, args in got), got
    mine = [(db, args) for db, addr, args in got if addr == marked]
    assert mine == [(0, b'"SET" "pk" "p\\nv"'), (2, b'"SET" "t" "1"'), (2, b'"INCR" "t"'),
                    (2, end)], got

    got = lines_until(fmon, end)
    assert not any(b"RAFT." in args.upper() for _, _, args in got), got
    mine = [(db, args) for db, addr, args in got if addr == me]
    assert mine == [(0, b'"SET" "pk" "p\\nv"'), (2, b'"SELECT" "2"'), (2, b'"MULTI"'),
                    (2, b'"SET" "t" "1"'), (2, b'"INCR" "t"'), (2, b'"EXEC"'), (2, end)], got
    for conn in (lmon, fmon, cl):
        conn.close()


def test_slowlog_on_the_leader_names_the_follower(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    f = c.followers()[0]
    admin = Raw(ld)
    assert admin.call("CONFIG", "SET", "slowlog-log-slower-than", "0") == b"+OK"
    assert admin.call("SLOWLOG", "RESET") == b"+OK"
    cl = Raw(f)
    assert cl.call("SET", "slowkey", "v") == b"+OK"
    admin.sock.sendall(encode("SLOWLOG", "GET", "-1"))
    raw = admin.read()
    assert admin.call("CONFIG", "SET", "slowlog-log-slower-than", "10000") == b"+OK"
    admin.close()
    entries = [e for e in raw if e[3] == [b"SET", b"slowkey", b"v"]]
    assert len(entries) == 1, raw
    assert entries[0][4] == ("proxy:%d:%s" % (f.id, cl.addr())).encode()
    assert not any(e[3][0].upper().startswith(b"RAFT.") for e in raw), raw
    cl.close()


def test_slowlog_logs_a_waiting_read_once(make_cluster):
    """A read that waits for its ReadIndex round (every read of a 3-node
    cluster in linearizable mode) is logged once, when it runs, on the
    node the client is connected to."""
    c = make_cluster(3)
    for node in [c.leader()] + c.followers():
        cl = Raw(node)
        assert cl.call("CONFIG", "SET", "slowlog-log-slower-than", "0") == b"+OK"
        assert cl.call("SLOWLOG", "RESET") == b"+OK"
        assert cl.call("SET", "rk", "v") == b"+OK"
        assert cl.call("GET", "rk") == b"$1" and cl.line() == b"v"
        # a pipeline: the GET waits behind the client's own write
        cl.sock.sendall(encode("SET", "rk", "w") + encode("GET", "rk"))
        assert cl.line() == b"+OK" and cl.line() == b"$1" and cl.line() == b"w"
        cl.sock.sendall(encode("SLOWLOG", "GET", "-1"))
        raw = cl.read()
        assert cl.call("CONFIG", "SET", "slowlog-log-slower-than", "10000") == b"+OK"
        gets = [e for e in raw if e[3] == [b"GET", b"rk"]]
        assert len(gets) == 2 and all(e[4] == cl.addr().encode() for e in gets), raw
        cl.close()
