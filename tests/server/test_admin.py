"""The operator's commands: CLIENT KILL (every filter), CLIENT PAUSE /
UNPAUSE, CLIENT REPLY, CLIENT NO-EVICT, DEBUG (SLEEP, SET-ACTIVE-EXPIRE,
OBJECT) and CONFIG REWRITE. The file passes against redis-server 7.0 too
(RAFTKV_SERVER_KIND=redis); RaftKV's own behaviour (MAXAGE, which is Redis
7.4's; cluster-secret; the file mode) is marked."""
import os
import socket
import stat
import time

import pytest

from conftest import IS_RAFTKV, IS_REDIS, Error, encode, wait_until

DEBUG_ON = ("--enable-debug-command", "yes")
DEBUG_REFUSED = ("ERR DEBUG command not allowed. If the enable-debug-command option is set to "
                 "\"local\", you can run it from a local connection, otherwise you need to set "
                 "this option in the configuration file, and then restart the server.")


def fields(c):
    """CLIENT INFO of connection c as a dict of str."""
    line = c.call("CLIENT", "INFO").decode().strip()
    return dict(kv.split("=", 1) for kv in line.split(" "))


def client_ids(c):
    lines = c.call("CLIENT", "LIST").decode().strip().split("\n")
    return sorted(int(dict(kv.split("=", 1) for kv in ln.split(" "))["id"]) for ln in lines if ln)


def wait_connections(c, n):
    """Waits until the server counts exactly n connections (a client that
    just closed may not be noticed yet)."""
    wait_until(lambda: len(client_ids(c)) == n, what="%d connections" % n)


def no_reply_within(r, seconds):
    """True when nothing arrives on r for `seconds` (a held command must
    not be answered: this bounded wait is the check itself)."""
    r.sock.settimeout(seconds)
    try:
        chunk = r.sock.recv(1 << 16)
    except socket.timeout:
        return True
    finally:
        r.sock.settimeout(10.0)
    r.buf += chunk
    return False


# ------------------------------------------------------------ CLIENT KILL


def test_client_kill_old_form(server):
    admin, victim = server.raw(), server.raw()
    addr = fields(victim)["addr"]
    assert admin.call_raw("CLIENT", "KILL", addr) == b"+OK\r\n"
    assert victim.expect_closed() == b""
    wait_connections(admin, 1)
    assert admin.call_raw("CLIENT", "KILL", addr) == b"-ERR No such client\r\n"
    # the old form may kill the caller itself: its +OK, then the close
    me = server.raw()
    assert me.call_raw("CLIENT", "KILL", fields(me)["addr"]) == b"+OK\r\n"
    assert me.expect_closed() == b""
    assert admin.call("PING") == "PONG"


def test_client_kill_id_addr_laddr(server):
    admin = server.raw()
    v1, v2, v3 = server.raw(), server.raw(), server.raw()
    wait_connections(admin, 4)
    id1 = v1.call("CLIENT", "ID")
    assert admin.call_raw("CLIENT", "KILL", "ID", id1) == b":1\r\n"
    assert v1.expect_closed() == b""
    assert admin.call_raw("CLIENT", "KILL", "ID", id1) == b":0\r\n"
    assert admin.call_raw("CLIENT", "KILL", "ADDR", fields(v2)["addr"]) == b":1\r\n"
    assert v2.expect_closed() == b""
    # filters are ANDed: LADDR matches every connection, ID picks one
    f3 = fields(v3)
    assert admin.call_raw("CLIENT", "KILL", "LADDR", f3["laddr"], "ID", f3["id"]) == b":1\r\n"
    assert v3.expect_closed() == b""
    assert admin.call_raw("CLIENT", "KILL", "ADDR", fields(admin)["addr"], "ID", f3["id"]) == b":0\r\n"
    assert admin.call("PING") == "PONG"


