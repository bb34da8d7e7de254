"""SLOWLOG, MONITOR and LATENCY on one node (server/diag.h).

SLOWLOG (slowlog-log-slower-than 0: every command) and MONITOR are compared
with redis-server 7.0.15 byte for byte, in RESP2 and RESP3, with what is not
deterministic masked: an entry's id, time and duration, a client's port, a
monitor line's timestamp. LATENCY is checked black-box: with a threshold of
1 ms, a slow command and the state commits of a large load must show in
LATEST and HISTORY, and RESET must forget them.

  RAFTKV_SERVER=build/.../raftkv-server /usr/bin/python3 -m pytest -q redis-tests/test_diag.py
"""
import re
import time

import pytest

import compat
from compat import Conn, encode

LONG = b"x" * 200  # cut to 128 bytes in a slowlog entry
MANY = [b"k%d" % i for i in range(40)]  # past the 32 arguments an entry keeps


@pytest.fixture(scope="module")
def servers():
    r = compat.start_redis()
    k = compat.start_raftkv()
    yield r, k
    k.stop()
    r.stop()


def conn(srv, proto=2):
    c = Conn(srv.host, srv.port)
    if proto == 3:
        assert c.call("HELLO", "3").kind == "%"
    return c


def ok(reply):
    assert reply.kind != "-", reply.raw
    return reply


# ------------------------------------------------------------- SLOWLOG

# The commands whose entries are compared: varied arity, long arguments,
# a client name, credentials, errors (a refused command is not logged; one
# that fails when it runs is).
SLOW_COMMANDS = [
    ("CLIENT", "SETNAME", "diag-test"),
    ("SET", "key", "value"),
    ("SET", "long", LONG),
    ("GET", LONG),
    ("DEL", *MANY),
    ("MSET", *[x for k in MANY[:20] for x in (k, b"v")]),
    ("ECHO", b"a\x00b\r\n"),
    ("AUTH", "someone", "secret"),
    ("HELLO", "{proto}", "AUTH", "default", "pw"),
    ("INCR", "key"),
    ("NOSUCHCOMMAND", "a"),
    ("GET",),
    ("PING",),
]


def slowlog_entries(srv, proto):
    c = conn(srv, proto)
    ok(c.call("CONFIG", "SET", "slowlog-log-slower-than", "0"))
    ok(c.call("CONFIG", "SET", "slowlog-max-len", "128"))
    ok(c.call("SLOWLOG", "RESET"))
    for cmd in SLOW_COMMANDS:
        c.call(*[str(proto) if a == "{proto}" else a for a in cmd])
    got = ok(c.call("SLOWLOG", "GET", "-1"))
    length = c.call("SLOWLOG", "LEN")
    c.call("CONFIG", "SET", "slowlog-log-slower-than", "10000")
    c.close()
    return got, length


def mask_entry(e):
    """[id, time, usec, args, addr, name] with id, time, usec and the
    client's port masked (their types kept)."""
    assert e.kind == "*" and len(e.value) == 6, e.raw
    idr, t, us, args, addr, name = e.value
    assert idr.kind == ":" and t.kind == ":" and us.kind == ":", e.raw
    assert abs(int(t.value) - time.time()) < 60
    assert int(us.value) >= 0
    host = addr.value.rsplit(b":", 1)[0]
    return (args.raw, host, name.raw)


@pytest.mark.parametrize("proto", [2, 3])
def test_slowlog_entries_as_redis(servers, proto):
    r, k = servers
    want, want_len = slowlog_entries(r, proto)
    got, got_len = slowlog_entries(k, proto)
    assert got.kind == want.kind == "*"
    assert [mask_entry(e) for e in got.value] == [mask_entry(e) for e in want.value]
    assert got_len.raw == want_len.raw
    # newest first, ids consecutive
    ids = [int(e.value[0].value) for e in got.value]
    assert ids == list(range(ids[0], ids[0] - len(ids), -1))


def test_slowlog_truncation(servers):
    """The rules themselves, so the comparison above cannot pass by both
    sides losing the entries."""
    _, k = servers
    got, _ = slowlog_entries(k, 2)
    by_cmd = {}
    for e in got.value:
        args = [a.value for a in e.value[3].value]
        by_cmd.setdefault(args[0].upper(), args)
    dele = by_cmd[b"DEL"]
    assert len(dele) == 32 and dele[-1] == b"... (10 more arguments)"
    assert by_cmd[b"GET"] == [b"GET", b"x" * 128 + b"... (72 more bytes)"]
    assert by_cmd[b"AUTH"] == [b"AUTH", b"(redacted)", b"(redacted)"]
    assert b"NOSUCHCOMMAND" not in by_cmd


