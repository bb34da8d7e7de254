"""The wire protocol, over raw sockets: errors byte for byte and the close
after them, limits, inline requests, pipelining, fragmentation, binary
safety, clients vanishing mid-command, HELLO and RESP3 encodings."""
import socket
import struct
import time

import pytest

from conftest import IS_REDIS, Error, Map, Verbatim, encode, wait_until

# (request bytes, exact error reply). Each is sent on a fresh connection,
# must be answered with exactly the reply, and the server must then close.
PROTOCOL_ERRORS = [
    (b"*abc\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*3000000000\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*1\r\n$-5\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$abc\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$99999999999999999999\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    # above the default proto-max-bulk-len of 512 MB
    (b"*2\r\n$3\r\nGET\r\n$536870913\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\nPING\r\n", b"-ERR Protocol error: expected '$', got 'P'\r\n"),
    (b"*2\r\n$3\r\nGET\r\n:1\r\n", b"-ERR Protocol error: expected '$', got ':'\r\n"),
    (b'SET k "abc\r\n', b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    (b"SET k 'abc\r\n", b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    (b'SET k "abc"def\r\n', b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    (b"a" * 70000, b"-ERR Protocol error: too big inline request\r\n"),
    (b"*" + b"1" * 70000, b"-ERR Protocol error: too big mbulk count string\r\n"),
    (b"*1\r\n$" + b"1" * 70000, b"-ERR Protocol error: too big bulk count string\r\n"),
]


@pytest.mark.parametrize("req,reply", PROTOCOL_ERRORS, ids=[repr(p[0][:24]) for p in PROTOCOL_ERRORS])
def test_protocol_error_then_close(server, req, reply):
    c = server.raw()
    try:
        c.send(req)
    except (BrokenPipeError, ConnectionResetError):
        pass  # closed while we were still writing; the reply must still be there
    assert c.expect_closed() == reply
    # the server and the data are unaffected
    assert server.raw().call("PING") == "PONG"


def test_replies_before_protocol_error_are_sent(server):
    c = server.raw()
    c.send(b"PING\r\n*1\r\n$4\r\nECHO\r\n*1\r\nx\r\n*1\r\n$4\r\nPING\r\n")
    out = c.expect_closed()
    assert out == (b"+PONG\r\n-ERR wrong number of arguments for 'echo' command\r\n"
                   b"-ERR Protocol error: expected '$', got 'x'\r\n")


def test_empty_requests_are_ignored(server):
    c = server.raw()
    c.send(b"\r\n\r\n*0\r\n*-1\r\nPING\r\n\n*1\r\n$4\r\nPING\r\n")
    assert c.read_reply_raw() == b"+PONG\r\n"
    assert c.read_reply_raw() == b"+PONG\r\n"
    assert c.call_raw("ECHO", "still-open") == b"$10\r\nstill-open\r\n"


def test_proto_max_bulk_len_from_config(make_server):
    # 1 MB is the lowest value redis-server accepts for this key.
    limit = 1024 * 1024
    s = make_server("--proto-max-bulk-len", str(limit))
    c = s.raw()
    assert c.call_raw("CONFIG", "GET", "proto-max-bulk-len") == \
        b"*2\r\n$18\r\nproto-max-bulk-len\r\n$7\r\n1048576\r\n"
    # exactly the limit is accepted
    big = b"x" * limit
    assert c.call_raw("SET", "k", big) == b"+OK\r\n"
    assert c.call("STRLEN", "k") == limit
    if IS_REDIS:  # growing a string past it is refused
        assert c.call_raw("APPEND", "k", "y") == \
            b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"
        assert c.call_raw("SETRANGE", "k2", limit, "y") == \
            b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"
    else:  # on purpose: growth is bounded by a constant 512 MB, the same on every node
        assert c.call_raw("APPEND", "k", "y") == b":1048577\r\n"
        assert c.call_raw("SETRANGE", "k2", limit, "y") == b":1048577\r\n"
    assert c.call_raw("SETRANGE", "k3", limit - 1, "y") == b":1048576\r\n"
    # one byte over in a request: protocol error, then close
    c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % (limit + 1))
    assert c.expect_closed() == b"-ERR Protocol error: invalid bulk length\r\n"
    assert s.raw().call("STRLEN", "k") == (limit if IS_REDIS else limit + 1)


def test_client_query_buffer_limit(make_server):
    # 1 MB is the lowest value redis-server accepts for this key.
    s = make_server("--client-query-buffer-limit", "1mb")
    c = s.raw()
    assert c.call("CONFIG", "GET", "client-query-buffer-limit") == \
        [b"client-query-buffer-limit", b"1048576"]
    assert c.call_raw("SET", "k", b"x" * 600000) == b"+OK\r\n"  # under the limit: served
    # a bulk string announced at 2 MB, sent in part: past 1 MB pending, the
    # connection is closed without a reply, and nothing is applied
    c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % (2 << 20))
    chunk = b"y" * 65536
    closed = False
    for _ in range(40):
        try:
            c.send(chunk)
        except OSError:
            closed = True
            break
    if not closed:
        assert c.expect_closed() == b""
    other = s.raw()
    assert other.call("STRLEN", "k") == 600000
    assert other.call("CONFIG", "SET", "client-query-buffer-limit", "1gb") == "OK"
    assert other.call("CONFIG", "GET", "client-query-buffer-limit") == \
        [b"client-query-buffer-limit", b"1073741824"]


def test_inline_commands_and_quoting(server):
    c = server.raw()
    c.send(b'SET k1 "hello world"\r\n')
    assert c.read_reply_raw() == b"+OK\r\n"
    c.send(b"SET k2 'it''s'\r\n")  # adjacent quotes: an error in Redis
    assert c.expect_closed() == b"-ERR Protocol error: unbalanced quotes in request\r\n"
    c = server.raw()
    c.send(b'SET k2 "a\\x41\\n\\"b"\r\n')
    assert c.read_reply_raw() == b"+OK\r\n"
    c.send(b"SET k3 'single \\' quote'\r\n")
    assert c.read_reply_raw() == b"+OK\r\n"
    c.send(b'   SET   k4   ""   \n')  # extra blanks, empty arg, bare LF
    assert c.read_reply_raw() == b"+OK\r\n"
    c.send(b"GET k1\r\nGET k2\r\nGET k3\r\nGET k4\r\nEXISTS k4\n")
    assert c.read_reply_raw() == b"$11\r\nhello world\r\n"
    assert c.read_reply_raw() == b'$5\r\naA\n"b\r\n'
    assert c.read_reply_raw() == b"$14\r\nsingle ' quote\r\n"
    assert c.read_reply_raw() == b"$0\r\n\r\n"
    assert c.read_reply_raw() == b":1\r\n"


def test_inline_unknown_command_and_arity(server):
    c = server.raw()
    c.send(b"foo a b\r\nGET\r\n")
    assert c.read_reply_raw() == b"-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n"
    assert c.read_reply_raw() == b"-ERR wrong number of arguments for 'get' command\r\n"


def test_unknown_command_exact_text(server):
    c = server.raw()
    assert c.call_raw("foo", "a", "b") == b"-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n"
    assert c.call_raw("foo") == b"-ERR unknown command 'foo', with args beginning with: \r\n"
    assert c.call_raw("FooBar", "x") == b"-ERR unknown command 'FooBar', with args beginning with: 'x' \r\n"
    # the connection stays usable
    assert c.call_raw("PING") == b"+PONG\r\n"


@pytest.mark.parametrize("args,name", [
    (("GET",), "get"), (("get", "a", "b"), "get"), (("SET", "k"), "set"),
    (("INCR",), "incr"), (("MSET", "a"), "mset"), (("MSET", "a", "1", "b"), "mset"),
    (("EXPIRE", "k"), "expire"), (("ECHO",), "echo"), (("PING", "a", "b"), "ping"),
    (("SETBIT", "k", "1"), "setbit"), (("DEL",), "del"), (("DBSIZE", "x"), "dbsize"),
    (("GETRANGE", "k", "0"), "getrange"), (("CONFIG", "GET"), "config|get"),
])
def test_wrong_arity_text(server, args, name):
    c = server.raw()
    assert c.call_raw(*args) == b"-ERR wrong number of arguments for '%s' command\r\n" % name.encode()
    assert c.call_raw("PING") == b"+PONG\r\n"


def test_pipeline_1000_in_one_write(server):
    c = server.raw()
    n = 1000
    req = b"".join(encode("INCR", "ctr") for _ in range(n // 2))
    req += b"".join(encode("SET", "k%d" % i, "v%d" % i) for i in range(n // 4))
    req += b"".join(encode("GET", "k%d" % i) for i in range(n // 4))
    c.send(req)
    for i in range(n // 2):
        assert c.read_reply_raw() == b":%d\r\n" % (i + 1)
    for i in range(n // 4):
        assert c.read_reply_raw() == b"+OK\r\n"
    for i in range(n // 4):
        v = b"v%d" % i
        assert c.read_reply_raw() == b"$%d\r\n%s\r\n" % (len(v), v)
    # also 1000 inline commands in one write
    c.send(b"".join(b"INCR ctr2\r\n" for _ in range(n)))
    for i in range(n):
        assert c.read_reply() == i + 1


def test_command_sent_one_byte_at_a_time(server):
    c = server.raw()
    req = encode("SET", "frag", "hello\r\nworld") + b"GET frag\r\n" + encode("INCRBY", "n", "12345")
    for i in range(len(req)):
        c.send(req[i:i + 1])
        if i % 3 == 0:
            time.sleep(0.001)  # give the server separate reads
    assert c.read_reply_raw() == b"+OK\r\n"
    assert c.read_reply_raw() == b"$12\r\nhello\r\nworld\r\n"
    assert c.read_reply_raw() == b":12345\r\n"


def test_binary_keys_and_values(server):
    c = server.raw()
    key = b"k\x00\r\n\xff\x01 \"'"
    val = bytes(range(256)) * 4
    assert c.call_raw("SET", key, val) == b"+OK\r\n"
    assert c.call("GET", key) == val
    assert c.call("STRLEN", key) == len(val)
    assert c.call("KEYS", "*") == [key]
    assert c.call("EXISTS", key) == 1
    assert c.call("EXISTS", b"k") == 0
    assert c.call_raw("APPEND", key, b"\x00\r\n") == b":%d\r\n" % (len(val) + 3)
    assert c.call("GETRANGE", key, -3, -1) == b"\x00\r\n"
    r = server.client()
    assert r.get(key) == val + b"\x00\r\n"
    r.set(b"\x00", b"")
    assert r.get(b"\x00") == b""
    assert r.mget([b"\x00", key, b"missing"]) == [b"", val + b"\x00\r\n", None]


def test_client_disconnect_mid_command(server):
    other = server.raw()
    assert other.call("SET", "x", "orig") == "OK"
    # half a bulk, then a normal close
    c = server.raw()
    c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$100\r\nabc")
    c.close()
    # half a header, then a reset (SO_LINGER 0)
    c = server.raw()
    c.send(b"*3\r\n$3\r\nSET\r\n$1")
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    # whole commands then vanish without reading the replies
    c = server.raw()
    c.send(b"".join(encode("INCR", "gone") for _ in range(100)) + b"*2\r\n$3\r\nGET")
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    # the server lives, the other client is fine, the data is intact
    assert other.call("PING") == "PONG"
    assert other.call("GET", "x") == b"orig"
    def connected_clients():
        info = other.call("INFO", "clients").decode()
        return int(dict(l.split(":", 1) for l in info.split("\r\n") if ":" in l)["connected_clients"])
    wait_until(lambda: connected_clients() == 1, what="the dropped connections to be gone")
    # whole commands of a vanished client may or may not have run, each at most once
    gone = other.call("GET", "gone")
    assert gone is None or 1 <= int(gone) <= 100
    assert server.raw().call("GET", "x") == b"orig"


# ------------------------------------------------------------ HELLO / RESP3

HELLO_KEYS = [b"server", b"version", b"proto", b"id", b"mode", b"role", b"modules"]


def test_hello_3_map_and_resp3_replies(server):
    c = server.raw()
    raw = c.call_raw("HELLO", "3")
    assert raw.startswith(b"%7\r\n$6\r\nserver\r\n")
    c2 = server.raw()
    m = c2.call("HELLO", "3")
    assert isinstance(m, Map)
    assert list(m.keys()) == HELLO_KEYS
    assert m[b"proto"] == 3
    assert isinstance(m[b"id"], int)
    assert m[b"mode"] == b"standalone"
    assert m[b"role"] == b"master"
    assert m[b"modules"] == []
    assert isinstance(m[b"server"], bytes) and isinstance(m[b"version"], bytes)
    assert m[b"id"] == c2.call("CLIENT", "ID")
    # RESP3 encodings
    assert c.call_raw("GET", "missing") == b"_\r\n"
    assert c.call_raw("SET", "k", "v") == b"+OK\r\n"
    assert c.call_raw("SET", "k", "v", "NX") == b"_\r\n"
    assert c.call_raw("MGET", "k", "missing") == b"*2\r\n$1\r\nv\r\n_\r\n"
    assert c.call_raw("INCRBYFLOAT", "f", "1.5") == b"$3\r\n1.5\r\n"
    assert c.call_raw("CONFIG", "GET", "maxclients").startswith(b"%1\r\n$10\r\nmaxclients\r\n$")
    assert c.call_raw("EXEC") == b"-ERR EXEC without MULTI\r\n"
    assert c.call_raw("MEMORY", "USAGE", "missing") == b"_\r\n"
    info = c.call("INFO", "server")
    assert isinstance(info, Verbatim) and info.fmt == b"txt"
    assert b"# Server" in info
    docs = c.call("COMMAND", "DOCS", "get")
    assert isinstance(docs, Map) and isinstance(docs[b"get"], Map)
    # and back to RESP2
    m2 = c.call("HELLO", "2")
    assert isinstance(m2, list) and len(m2) == 14 and m2[0::2] == HELLO_KEYS
    assert m2[5] == 2
    assert c.call_raw("GET", "missing") == b"$-1\r\n"
    assert c.call_raw("CONFIG", "GET", "maxclients").startswith(b"*2\r\n$10\r\nmaxclients\r\n$")


def test_hello_no_args_and_errors(server):
    c = server.raw()
    m = c.call("HELLO")
    assert isinstance(m, list) and m[0::2] == HELLO_KEYS and m[5] == 2
    assert c.call_raw("HELLO", "4") == b"-NOPROTO unsupported protocol version\r\n"
    assert c.call_raw("HELLO", "1") == b"-NOPROTO unsupported protocol version\r\n"
    assert c.call_raw("HELLO", "abc") == b"-ERR Protocol version is not an integer or out of range\r\n"
    assert c.call_raw("HELLO", "3", "SETNAME") == b"-ERR Syntax error in HELLO option 'SETNAME'\r\n"
    # a failed HELLO leaves the protocol as it was
    assert c.call_raw("GET", "missing") == b"$-1\r\n"


def test_hello_setname_and_auth(make_server):
    s = make_server("--requirepass", "s3cret")
    c = s.raw()
    assert c.call_raw("GET", "k") == b"-NOAUTH Authentication required.\r\n"
    assert c.call_raw("HELLO", "3") == (
        b"-NOAUTH HELLO must be called with the client already authenticated, otherwise the "
        b"HELLO AUTH <user> <pass> option can be used to authenticate the client and "
        b"select the RESP protocol version at the same time\r\n")
    assert c.call_raw("HELLO", "3", "AUTH", "default", "wrong") == \
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    assert c.call_raw("GET", "k") == b"-NOAUTH Authentication required.\r\n"
    m = c.call("HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "myconn")
    assert isinstance(m, Map) and m[b"proto"] == 3
    assert c.call_raw("CLIENT", "GETNAME") == b"$6\r\nmyconn\r\n"
    assert c.call_raw("GET", "k") == b"_\r\n"
    assert c.call_raw("HELLO", "2", "SETNAME", "bad name") == \
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    assert c.call_raw("CLIENT", "GETNAME") == b"$6\r\nmyconn\r\n"


def test_binary_junk_never_crashes(server):
    import random
    rng = random.Random(20260101)
    keeper = server.raw()
    keeper.call("SET", "k", "safe")
    for i in range(40):
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000)))
        if i % 4 == 0:
            junk = b"*" + junk  # junk that looks like a multibulk
        elif i % 4 == 1:
            junk = b"*2\r\n$3\r\nGET\r\n$" + junk
        c = server.raw()
        try:
            c.send(junk)
            c.sock.settimeout(0.05)
            try:
                while c.sock.recv(65536):
                    pass
            except (socket.timeout, ConnectionResetError):
                pass
        except (BrokenPipeError, ConnectionResetError):
            pass
        c.close()
        assert server.alive(), "server died on junk #%d: %r" % (i, junk[:64])
    assert keeper.call("GET", "k") == b"safe"
    assert server.raw().call("PING") == "PONG"


def test_unauthenticated_limits(make_server):
    """Before AUTH, Redis accepts at most 10 elements and 16 KB bulks."""
    s = make_server("--requirepass", "pw")
    for req, reply in ((b"*11\r\n", b"-ERR Protocol error: unauthenticated multibulk length\r\n"),
                       (b"*1\r\n$16385\r\n", b"-ERR Protocol error: unauthenticated bulk length\r\n")):
        c = s.raw()
        c.send(req)
        assert c.expect_closed() == reply
    c = s.raw()
    c.send(b"*2\r\n$4\r\nECHO\r\n$16384\r\n" + b"x" * 16384 + b"\r\n")
    assert c.read_reply_raw() == b"-NOAUTH Authentication required.\r\n"
    assert c.call_raw("AUTH", "pw") == b"+OK\r\n"
    args = ["MSET"] + ["k"] * 20
    assert c.call_raw(*args) == b"+OK\r\n"
    assert c.call("ECHO", b"y" * 20000) == b"y" * 20000