def test_client_kill_type_user_skipme(server):
    admin = server.raw()
    sub, n1, n2 = server.raw(), server.raw(), server.raw()
    assert sub.call("SUBSCRIBE", "ch") == [b"subscribe", b"ch", 1]
    wait_connections(admin, 4)
    # one node alone has no peer connections: no master, no replica
    for t in ("master", "replica", "slave", "MASTER"):
        assert admin.call_raw("CLIENT", "KILL", "TYPE", t) == b":0\r\n"
    assert admin.call_raw("CLIENT", "KILL", "TYPE", "pubsub") == b":1\r\n"
    assert sub.expect_closed() == b""
    assert n1.call("PING") == "PONG"
    # TYPE normal: every normal connection but the caller (SKIPME yes)
    assert admin.call_raw("CLIENT", "KILL", "TYPE", "normal") == b":2\r\n"
    assert n1.expect_closed() == b"" and n2.expect_closed() == b""
    assert admin.call("PING") == "PONG"
    u1 = server.raw()
    wait_connections(admin, 2)
    assert admin.call_raw("CLIENT", "KILL", "USER", "default") == b":1\r\n"
    assert u1.expect_closed() == b""
    assert admin.call_raw("CLIENT", "KILL", "USER", "nobody") == b"-ERR No such user 'nobody'\r\n"
    # SKIPME no: the caller too, after its reply
    me = server.raw()
    assert me.call_raw("CLIENT", "KILL", "ID", me.call("CLIENT", "ID"), "SKIPME", "no") == b":1\r\n"
    assert me.expect_closed() == b""
    assert admin.call_raw("CLIENT", "KILL", "ID", admin.call("CLIENT", "ID"), "SKIPME", "yes") == b":0\r\n"
    assert admin.call("PING") == "PONG"


@pytest.mark.parametrize("args,err", [
    (("ID", "0"), "ERR client-id should be greater than 0"),
    (("ID", "x"), "ERR client-id should be greater than 0"),
    (("ID", "5", "TYPE"), "ERR syntax error"),
    (("TYPE", "foo"), "ERR Unknown client type 'foo'"),
    (("SKIPME", "maybe"), "ERR syntax error"),
    (("USER", "Default"), "ERR No such user 'Default'"),
    (("foo", "bar"), "ERR syntax error"),
    ((), "ERR wrong number of arguments for 'client|kill' command"),
])
def test_client_kill_errors(raw, args, err):
    assert raw.call("CLIENT", "KILL", *args) == Error(err)


def test_client_kill_maxage(server):
    """MAXAGE (Redis 7.4; redis-server 7.0 answers a syntax error): kills
    connections at least that many seconds old."""
    admin, old = server.raw(), server.raw()
    if IS_REDIS:
        assert admin.call("CLIENT", "KILL", "MAXAGE", "1") == Error("ERR syntax error")
        return
    assert admin.call("CLIENT", "KILL", "MAXAGE", "0") == Error("ERR maxage should be greater than 0")
    assert admin.call("CLIENT", "KILL", "MAXAGE", "x") == \
        Error("ERR maxage is not an integer or out of range")
    wait_until(lambda: int(fields(old)["age"]) >= 1, what="a connection one second old")
    young = server.raw()
    assert young.call("PING") == "PONG"
    assert admin.call_raw("CLIENT", "KILL", "MAXAGE", "1") == b":1\r\n"  # admin: SKIPME
    assert old.expect_closed() == b""
    assert young.call("PING") == "PONG"


# ----------------------------------------------------------- CLIENT PAUSE


def test_client_pause_write_holds_writes_not_reads(server):
    admin, w, r = server.raw(), server.raw(), server.raw()
    assert admin.call("SET", "k", "v0") == "OK"
    t0 = time.monotonic()
    assert admin.call("CLIENT", "PAUSE", "1000", "WRITE") == "OK"
    w.send(encode("SET", "k", "v1") + encode("GET", "k"))  # the GET waits behind the SET
    assert r.call("GET", "k") == b"v0"
    assert no_reply_within(w, 0.3)
    assert r.call("GET", "k") == b"v0"
    # the pause ends by itself after its timeout
    assert w.read_reply() == "OK"
    assert time.monotonic() - t0 >= 0.95
    assert w.read_reply() == b"v1"
    assert r.call("GET", "k") == b"v1"