def test_slowlog_max_len_threshold_and_errors(servers):
    r, k = servers
    for srv in (r, k):
        c = conn(srv)
        ok(c.call("CONFIG", "SET", "slowlog-log-slower-than", "0"))
        ok(c.call("CONFIG", "SET", "slowlog-max-len", "5"))
        for i in range(20):
            c.call("PING")
        assert c.call("SLOWLOG", "LEN").raw == b":5\r\n"
        assert len(c.call("SLOWLOG", "GET").value) == 5
        assert len(c.call("SLOWLOG", "GET", "2").value) == 2
        ok(c.call("CONFIG", "SET", "slowlog-log-slower-than", "-1"))
        ok(c.call("SLOWLOG", "RESET"))
        c.call("PING")
        assert c.call("SLOWLOG", "LEN").raw == b":0\r\n"
        ok(c.call("CONFIG", "SET", "slowlog-log-slower-than", "10000"))
        ok(c.call("CONFIG", "SET", "slowlog-max-len", "128"))
        c.close()
    cases = [("SLOWLOG", "GET", "-2"), ("SLOWLOG", "GET", "abc"), ("SLOWLOG", "GET", "1", "2"),
             ("SLOWLOG", "LEN", "x"), ("SLOWLOG", "RESET", "x"), ("SLOWLOG", "FOO"),
             ("SLOWLOG",), ("SLOWLOG", "HELP"), ("CONFIG", "GET", "slowlog-max-len"),
             ("CONFIG", "GET", "slowlog-log-slower-than"),
             ("CONFIG", "SET", "slowlog-log-slower-than", "-5"),
             ("CONFIG", "GET", "latency-monitor-threshold")]
    cr, ck = conn(r), conn(k)
    for cmd in cases:
        want, got = cr.call(*cmd), ck.call(*cmd)
        if cmd[:2] == ("CONFIG", "SET"):  # the range in the message is the type's
            assert got.kind == want.kind == "-", (cmd, got.raw)
            continue
        assert got.raw == want.raw, cmd
    cr.close()
    ck.close()


# ------------------------------------------------------------- MONITOR

MON_COMMANDS = [
    ("SET", b"k\x01\"\\\n\t\r\a\b", "12345"),
    ("GET", b"\xff\xe9 a"),
    ("ECHO", ""),
    ("AUTH", "x", "y"),
    ("HELLO", "2", "AUTH", "default", "pw"),
    ("SELECT", "3"),
    ("SET", "in3", "v"),
    ("MULTI",),
    ("SET", "a", "1"),
    ("INCR", "a"),
    ("EXEC",),
    ("SELECT", "0"),
    ("CONFIG", "GET", "port"),  # admin: not shown
    ("SLOWLOG", "LEN"),  # admin: not shown
    ("NOSUCH", "a"),  # refused: not shown
    ("GET",),  # refused: not shown
    ("CLIENT", "ID"),
    ("DEL", "k"),
    ("PING", "last"),
]

TS = re.compile(rb"^\+(\d+)\.(\d{6}) \[(\d+) ([^\]]*)\] (.*)$")


def monitor_lines(srv, proto):
    """What a monitor (in proto) sees of MON_COMMANDS sent by another
    client, then its own PING, GET and RESET: lines with the timestamp
    and the client's port masked."""
    m = conn(srv, proto)
    assert m.call("MONITOR").raw == b"+OK\r\n"
    other = conn(srv)
    myaddr = "%s:%d" % other.sock.getsockname()
    for cmd in MON_COMMANDS:
        other.call(*cmd)
    other.call("PING", "end")
    out = []
    while True:
        r = m.read()
        line = r.raw.rstrip(b"\r\n")
        mt = TS.match(line)
        assert mt, line
        assert abs(int(mt.group(1)) - time.time()) < 60
        addr = mt.group(4).decode()
        assert addr == myaddr, (addr, myaddr)
        out.append(b"[%s addr] %s" % (mt.group(3), mt.group(5)))
        if mt.group(5) == b'"PING" "end"':
            break
    # the monitor itself: a PING is answered (then shown), a data command
    # refused, RESET leaves monitor mode
    own = [m.call("PING").raw, m.read().raw.split(b"] ", 1)[1], m.call("GET", "x").raw,
           m.call("RESET").raw]
    other.call("PING", "after-reset")
    own.append(m.call("PING").raw)  # nothing of the other client's PING came first
    m.close()
    other.close()
    return out, own