def test_client_pause_write_holds_publish_pfcount_and_queueing(server):
    admin, p, h, m = server.raw(), server.raw(), server.raw(), server.raw()
    g = server.raw()
    assert m.call("MULTI") == "OK"
    assert admin.call("CLIENT", "PAUSE", "30000", "WRITE") == "OK"
    p.send(encode("PUBLISH", "ch", "x"))
    h.send(encode("PFCOUNT", "hll"))
    g.send(encode("MIGRATE", "127.0.0.1", "1", "nokey", "0", "100"))  # a write command
    m.send(encode("SET", "k", "1"))  # held before QUEUED, as Redis 7.0 does
    assert no_reply_within(p, 0.3) and no_reply_within(h, 0.05) and no_reply_within(m, 0.05)
    assert no_reply_within(g, 0.05)
    t0 = time.monotonic()
    assert admin.call("CLIENT", "UNPAUSE") == "OK"
    assert p.read_reply() == 0
    assert h.read_reply() == 0
    assert g.read_reply() == "NOKEY"
    assert m.read_reply() == "QUEUED"
    assert time.monotonic() - t0 < 10  # released by UNPAUSE, not by the 30 s timeout
    assert m.call("EXEC") == ["OK"]
    assert admin.call("GET", "k") == b"1"


def test_client_pause_all_holds_everything_until_timeout(server):
    admin, a, b = server.raw(), server.raw(), server.raw()
    t0 = time.monotonic()
    assert admin.call("CLIENT", "PAUSE", "800", "ALL") == "OK"
    a.send(encode("GET", "k"))
    b.send(encode("CLIENT", "UNPAUSE"))  # held too (Redis 7.0): only the timeout ends it
    assert no_reply_within(a, 0.3) and no_reply_within(b, 0.05)
    assert a.read_reply() is None
    assert b.read_reply() == "OK"
    assert time.monotonic() - t0 >= 0.75


def test_client_pause_errors(raw):
    assert raw.call_raw("CLIENT", "PAUSE") == \
        b"-ERR wrong number of arguments for 'client|pause' command\r\n"
    assert raw.call("CLIENT", "PAUSE", "abc") == Error("ERR timeout is not an integer or out of range")
    assert raw.call("CLIENT", "PAUSE", "-1") == Error("ERR timeout is negative")
    assert raw.call("CLIENT", "PAUSE", "abc", "foo") == Error("ERR CLIENT PAUSE mode must be WRITE or ALL")
    assert raw.call("CLIENT", "PAUSE", "10", "write", "x") == Error(
        "ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP.")
    assert raw.call("CLIENT", "UNPAUSE", "x") == \
        Error("ERR wrong number of arguments for 'client|unpause' command")
    assert raw.call("CLIENT", "UNPAUSE") == "OK"


# ----------------------------------------------------------- CLIENT REPLY


def test_client_reply_off_skip_on_bytes(server):
    c = server.raw()
    c.send(encode("CLIENT", "REPLY", "OFF") + encode("SET", "a", "1") + encode("GET", "a") +
           encode("NOSUCH") + encode("CLIENT", "REPLY", "ON") + encode("INCR", "a"))
    assert c.read_exact(len(b"+OK\r\n:2\r\n")) == b"+OK\r\n:2\r\n"
    c.send(encode("CLIENT", "REPLY", "SKIP") + encode("INCR", "a") + encode("GET", "a"))
    assert c.read_reply_raw() == b"$1\r\n3\r\n"
    c.send(encode("CLIENT", "REPLY", "SKIP") + encode("CLIENT", "REPLY", "SKIP") +
           encode("PING") + encode("ECHO", "x"))
    assert c.read_reply_raw() == b"$1\r\nx\r\n"
    c.send(encode("CLIENT", "REPLY", "OFF") + encode("CLIENT", "REPLY", "SKIP") +
           encode("CLIENT", "REPLY", "ON") + encode("PING"))
    assert c.read_exact(len(b"+OK\r\n+PONG\r\n")) == b"+OK\r\n+PONG\r\n"
    # nothing else was sent
    assert c.call_raw("ECHO", "end") == b"$3\r\nend\r\n"
    assert c.call_raw("CLIENT", "REPLY", "maybe") == b"-ERR syntax error\r\n"
    assert c.call_raw("CLIENT", "REPLY") == b"-ERR wrong number of arguments for 'client|reply' command\r\n"