@pytest.mark.parametrize("proto", [2, 3])
def test_monitor_lines_as_redis(servers, proto):
    r, k = servers
    want = monitor_lines(r, proto)
    got = monitor_lines(k, proto)
    assert got == want


def test_monitor_escapes_and_redaction(servers):
    _, k = servers
    lines, own = monitor_lines(k, 2)
    assert lines[0] == b'[0 addr] "SET" "k\\x01\\"\\\\\\n\\t\\r\\a\\b" "12345"'
    assert lines[1] == b'[0 addr] "GET" "\\xff\\xe9 a"'
    assert b'"AUTH" "(redacted)" "(redacted)"' in lines[3]
    assert not any(b"CONFIG" in x or b"SLOWLOG" in x or b"NOSUCH" in x for x in lines)
    assert own[2] == b"-ERR Replica can't interact with the keyspace\r\n"


# ------------------------------------------------------------- LATENCY


def latest(c):
    r = ok(c.call("LATENCY", "LATEST"))
    out = {}
    for e in r.value:
        assert e.kind == "*" and len(e.value) == 4, e.raw
        name, t, last, mx = e.value
        assert name.kind == "$" and t.kind == ":" and last.kind == ":" and mx.kind == ":"
        assert int(last.value) <= int(mx.value)
        out[name.value.decode()] = (int(t.value), int(last.value), int(mx.value))
    return out


def test_latency_events(servers):
    _, k = servers
    c = conn(k)
    assert c.call("LATENCY", "RESET").kind == ":"
    assert latest(c) == {}
    assert b"disabled" in ok(c.call("LATENCY", "DOCTOR")).value
    ok(c.call("CONFIG", "SET", "latency-monitor-threshold", "1"))
    try:
        # A large load: its state commits write most of the state's pages.
        n, batch = 100000, 1000
        for base in range(0, n, batch):
            args = ["MSET"]
            for i in range(base, base + batch):
                args += ["lat:%d" % i, "v" * 20]
            c.send(encode(*args))
        for _ in range(0, n, batch):
            ok(c.read())
        ok(c.call("SAVE"))
        # A command slow by any measure: KEYS over every key.
        assert len(ok(c.call("KEYS", "*")).value) >= n
        ev = compat.wait_until(lambda: (lambda l: l if {"command", "state-commit"} <= set(l)
                                        else None)(latest(c)), 20, "command and state-commit")
        now = time.time()
        for name, (t, last, mx) in ev.items():
            assert abs(t - now) < 60 and last >= 1 and mx >= last, (name, ev[name])
        hist = ok(c.call("LATENCY", "HISTORY", "command"))
        assert hist.value and all(len(s.value) == 2 and int(s.value[1].value) >= 1
                                  for s in hist.value)
        assert ok(c.call("LATENCY", "HISTORY", "no-such-event")).raw == b"*0\r\n"
        doctor = ok(c.call("LATENCY", "DOCTOR"))
        assert b"command" in doctor.value and b"state-commit" in doctor.value
        assert c.call("LATENCY", "RESET", "command", "no-such-event").raw == b":1\r\n"
        assert "command" not in latest(c)
        assert "state-commit" in latest(c)
        assert c.call("LATENCY", "RESET").kind == ":"
        assert latest(c) == {}
    finally:
        c.call("CONFIG", "SET", "latency-monitor-threshold", "0")
        c.call("FLUSHALL")
        c.close()


def test_latency_errors_as_redis(servers):
    r, k = servers
    cases = [("LATENCY",), ("LATENCY", "HISTORY"), ("LATENCY", "LATEST", "x"),
             ("LATENCY", "FOO"), ("LATENCY", "RESET", "a", "b"), ("LATENCY", "HISTORY", "none")]
    cr, ck = conn(r), conn(k)
    ok(cr.call("LATENCY", "RESET"))
    for cmd in cases:
        assert ck.call(*cmd).raw == cr.call(*cmd).raw, cmd
    cr.close()
    ck.close()


def test_monitor_in_client_list(servers):
    """A monitor is flagged O in CLIENT LIST, as in Redis."""
    for srv in servers:
        m = conn(srv)
        assert m.call("MONITOR").raw == b"+OK\r\n"
        other = conn(srv)
        mine = "%s:%d" % m.sock.getsockname()
        text = ok(other.call("CLIENT", "LIST")).value.decode()
        line = [x for x in text.splitlines() if " addr=%s " % mine in x]
        assert len(line) == 1 and " flags=O " in line[0], (srv.kind, text)
        m.close()
        other.close()