@pytest.mark.parametrize("proto", [2, 3])
def test_client_reply_off_still_delivers_pushes(server, proto):
    c, pub = server.raw(), server.raw()
    if proto == 3:
        c.call("HELLO", "3")
    c.send(encode("CLIENT", "REPLY", "OFF") + encode("SUBSCRIBE", "ch"))
    assert c.read_reply() == [b"subscribe", b"ch", 1]
    assert pub.call("PUBLISH", "ch", "hello") == 1
    assert c.read_reply() == [b"message", b"ch", b"hello"]
    c.send(encode("UNSUBSCRIBE", "ch") + encode("PING") + encode("CLIENT", "REPLY", "ON"))
    assert c.read_reply() == [b"unsubscribe", b"ch", 0]
    assert c.read_reply() == "OK"
    assert c.call("PING") == "PONG"


def test_client_no_evict(raw):
    assert raw.call_raw("CLIENT", "NO-EVICT", "on") == b"+OK\r\n"
    assert raw.call_raw("CLIENT", "NO-EVICT", "OFF") == b"+OK\r\n"
    assert raw.call_raw("CLIENT", "NO-EVICT", "maybe") == b"-ERR syntax error\r\n"
    assert raw.call_raw("CLIENT", "NO-EVICT") == \
        b"-ERR wrong number of arguments for 'client|no-evict' command\r\n"


# ------------------------------------------------------------------ DEBUG


def test_debug_refused_by_default(raw):
    assert raw.call("CONFIG", "GET", "enable-debug-command") == [b"enable-debug-command", b"no"]
    assert raw.call("DEBUG", "SLEEP", "0") == Error(DEBUG_REFUSED)
    assert raw.call("DEBUG", "HELP") == Error(DEBUG_REFUSED)


def test_debug_local_allows_loopback(make_server):
    s = make_server("--enable-debug-command", "local")
    assert s.raw().call("DEBUG", "SLEEP", "0") == "OK"


def test_debug_sleep_stops_the_server(make_server):
    s = make_server(*DEBUG_ON)
    a = s.raw()
    assert a.call("DEBUG", "SLEEP", "0") == "OK"
    t0 = time.monotonic()
    a.send(encode("DEBUG", "SLEEP", "0.6") + encode("PING"))
    assert a.read_reply() == "OK"
    assert time.monotonic() - t0 >= 0.55
    assert a.read_reply() == "PONG"


def test_debug_set_active_expire(make_server):
    s = make_server(*DEBUG_ON)
    c = s.raw()
    assert c.call("DEBUG", "SET-ACTIVE-EXPIRE", "0") == "OK"
    assert c.call("SET", "gone", "v", "PX", "50") == "OK"
    assert c.call("SET", "kept", "v") == "OK"
    # expired: invisible (KEYS neither shows nor deletes it). RaftKV's reads
    # see the time of the newest applied write: each poll writes one.
    def expired():
        c.call("SET", "kept", "v")
        return c.call("KEYS", "gone") == []
    wait_until(expired, what="the key to expire")
    # ...but its record stays while nothing expires in the background (the
    # expire cron runs every 25 ms here, every 100 ms in Redis)
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        assert c.call("DBSIZE") == 2
        time.sleep(0.05)
    assert c.call("DEBUG", "SET-ACTIVE-EXPIRE", "1") == "OK"
    wait_until(lambda: c.call("DBSIZE") == 1, what="the active expiry to delete the record")


def test_debug_object(make_server):
    s = make_server(*DEBUG_ON)
    c = s.raw()
    c.call("SET", "s", "v")
    c.call("SET", "n", "12345")
    line = c.call("DEBUG", "OBJECT", "s")
    assert line.startswith("Value at:")
    assert " refcount:1 encoding:embstr serializedlength:2 lru:" in line
    assert "lru_seconds_idle:" in line
    assert " refcount:1 encoding:int serializedlength:3 lru:" in c.call("DEBUG", "OBJECT", "n")
    assert c.call_raw("DEBUG", "OBJECT", "nokey") == b"-ERR no such key\r\n"
    assert c.call_raw("DEBUG", "OBJECT") == \
        b"-ERR unknown subcommand or wrong number of arguments for 'OBJECT'. Try DEBUG HELP.\r\n"
    assert c.call_raw("DEBUG", "nosuch") == \
        b"-ERR unknown subcommand or wrong number of arguments for 'nosuch'. Try DEBUG HELP.\r\n"
    help_lines = c.call("DEBUG", "HELP")
    assert help_lines[0] == "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    for sub in ("OBJECT <key>", "SET-ACTIVE-EXPIRE <0|1>", "SLEEP <seconds>", "HELP"):
        assert sub in help_lines


# --------------------------------------------------------- CONFIG REWRITE


def read(path):
    with open(path) as f:
        return f.read()


def test_config_rewrite_without_file(raw):
    assert raw.call_raw("CONFIG", "REWRITE") == b"-ERR The server is running without a config file\r\n"
    assert raw.call_raw("CONFIG", "REWRITE", "x") == \
        b"-ERR wrong number of arguments for 'config|rewrite' command\r\n"


def test_config_rewrite_round_trip(make_server):
    conf = ("# head comment\n"
            "maxclients 50\n"
            "\n"
            "# timeout comment\n"
            "timeout 0\n"
            "maxclients 55\n")
    s = make_server(conf=conf)
    c = s.raw()
    assert c.call("CONFIG", "GET", "maxclients") == [b"maxclients", b"55"]
    assert c.call("CONFIG", "SET", "timeout", "123") == "OK"
    assert c.call("CONFIG", "SET", "tcp-keepalive", "77") == "OK"
    with open(s.conf, "a") as f:  # a line this server does not know, added meanwhile
        f.write("no-such-setting 1\n")
    assert c.call("CONFIG", "REWRITE") == "OK"
    lines = read(s.conf).split("\n")
    # comments and order kept; changed values in place; the duplicate gone
    assert lines[:5] == ["# head comment", "maxclients 55", "", "# timeout comment", "timeout 123"]
    assert sum(1 for ln in lines if ln.startswith("maxclients")) == 1
    assert "# ??? no-such-setting 1" in lines
    sig = lines.index("# Generated by CONFIG REWRITE")
    assert "tcp-keepalive 77" in lines[sig + 1:]
    assert "port %d" % s.port in lines[sig + 1:]  # from the command line
    # a second rewrite changes nothing but what changed
    assert c.call("CONFIG", "SET", "timeout", "7") == "OK"
    assert c.call("CONFIG", "REWRITE") == "OK"
    assert read(s.conf).replace("timeout 7\n", "timeout 123\n").rstrip("\n") == \
        "\n".join(lines).rstrip("\n")
    # the restarted server reads it
    s.stop()
    s.restart()
    c = s.raw()
    assert c.call("CONFIG", "GET", "timeout") == [b"timeout", b"7"]
    assert c.call("CONFIG", "GET", "maxclients") == [b"maxclients", b"55"]
    assert c.call("CONFIG", "GET", "tcp-keepalive") == [b"tcp-keepalive", b"77"]


@pytest.mark.skipif(IS_REDIS, reason="RaftKV's cluster-secret and file mode")
def test_config_rewrite_keeps_secret_out_and_mode(make_server):
    s = make_server("--cluster-secret", "s3cret-from-argv", conf="timeout 0\n")
    os.chmod(s.conf, 0o600)
    c = s.raw()
    assert c.call("CONFIG", "SET", "requirepass", 'p "w"\n') == "OK"
    assert c.call("AUTH", 'p "w"\n') == "OK"
    assert c.call("CONFIG", "REWRITE") == "OK"
    text = read(s.conf)
    assert "cluster-secret" not in text and "s3cret" not in text
    assert 'requirepass "p \\"w\\"\\n"' in text.split("\n")
    assert stat.S_IMODE(os.stat(s.conf).st_mode) == 0o600
    s.stop()
    s.restart()
    c = s.raw()
    assert c.call("AUTH", 'p "w"\n') == "OK"

    # a file that holds it keeps it, and nothing else gets it
    s2 = make_server(conf="cluster-secret file-secret\ntimeout 0\n")
    assert s2.raw().call("CONFIG", "SET", "timeout", "9") == "OK"
    assert s2.raw().call("CONFIG", "REWRITE") == "OK"
    assert read(s2.conf).split("\n")[:2] == ['cluster-secret "file-secret"', "timeout 9"]
