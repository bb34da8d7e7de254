"""Commands, with Redis's exact replies and errors (raw bytes where the text
matters), and redis-py where a client's view is what counts."""
import os
import time

import pytest
import redis

from conftest import IS_RAFTKV, IS_REDIS, Error, wait_until


def info_dict(text):
    if isinstance(text, bytes):
        text = text.decode()
    d = {}
    for line in text.split("\r\n"):
        if line and not line.startswith("#"):
            k, _, v = line.partition(":")
            d[k] = v
    return d


# ------------------------------------------------------------ connection


def test_ping_echo(raw):
    assert raw.call_raw("PING") == b"+PONG\r\n"
    assert raw.call_raw("PING", "hi there") == b"$8\r\nhi there\r\n"
    assert raw.call_raw("ECHO", "") == b"$0\r\n\r\n"
    assert raw.call_raw("ECHO", b"a\x00b") == b"$3\r\na\x00b\r\n"
    assert raw.call_raw("ECHO", "a", "b") == b"-ERR wrong number of arguments for 'echo' command\r\n"


def test_quit_closes_after_ok(server):
    c = server.raw()
    c.send(b"*1\r\n$4\r\nQUIT\r\n*1\r\n$4\r\nPING\r\n")
    assert c.expect_closed() == b"+OK\r\n"
    assert server.raw().call("PING") == "PONG"


def test_select(raw):
    assert raw.call_raw("SELECT", "0") == b"+OK\r\n"
    assert raw.call_raw("SELECT", "16") == b"-ERR DB index is out of range\r\n"
    assert raw.call_raw("SELECT", "-1") == b"-ERR DB index is out of range\r\n"
    assert raw.call_raw("SELECT", "abc") == b"-ERR value is not an integer or out of range\r\n"
    assert raw.call_raw("SELECT", "1") == b"+OK\r\n"
    assert raw.call_raw("SET", "k", "one") == b"+OK\r\n"
    assert raw.call_raw("SELECT", "15") == b"+OK\r\n"
    assert raw.call_raw("GET", "k") == b"$-1\r\n"
    assert raw.call_raw("SELECT", "0") == b"+OK\r\n"
    assert raw.call_raw("SET", "k", "v") == b"+OK\r\n"
    assert raw.call_raw("INFO", "keyspace").endswith(
        b"db0:keys=1,expires=0,avg_ttl=0\r\ndb1:keys=1,expires=0,avg_ttl=0\r\n\r\n")
    assert raw.call_raw("DBSIZE") == b":1\r\n"
    # A transaction that changes database on the way; the client stays in the last one.
    assert raw.call_raw("MULTI") == b"+OK\r\n"
    for cmd in (("SELECT", "1"), ("GET", "k"), ("SELECT", "16"), ("SELECT", "x"), ("SELECT", "2"),
                ("SET", "k", "two")):
        assert raw.call_raw(*cmd) == b"+QUEUED\r\n"
    assert raw.call_raw("EXEC") == (b"*6\r\n+OK\r\n$3\r\none\r\n-ERR DB index is out of range\r\n"
                                    b"-ERR value is not an integer or out of range\r\n+OK\r\n+OK\r\n")
    assert raw.call_raw("GET", "k") == b"$3\r\ntwo\r\n"
    assert raw.call_raw("SELECT", "0") == b"+OK\r\n"
    assert raw.call_raw("MOVE", "k", "16") == b"-ERR DB index is out of range\r\n"
    assert raw.call_raw("MOVE", "k", "0") == b"-ERR source and destination objects are the same\r\n"
    assert raw.call_raw("MOVE", "k", "1") == b":0\r\n"
    assert raw.call_raw("SWAPDB", "0", "2") == b"+OK\r\n"
    assert raw.call_raw("GET", "k") == b"$3\r\ntwo\r\n"
    assert raw.call_raw("SWAPDB", "0", "16") == b"-ERR DB index is out of range\r\n"
    assert raw.call_raw("FLUSHDB") == b"+OK\r\n"
    assert raw.call_raw("SELECT", "1") == b"+OK\r\n"
    assert raw.call_raw("DBSIZE") == b":1\r\n"


def test_auth_requirepass(make_server):
    s = make_server("--requirepass", "s3cret")
    c = s.raw()
    for cmd in (("GET", "k"), ("SET", "k", "v"), ("PING",), ("DBSIZE",), ("INFO",)):
        assert c.call_raw(*cmd) == b"-NOAUTH Authentication required.\r\n", cmd
    assert c.call_raw("AUTH", "wrong") == b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    assert c.call_raw("AUTH", "default", "wrong") == \
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    assert c.call_raw("AUTH", "a", "b", "c") == b"-ERR syntax error\r\n"
    assert c.call_raw("GET", "k") == b"-NOAUTH Authentication required.\r\n"
    assert c.call_raw("AUTH", "s3cret") == b"+OK\r\n"
    assert c.call_raw("SET", "k", "v") == b"+OK\r\n"
    c2 = s.raw()
    assert c2.call_raw("AUTH", "default", "s3cret") == b"+OK\r\n"
    assert c2.call_raw("GET", "k") == b"$1\r\nv\r\n"
    # redis-py with a password
    assert s.client(password="s3cret").get("k") == b"v"
    with pytest.raises(redis.ResponseError) as e:
        s.client(password="nope").get("k")
    assert "WRONGPASS" in str(e.value)
    with pytest.raises(redis.AuthenticationError) as e:  # redis-py's name for -NOAUTH
        s.client().get("k")
    assert str(e.value) == "Authentication required."


def test_auth_without_requirepass(raw):
    assert raw.call_raw("AUTH", "x") == (
        b"-ERR AUTH <password> called without any password configured for the default user. "
        b"Are you sure your configuration is correct?\r\n")
    assert raw.call_raw("PING") == b"+PONG\r\n"


def test_client_setname_getname_id(server):
    c = server.raw()
    assert c.call_raw("CLIENT", "GETNAME") == b"$-1\r\n"
    assert c.call_raw("CLIENT", "SETNAME", "worker-1") == b"+OK\r\n"
    assert c.call_raw("CLIENT", "GETNAME") == b"$8\r\nworker-1\r\n"
    assert c.call_raw("CLIENT", "SETNAME", "a b") == \
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    assert c.call_raw("CLIENT", "SETNAME", "a\nb") == \
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    assert c.call_raw("CLIENT", "GETNAME") == b"$8\r\nworker-1\r\n"
    assert c.call_raw("CLIENT", "SETNAME", "") == b"+OK\r\n"
    assert c.call_raw("CLIENT", "GETNAME") == b"$-1\r\n"
    assert c.call_raw("CLIENT", "NOPE") == b"-ERR unknown subcommand 'NOPE'. Try CLIENT HELP.\r\n"
    id1 = c.call("CLIENT", "ID")
    id2 = server.raw().call("CLIENT", "ID")
    assert isinstance(id1, int) and isinstance(id2, int) and id2 > id1
    assert c.call("CLIENT", "ID") == id1


def test_client_setinfo(raw):
    # Known difference: CLIENT SETINFO is Redis 7.2; redis-server 7.0 lacks it.
    if IS_REDIS:
        assert raw.call_raw("CLIENT", "SETINFO", "lib-name", "x") == \
            b"-ERR unknown subcommand 'SETINFO'. Try CLIENT HELP.\r\n"
        return
    assert raw.call_raw("CLIENT", "SETINFO", "lib-name", "redis-py") == b"+OK\r\n"
    assert raw.call_raw("CLIENT", "SETINFO", "lib-ver", "4.3.4") == b"+OK\r\n"
    assert raw.call("CLIENT", "SETINFO", "nope", "x").startswith("ERR")
    info = raw.call("CLIENT", "INFO")
    assert b"lib-name=redis-py" in info and b"lib-ver=4.3.4" in info


def test_client_info_and_list(server):
    c = server.raw()
    c.call("CLIENT", "SETNAME", "first")
    cid = c.call("CLIENT", "ID")
    info = c.call("CLIENT", "INFO")
    assert info.endswith(b"\n") and info.count(b"\n") == 1
    fields = dict(f.split(b"=", 1) for f in info.split())
    assert fields[b"id"] == str(cid).encode()
    assert fields[b"name"] == b"first"
    assert fields[b"addr"].startswith(b"127.0.0.1:")
    assert fields[b"cmd"] == b"client|info"
    d = server.raw()
    d.call("CLIENT", "SETNAME", "second")
    lst = d.call("CLIENT", "LIST")
    lines = lst.decode().strip("\n").split("\n")
    assert len(lines) == 2
    rows = [dict(f.split("=", 1) for f in l.split()) for l in lines]
    assert {row["name"] for row in rows} == {"first", "second"}
    assert str(cid) in {row["id"] for row in rows}
    for row in rows:
        for k in ("id", "addr", "fd", "name", "age", "idle", "flags", "db", "cmd"):
            assert k in row, (k, row)


def test_command_count_info_docs(raw):
    n = raw.call("COMMAND", "COUNT")
    assert isinstance(n, int) and n >= 60
    info = raw.call("COMMAND", "INFO", "get", "set", "mset", "nosuchcmd")
    assert len(info) == 4 and info[3] is None
    get, set_, mset = info[:3]
    assert get[:2] == [b"get", 2] and get[3:6] == [1, 1, 1]
    def flags(entry):
        return {f.decode() if isinstance(f, bytes) else str(f) for f in entry[2]}
    assert "readonly" in flags(get)
    assert set_[:2] == [b"set", -3] and set_[3:6] == [1, 1, 1]
    assert "write" in flags(set_)
    assert mset[:2] == [b"mset", -3] and mset[3:6] == [1, -1, 2]
    docs = raw.call("COMMAND", "DOCS", "get")
    assert isinstance(docs, list) and len(docs) == 2 and docs[0] == b"get"
    fields = docs[1]
    assert isinstance(fields, list) and len(fields) % 2 == 0 and b"summary" in fields[0::2]


def test_config_get_set(make_server):
    s = make_server("--maxclients", "77")
    c = s.raw()
    save = c.call("CONFIG", "GET", "save")
    assert isinstance(save, list) and len(save) == 2 and save[0] == b"save"
    ao = c.call("CONFIG", "GET", "appendonly")
    assert len(ao) == 2 and ao[0] == b"appendonly" and ao[1] in (b"yes", b"no")
    assert c.call("CONFIG", "GET", "port") == [b"port", str(s.port).encode()]
    assert c.call_raw("CONFIG", "GET", "maxclients") == b"*2\r\n$10\r\nmaxclients\r\n$2\r\n77\r\n"
    assert c.call("CONFIG", "GET", "no-such-key") == []
    many = c.call("CONFIG", "GET", "maxc*")
    assert dict(zip(many[0::2], many[1::2]))[b"maxclients"] == b"77"
    assert c.call_raw("CONFIG", "SET", "maxclients", "100") == b"+OK\r\n"
    assert c.call_raw("CONFIG", "GET", "maxclients") == b"*2\r\n$10\r\nmaxclients\r\n$3\r\n100\r\n"
    assert c.call_raw("CONFIG", "SET", "loglevel", "warning") == b"+OK\r\n"
    assert c.call("CONFIG", "GET", "loglevel") == [b"loglevel", b"warning"]
    assert c.call_raw("CONFIG", "SET", "no-such-key", "1") == \
        b"-ERR Unknown option or number of arguments for CONFIG SET - 'no-such-key'\r\n"
    assert c.call("CONFIG", "SET", "maxclients", "abc").startswith("ERR")
    assert c.call("CONFIG", "GET", "maxclients") == [b"maxclients", b"100"]


def test_config_file_and_command_line(make_server, tmp_path):
    logfile = str(tmp_path / "server.log")
    conf = ("# a comment\n"
            "maxclients 42\n"
            "requirepass \"pass word\"\n"
            "loglevel verbose\n"
            "logfile %s\n"
            "proto-max-bulk-len 2mb\n" % logfile)
    # the command line wins over the file
    s = make_server("--loglevel", "notice", conf=conf)
    c = s.raw()
    assert c.call_raw("PING") == b"-NOAUTH Authentication required.\r\n"
    assert c.call_raw("AUTH", "pass word") == b"+OK\r\n"
    assert c.call("CONFIG", "GET", "maxclients") == [b"maxclients", b"42"]
    assert c.call("CONFIG", "GET", "loglevel") == [b"loglevel", b"notice"]
    assert c.call("CONFIG", "GET", "proto-max-bulk-len") == [b"proto-max-bulk-len", b"2097152"]
    assert c.call("CONFIG", "GET", "port") == [b"port", str(s.port).encode()]
    assert c.call("CONFIG", "GET", "dir") == [b"dir", s.dir.encode()]
    wait_until(lambda: os.path.exists(logfile) and os.path.getsize(logfile) > 0,
               what="the server to write its logfile")


def test_info_sections(server):
    c = server.raw()
    c.call("SET", "a", "1")
    c.call("SET", "b", "2", "EX", "1000")
    text = c.call("INFO").decode()
    for section in ("# Server", "# Clients", "# Memory", "# Persistence", "# Stats",
                    "# Replication", "# Keyspace"):
        assert section + "\r\n" in text, section
    d = info_dict(text)
    assert d["redis_version"]
    assert d["role"] == "master"
    assert int(d["connected_clients"]) >= 1
    assert d["loading"] == "0"
    ks = d["db0"]
    parts = dict(p.split("=") for p in ks.split(","))
    assert list(parts) == ["keys", "expires", "avg_ttl"]
    assert parts["keys"] == "2" and parts["expires"] == "1"
    srv = c.call("INFO", "server").decode()
    assert srv.startswith("# Server\r\n") and "redis_version:" in srv
    assert "connected_clients:" not in srv and "# Keyspace" not in srv
    both = c.call("INFO", "server", "clients").decode()
    assert "redis_version:" in both and "connected_clients:" in both and "# Keyspace" not in both
    assert "loading:0\r\n" in c.call("INFO", "persistence").decode()
    ks = c.call("INFO", "KEYSPACE")
    assert ks.startswith(b"# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=") and ks.endswith(b"\r\n")
    assert ks.count(b"\r\n") == 2 and int(ks.split(b"avg_ttl=")[1]) >= 0
    c.call("FLUSHALL")
    assert c.call("INFO", "keyspace") == b"# Keyspace\r\n"
    assert c.call("INFO", "no-such-section") == b""


def test_dbsize_flushdb_flushall(raw):
    assert raw.call_raw("DBSIZE") == b":0\r\n"
    raw.call("MSET", "a", "1", "b", "2", "c", "3")
    assert raw.call_raw("DBSIZE") == b":3\r\n"
    assert raw.call_raw("FLUSHDB") == b"+OK\r\n"
    assert raw.call_raw("DBSIZE") == b":0\r\n"
    raw.call("MSET", "a", "1", "b", "2")
    assert raw.call_raw("FLUSHALL") == b"+OK\r\n"
    assert raw.call_raw("GET", "a") == b"$-1\r\n"
    raw.call("SET", "a", "1")
    assert raw.call_raw("FLUSHALL", "SYNC") == b"+OK\r\n"
    assert raw.call_raw("FLUSHDB", "ASYNC") == b"+OK\r\n"
    assert raw.call_raw("FLUSHALL", "foo") == b"-ERR syntax error\r\n"
    assert raw.call_raw("DBSIZE") == b":0\r\n"
    assert raw.call_raw("FUNCTION", "FLUSH") == b"+OK\r\n"


# --------------------------------------------------------------- strings


def test_get_set_basic(raw):
    assert raw.call_raw("GET", "k") == b"$-1\r\n"
    assert raw.call_raw("SET", "k", "v") == b"+OK\r\n"
    assert raw.call_raw("GET", "k") == b"$1\r\nv\r\n"
    assert raw.call_raw("SET", "k", "") == b"+OK\r\n"
    assert raw.call_raw("GET", "k") == b"$0\r\n\r\n"
    assert raw.call_raw("TYPE", "k") == b"+string\r\n"
    assert raw.call_raw("TYPE", "nokey") == b"+none\r\n"


def test_set_options(raw):
    c = raw
    assert c.call_raw("SET", "k", "v", "NX") == b"+OK\r\n"
    assert c.call_raw("SET", "k", "w", "NX") == b"$-1\r\n"
    assert c.call_raw("SET", "x", "w", "XX") == b"$-1\r\n"
    assert c.call_raw("EXISTS", "x") == b":0\r\n"
    assert c.call_raw("SET", "k", "w", "XX") == b"+OK\r\n"
    assert c.call_raw("SET", "k", "z", "GET") == b"$1\r\nw\r\n"
    assert c.call_raw("SET", "new", "z", "GET") == b"$-1\r\n"
    assert c.call_raw("GET", "new") == b"$1\r\nz\r\n"
    assert c.call_raw("SET", "k", "q", "NX", "GET") == b"$1\r\nz\r\n"
    assert c.call_raw("GET", "k") == b"$1\r\nz\r\n"
    assert c.call_raw("SET", "none", "q", "XX", "GET") == b"$-1\r\n"
    assert c.call_raw("EXISTS", "none") == b":0\r\n"
    # EX / PX / KEEPTTL
    assert c.call_raw("SET", "t", "v", "EX", "100") == b"+OK\r\n"
    assert c.call("TTL", "t") in (99, 100)
    assert c.call_raw("SET", "t", "w", "KEEPTTL") == b"+OK\r\n"
    assert c.call("TTL", "t") in (99, 100)
    assert c.call_raw("SET", "t", "x") == b"+OK\r\n"
    assert c.call_raw("TTL", "t") == b":-1\r\n"
    assert c.call_raw("SET", "t", "v", "PX", "100000") == b"+OK\r\n"
    assert 99000 < c.call("PTTL", "t") <= 100000
    # EXAT / PXAT
    assert c.call_raw("SET", "a", "v", "EXAT", "99999999999") == b"+OK\r\n"
    assert c.call_raw("EXPIRETIME", "a") == b":99999999999\r\n"
    assert c.call_raw("SET", "a", "v", "PXAT", "99999999999123") == b"+OK\r\n"
    assert c.call_raw("PEXPIRETIME", "a") == b":99999999999123\r\n"
    assert c.call_raw("EXPIRETIME", "a") == b":99999999999\r\n"
    assert c.call_raw("SET", "a", "v", "PXAT", "1") == b"+OK\r\n"  # in the past
    assert c.call_raw("EXISTS", "a") == b":0\r\n"
    assert c.call_raw("GET", "a") == b"$-1\r\n"


@pytest.mark.parametrize("args,err", [
    (("EX", "0"), b"-ERR invalid expire time in 'set' command\r\n"),
    (("EX", "-1"), b"-ERR invalid expire time in 'set' command\r\n"),
    (("PX", "0"), b"-ERR invalid expire time in 'set' command\r\n"),
    (("EX", "9999999999999999"), b"-ERR invalid expire time in 'set' command\r\n"),
    (("PXAT", "0"), b"-ERR invalid expire time in 'set' command\r\n"),
    (("EX", "abc"), b"-ERR value is not an integer or out of range\r\n"),
    (("PX", "1.5"), b"-ERR value is not an integer or out of range\r\n"),
    (("EX",), b"-ERR syntax error\r\n"),
    (("NX", "XX"), b"-ERR syntax error\r\n"),
    (("EX", "10", "PX", "100"), b"-ERR syntax error\r\n"),
    (("KEEPTTL", "EX", "10"), b"-ERR syntax error\r\n"),
    (("EXAT", "10", "PXAT", "100"), b"-ERR syntax error\r\n"),
    (("FOO",), b"-ERR syntax error\r\n"),
])
def test_set_errors(raw, args, err):
    raw.call("SET", "k", "orig")
    assert raw.call_raw("SET", "k", "v", *args) == err
    assert raw.call_raw("GET", "k") == b"$4\r\norig\r\n"
    assert raw.call_raw("TTL", "k") == b":-1\r\n"


def test_setnx_setex_psetex_getset_getdel_getex(raw):
    c = raw
    assert c.call_raw("SETNX", "k", "1") == b":1\r\n"
    assert c.call_raw("SETNX", "k", "2") == b":0\r\n"
    assert c.call_raw("SETEX", "e", "100", "v") == b"+OK\r\n"
    assert c.call("TTL", "e") in (99, 100)
    assert c.call_raw("SETEX", "e", "0", "v") == b"-ERR invalid expire time in 'setex' command\r\n"
    assert c.call_raw("SETEX", "e", "x", "v") == b"-ERR value is not an integer or out of range\r\n"
    assert c.call_raw("PSETEX", "p", "100000", "v") == b"+OK\r\n"
    assert 99000 < c.call("PTTL", "p") <= 100000
    assert c.call_raw("PSETEX", "p", "-5", "v") == b"-ERR invalid expire time in 'psetex' command\r\n"
    assert c.call_raw("GETSET", "g", "1") == b"$-1\r\n"
    assert c.call_raw("GETSET", "g", "2") == b"$1\r\n1\r\n"
    c.call("EXPIRE", "g", "100")
    assert c.call_raw("GETSET", "g", "3") == b"$1\r\n2\r\n"
    assert c.call_raw("TTL", "g") == b":-1\r\n"  # GETSET clears the TTL
    assert c.call_raw("GETDEL", "g") == b"$1\r\n3\r\n"
    assert c.call_raw("GETDEL", "g") == b"$-1\r\n"
    c.call("SET", "x", "val")
    assert c.call_raw("GETEX", "x") == b"$3\r\nval\r\n"
    assert c.call_raw("TTL", "x") == b":-1\r\n"
    assert c.call_raw("GETEX", "x", "EX", "100") == b"$3\r\nval\r\n"
    assert c.call("TTL", "x") in (99, 100)
    assert c.call_raw("GETEX", "x", "PERSIST") == b"$3\r\nval\r\n"
    assert c.call_raw("TTL", "x") == b":-1\r\n"
    assert c.call_raw("GETEX", "x", "PX", "100000") == b"$3\r\nval\r\n"
    assert 99000 < c.call("PTTL", "x") <= 100000
    assert c.call_raw("GETEX", "x", "EXAT", "99999999999") == b"$3\r\nval\r\n"
    assert c.call_raw("EXPIRETIME", "x") == b":99999999999\r\n"
    assert c.call_raw("GETEX", "x", "EX", "0") == b"-ERR invalid expire time in 'getex' command\r\n"
    assert c.call_raw("GETEX", "x", "EX", "1", "PX", "1") == b"-ERR syntax error\r\n"
    assert c.call_raw("GETEX", "x", "FOO") == b"-ERR syntax error\r\n"
    assert c.call_raw("GETEX", "missing", "EX", "10") == b"$-1\r\n"
    assert c.call_raw("GETEX", "x", "PXAT", "1") == b"$3\r\nval\r\n"
    assert c.call_raw("EXISTS", "x") == b":0\r\n"


def test_mget_mset_msetnx_del_unlink_exists_touch(raw):
    c = raw
    assert c.call_raw("MSET", "a", "1", "b", "2", "a", "3") == b"+OK\r\n"
    assert c.call_raw("MGET", "a", "b", "c") == b"*3\r\n$1\r\n3\r\n$1\r\n2\r\n$-1\r\n"
    assert c.call_raw("MSETNX", "c", "1", "a", "9") == b":0\r\n"
    assert c.call_raw("EXISTS", "c") == b":0\r\n"
    assert c.call_raw("MSETNX", "c", "1", "d", "2") == b":1\r\n"
    assert c.call_raw("EXISTS", "a", "a", "b", "zz") == b":3\r\n"
    assert c.call_raw("TOUCH", "a", "zz", "b") == b":2\r\n"
    assert c.call_raw("DEL", "a", "zz", "a") == b":1\r\n"
    assert c.call_raw("UNLINK", "b", "c", "zz") == b":2\r\n"
    assert c.call_raw("DBSIZE") == b":1\r\n"
    assert c.call_raw("MSETNX", "x") == b"-ERR wrong number of arguments for 'msetnx' command\r\n"


def test_incr_decr(raw):
    c = raw
    assert c.call_raw("INCR", "n") == b":1\r\n"
    assert c.call_raw("INCRBY", "n", "10") == b":11\r\n"
    assert c.call_raw("DECR", "n") == b":10\r\n"
    assert c.call_raw("DECRBY", "n", "-5") == b":15\r\n"
    assert c.call_raw("INCRBY", "n", "-20") == b":-5\r\n"
    assert c.call_raw("GET", "n") == b"$2\r\n-5\r\n"
    c.call("SET", "n", "9223372036854775807")
    assert c.call_raw("INCR", "n") == b"-ERR increment or decrement would overflow\r\n"
    assert c.call_raw("INCRBY", "n", "1") == b"-ERR increment or decrement would overflow\r\n"
    assert c.call_raw("GET", "n") == b"$19\r\n9223372036854775807\r\n"
    c.call("SET", "n", "-9223372036854775808")
    assert c.call_raw("DECR", "n") == b"-ERR increment or decrement would overflow\r\n"
    assert c.call_raw("DECRBY", "n", "-9223372036854775808") == b"-ERR decrement would overflow\r\n"
    for bad in ("abc", " 1", "1 ", "1.5", "", "99999999999999999999", "+1", "01"):
        c.call("SET", "s", bad)
        assert c.call_raw("INCR", "s") == b"-ERR value is not an integer or out of range\r\n", bad
        assert c.call_raw("GET", "s") == b"$%d\r\n%s\r\n" % (len(bad), bad.encode())
    assert c.call_raw("INCRBY", "n2", "x") == b"-ERR value is not an integer or out of range\r\n"
    assert c.call_raw("INCRBY", "n2", "9223372036854775808") == \
        b"-ERR value is not an integer or out of range\r\n"
    assert c.call_raw("EXISTS", "n2") == b":0\r\n"
    c.call("SET", "t", "5", "EX", "100")
    assert c.call_raw("INCR", "t") == b":6\r\n"
    assert c.call("TTL", "t") in (99, 100)  # INCR keeps the TTL


def test_incrbyfloat(raw):
    c = raw
    c.call("SET", "f", "10.50")
    assert c.call_raw("INCRBYFLOAT", "f", "0.1") == b"$4\r\n10.6\r\n"
    assert c.call_raw("INCRBYFLOAT", "f", "-5") == b"$3\r\n5.6\r\n"
    assert c.call_raw("GET", "f") == b"$3\r\n5.6\r\n"
    c.call("SET", "f", "5.0e3")
    assert c.call_raw("INCRBYFLOAT", "f", "2.0e2") == b"$4\r\n5200\r\n"
    c.call("SET", "f", "3")
    assert c.call_raw("INCRBYFLOAT", "f", "1.1") == b"$3\r\n4.1\r\n"
    assert c.call_raw("INCRBYFLOAT", "new", "-2") == b"$2\r\n-2\r\n"
    assert c.call_raw("INCRBYFLOAT", "new", "2") == b"$1\r\n0\r\n"
    assert c.call_raw("INCRBYFLOAT", "f", "inf") == b"-ERR increment would produce NaN or Infinity\r\n"
    assert c.call_raw("INCRBYFLOAT", "f", "abc") == b"-ERR value is not a valid float\r\n"
    c.call("SET", "s", "abc")
    assert c.call_raw("INCRBYFLOAT", "s", "1") == b"-ERR value is not a valid float\r\n"
    assert c.call_raw("GET", "f") == b"$3\r\n4.1\r\n"


def test_incrbyfloat_long_double_precision(raw):
    # Redis computes in long double and prints with %.17Lg.
    raw.call("SET", "f", "5200")
    assert raw.call_raw("INCRBYFLOAT", "f", "1e-3") == b"$22\r\n5200.00099999999999989\r\n"


def test_append_strlen_getrange_setrange(raw):
    c = raw
    assert c.call_raw("APPEND", "a", "ab") == b":2\r\n"
    assert c.call_raw("APPEND", "a", "cd") == b":4\r\n"
    assert c.call_raw("STRLEN", "a") == b":4\r\n"
    assert c.call_raw("STRLEN", "nokey") == b":0\r\n"
    c.call("SET", "r", "This is a string")
    assert c.call_raw("GETRANGE", "r", "0", "3") == b"$4\r\nThis\r\n"
    assert c.call_raw("GETRANGE", "r", "-3", "-1") == b"$3\r\ning\r\n"
    assert c.call_raw("GETRANGE", "r", "0", "-1") == b"$16\r\nThis is a string\r\n"
    assert c.call_raw("GETRANGE", "r", "10", "100") == b"$6\r\nstring\r\n"
    assert c.call_raw("GETRANGE", "r", "5", "3") == b"$0\r\n\r\n"
    assert c.call_raw("GETRANGE", "nokey", "0", "-1") == b"$0\r\n\r\n"
    assert c.call_raw("GETRANGE", "r", "a", "1") == b"-ERR value is not an integer or out of range\r\n"
    assert c.call_raw("SETRANGE", "r", "10", "redis!") == b":16\r\n"
    assert c.call_raw("GET", "r") == b"$16\r\nThis is a redis!\r\n"
    assert c.call_raw("SETRANGE", "sr", "5", "hi") == b":7\r\n"
    assert c.call_raw("GET", "sr") == b"$7\r\n\x00\x00\x00\x00\x00hi\r\n"
    assert c.call_raw("SETRANGE", "nk", "0", "") == b":0\r\n"
    assert c.call_raw("EXISTS", "nk") == b":0\r\n"
    assert c.call_raw("SETRANGE", "r", "-1", "x") == b"-ERR offset is out of range\r\n"
    assert c.call_raw("SETRANGE", "r", "536870912", "x") == \
        b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"
    assert c.call_raw("STRLEN", "r") == b":16\r\n"


def test_expire_family(raw):
    c = raw
    c.call("SET", "e", "v")
    assert c.call_raw("TTL", "e") == b":-1\r\n"
    assert c.call_raw("PTTL", "e") == b":-1\r\n"
    assert c.call_raw("TTL", "nokey") == b":-2\r\n"
    assert c.call_raw("PTTL", "nokey") == b":-2\r\n"
    assert c.call_raw("EXPIRETIME", "e") == b":-1\r\n"
    assert c.call_raw("EXPIRETIME", "nokey") == b":-2\r\n"
    assert c.call_raw("PEXPIRETIME", "nokey") == b":-2\r\n"
    assert c.call_raw("EXPIRE", "nokey", "10") == b":0\r\n"
    # NX / XX / GT / LT; a key without a TTL counts as an infinite TTL
    assert c.call_raw("EXPIRE", "e", "100", "XX") == b":0\r\n"
    assert c.call_raw("EXPIRE", "e", "100", "GT") == b":0\r\n"
    assert c.call_raw("EXPIRE", "e", "100", "LT") == b":1\r\n"
    assert c.call_raw("EXPIRE", "e", "200", "NX") == b":0\r\n"
    assert c.call_raw("EXPIRE", "e", "200", "GT") == b":1\r\n"
    assert c.call_raw("EXPIRE", "e", "50", "GT") == b":0\r\n"
    assert c.call_raw("EXPIRE", "e", "50", "LT") == b":1\r\n"
    assert c.call("TTL", "e") in (49, 50)
    assert c.call_raw("EXPIRE", "e", "300", "XX") == b":1\r\n"
    assert c.call("TTL", "e") in (299, 300)
    assert c.call_raw("PERSIST", "e") == b":1\r\n"
    assert c.call_raw("PERSIST", "e") == b":0\r\n"
    assert c.call_raw("PERSIST", "nokey") == b":0\r\n"
    assert c.call_raw("EXPIRE", "e", "100", "NX") == b":1\r\n"
    assert c.call_raw("PEXPIRE", "e", "100000000", "GT") == b":1\r\n"
    assert c.call("TTL", "e") in (99999, 100000)
    assert c.call_raw("EXPIREAT", "e", "99999999999") == b":1\r\n"
    assert c.call_raw("EXPIRETIME", "e") == b":99999999999\r\n"
    assert c.call_raw("PEXPIREAT", "e", "99999999999500") == b":1\r\n"
    assert c.call_raw("PEXPIRETIME", "e") == b":99999999999500\r\n"
    # errors
    ex = b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"
    assert c.call_raw("EXPIRE", "e", "10", "NX", "XX") == ex
    assert c.call_raw("PEXPIRE", "e", "10", "NX", "GT") == ex
    assert c.call_raw("EXPIRE", "e", "10", "GT", "LT") == \
        b"-ERR GT and LT options at the same time are not compatible\r\n"
    assert c.call_raw("EXPIRE", "e", "10", "foo") == b"-ERR Unsupported option foo\r\n"
    assert c.call_raw("EXPIRE", "e", "abc") == b"-ERR value is not an integer or out of range\r\n"
    assert c.call_raw("EXPIRE", "e", "9223372036854775807") == \
        b"-ERR invalid expire time in 'expire' command\r\n"
    # a time in the past deletes the key
    c.call("SET", "d1", "v")
    c.call("SET", "d2", "v")
    c.call("SET", "d3", "v")
    assert c.call_raw("EXPIRE", "d1", "-1") == b":1\r\n"
    assert c.call_raw("EXPIREAT", "d2", "1") == b":1\r\n"
    assert c.call_raw("PEXPIRE", "d3", "0") == b":1\r\n"
    assert c.call_raw("EXISTS", "d1", "d2", "d3") == b":0\r\n"


def test_keys_expire_in_time(raw):
    """Keys disappear by their expiry; waits with a deadline."""
    c = raw
    t0 = time.monotonic()
    c.call("SET", "a", "v", "PX", "300")
    c.call("SET", "b", "v", "EX", "1")
    c.call("SET", "keep", "v", "EX", "100")
    c.call("SET", "c", "v")
    c.call("PEXPIRE", "c", "200")
    assert c.call("EXISTS", "a", "b", "c", "keep") == 4
    wait_until(lambda: c.call("GET", "a") is None, timeout=5, what="a to expire")
    assert time.monotonic() - t0 >= 0.3  # not before its time
    wait_until(lambda: c.call("EXISTS", "c") == 0, timeout=5, what="c to expire")
    wait_until(lambda: c.call("TTL", "b") == -2, timeout=5, what="b to expire")
    assert c.call("GET", "b") is None and c.call("GET", "a") is None
    assert c.call("GET", "keep") == b"v"
    # once seen expired, never seen again; the key space agrees
    wait_until(lambda: c.call("DBSIZE") == 1, timeout=5, what="DBSIZE to drop expired keys")
    assert c.call("KEYS", "*") == [b"keep"]


def test_scan_completeness(raw):
    c = raw
    keys = {("key:%d" % i).encode() for i in range(1000)}
    for i in range(0, 1000, 100):
        c.call("MSET", *[x for j in range(i, i + 100) for x in ("key:%d" % j, "v")])
    c.call("MSET", "other:1", "v", "other:2", "v")
    seen, cursor, rounds = set(), b"0", 0
    while True:
        cursor, batch = c.call("SCAN", cursor, "COUNT", "37")
        seen.update(batch)
        rounds += 1
        assert rounds < 10000
        if cursor == b"0":
            break
    assert seen == keys | {b"other:1", b"other:2"}
    seen, cursor = set(), b"0"
    while True:
        cursor, batch = c.call("SCAN", cursor, "MATCH", "key:1*", "COUNT", "50")
        assert all(k.startswith(b"key:1") for k in batch)
        seen.update(batch)
        if cursor == b"0":
            break
    assert seen == {k for k in keys if k.startswith(b"key:1")}
    assert c.call_raw("SCAN", "abc") == b"-ERR invalid cursor\r\n"
    assert c.call_raw("SCAN", "0", "COUNT", "0") == b"-ERR syntax error\r\n"
    assert c.call_raw("SCAN", "0", "COUNT", "x") == b"-ERR value is not an integer or out of range\r\n"
    assert c.call_raw("SCAN", "0", "FOO") == b"-ERR syntax error\r\n"
    c.call("FLUSHALL")
    assert c.call_raw("SCAN", "0") == b"*2\r\n$1\r\n0\r\n*0\r\n"


def test_keys_patterns(raw):
    c = raw
    c.call("MSET", "hello", "1", "hallo", "1", "hxllo", "1", "hllo", "1", "heeeello", "1",
           "h*llo", "1", "a[b", "1", "x", "1")
    def keys(p):
        return sorted(c.call("KEYS", p))
    assert keys("h?llo") == [b"h*llo", b"hallo", b"hello", b"hxllo"]
    assert keys("h*llo") == [b"h*llo", b"hallo", b"heeeello", b"hello", b"hllo", b"hxllo"]
    assert keys("h[ae]llo") == [b"hallo", b"hello"]
    assert keys("h[^e]llo") == [b"h*llo", b"hallo", b"hxllo"]
    assert keys("h[a-b]llo") == [b"hallo"]
    assert keys("h\\*llo") == [b"h*llo"]
    assert keys("a\\[b") == [b"a[b"]
    assert keys("*") == sorted([b"hello", b"hallo", b"hxllo", b"hllo", b"heeeello", b"h*llo", b"a[b", b"x"])
    assert keys("nomatch*") == []
    assert c.call_raw("KEYS", "nomatch") == b"*0\r\n"
    assert keys("x") == [b"x"]


def test_setbit_getbit_bitcount_bitpos(raw):
    c = raw
    assert c.call_raw("SETBIT", "sb", "7", "1") == b":0\r\n"
    assert c.call_raw("SETBIT", "sb", "7", "1") == b":1\r\n"
    assert c.call_raw("GET", "sb") == b"$1\r\n\x01\r\n"
    assert c.call_raw("SETBIT", "sb", "7", "0") == b":1\r\n"
    assert c.call_raw("GETBIT", "sb", "7") == b":0\r\n"
    assert c.call_raw("SETBIT", "sb", "100", "1") == b":0\r\n"
    assert c.call_raw("STRLEN", "sb") == b":13\r\n"
    assert c.call_raw("GETBIT", "sb", "100") == b":1\r\n"
    assert c.call_raw("GETBIT", "sb", "100000") == b":0\r\n"
    assert c.call_raw("GETBIT", "nokey", "0") == b":0\r\n"
    assert c.call_raw("SETBIT", "sb", "4294967296", "1") == b"-ERR bit offset is not an integer or out of range\r\n"
    assert c.call_raw("SETBIT", "sb", "-1", "1") == b"-ERR bit offset is not an integer or out of range\r\n"
    assert c.call_raw("SETBIT", "sb", "1", "2") == b"-ERR bit is not an integer or out of range\r\n"
    assert c.call_raw("GETBIT", "sb", "x") == b"-ERR bit offset is not an integer or out of range\r\n"
    c.call("SET", "b", "foobar")
    assert c.call_raw("BITCOUNT", "b") == b":26\r\n"
    assert c.call_raw("BITCOUNT", "b", "0", "0") == b":4\r\n"
    assert c.call_raw("BITCOUNT", "b", "1", "1") == b":6\r\n"
    assert c.call_raw("BITCOUNT", "b", "1", "1", "BYTE") == b":6\r\n"
    assert c.call_raw("BITCOUNT", "b", "5", "30", "BIT") == b":17\r\n"
    assert c.call_raw("BITCOUNT", "b", "-2", "-1") == b":7\r\n"
    assert c.call_raw("BITCOUNT", "nokey") == b":0\r\n"
    assert c.call_raw("BITCOUNT", "b", "0", "1", "FOO") == b"-ERR syntax error\r\n"
    assert c.call_raw("BITCOUNT", "b", "0") == b"-ERR syntax error\r\n"
    c.call("SET", "p", b"\xff\xf0\x00")
    assert c.call_raw("BITPOS", "p", "0") == b":12\r\n"
    c.call("SET", "p", b"\x00\xff\xf0")
    assert c.call_raw("BITPOS", "p", "1", "0") == b":8\r\n"
    assert c.call_raw("BITPOS", "p", "1", "2") == b":16\r\n"
    assert c.call_raw("BITPOS", "p", "1", "2", "-1", "BYTE") == b":16\r\n"
    assert c.call_raw("BITPOS", "p", "1", "7", "15", "BIT") == b":8\r\n"
    assert c.call_raw("BITPOS", "p", "0", "1", "1") == b":-1\r\n"
    c.call("SET", "p", b"\x00\x00\x00")
    assert c.call_raw("BITPOS", "p", "1") == b":-1\r\n"
    c.call("SET", "p", b"\xff\xff\xff")
    assert c.call_raw("BITPOS", "p", "0") == b":24\r\n"
    assert c.call_raw("BITPOS", "p", "0", "0", "-1") == b":-1\r\n"
    assert c.call_raw("BITPOS", "nokey", "0") == b":0\r\n"
    assert c.call_raw("BITPOS", "nokey", "1") == b":-1\r\n"
    assert c.call_raw("BITPOS", "p", "2") == b"-ERR The bit argument must be 1 or 0.\r\n"


def test_lcs(raw):
    c = raw
    c.call("MSET", "key1", "ohmytext", "key2", "mynewtext")
    assert c.call_raw("LCS", "key1", "key2") == b"$6\r\nmytext\r\n"
    assert c.call_raw("LCS", "key1", "key2", "LEN") == b":6\r\n"
    assert c.call_raw("LCS", "key1", "key2", "IDX") == (
        b"*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n"
        b"*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n")
    assert c.call_raw("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN") == (
        b"*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n"
        b"$3\r\nlen\r\n:6\r\n")
    assert c.call_raw("LCS", "key1", "nokey") == b"$0\r\n\r\n"
    assert c.call_raw("LCS", "key1", "key2", "LEN", "IDX") == \
        b"-ERR If you want both the length and indexes, please just use IDX.\r\n"
    assert c.call_raw("LCS", "key1", "key2", "FOO") == b"-ERR syntax error\r\n"


def test_rename_renamenx(raw):
    c = raw
    assert c.call_raw("RENAME", "nokey", "x") == b"-ERR no such key\r\n"
    assert c.call_raw("RENAMENX", "nokey", "x") == b"-ERR no such key\r\n"
    c.call("SET", "a", "1", "EX", "100")
    c.call("SET", "b", "2")
    assert c.call_raw("RENAME", "a", "c") == b"+OK\r\n"
    assert c.call_raw("EXISTS", "a") == b":0\r\n"
    assert c.call_raw("GET", "c") == b"$1\r\n1\r\n"
    assert c.call("TTL", "c") in (99, 100)  # the TTL moves with the value
    assert c.call_raw("RENAME", "c", "b") == b"+OK\r\n"  # overwrites
    assert c.call_raw("GET", "b") == b"$1\r\n1\r\n"
    assert c.call_raw("RENAME", "b", "b") == b"+OK\r\n"
    c.call("SET", "d", "4")
    assert c.call_raw("RENAMENX", "b", "d") == b":0\r\n"
    assert c.call_raw("RENAMENX", "b", "e") == b":1\r\n"
    assert c.call("MGET", "b", "d", "e") == [None, b"4", b"1"]


def test_misc_keyspace_commands(raw):
    c = raw
    assert c.call_raw("RANDOMKEY") == b"$-1\r\n"
    c.call("SET", "only", "1")
    assert c.call_raw("RANDOMKEY") == b"$4\r\nonly\r\n"
    usage = c.call("MEMORY", "USAGE", "only")
    assert isinstance(usage, int) and usage > 0
    assert isinstance(c.call("MEMORY", "USAGE", "only", "SAMPLES", "5"), int)
    assert c.call_raw("MEMORY", "USAGE", "nokey") == b"$-1\r\n"
    secs, usecs = c.call("TIME")
    assert abs(int(secs) - time.time()) < 5 and 0 <= int(usecs) < 1000000


# ----------------------------------------------------------- transactions


def test_multi_exec(raw):
    c = raw
    assert c.call_raw("MULTI") == b"+OK\r\n"
    assert c.call_raw("SET", "a", "1") == b"+QUEUED\r\n"
    assert c.call_raw("INCR", "a") == b"+QUEUED\r\n"
    assert c.call_raw("GET", "a") == b"+QUEUED\r\n"
    assert c.call_raw("EXEC") == b"*3\r\n+OK\r\n:2\r\n$1\r\n2\r\n"
    assert c.call_raw("MULTI") == b"+OK\r\n"
    assert c.call_raw("EXEC") == b"*0\r\n"


def test_multi_queued_error_execabort(raw):
    c = raw
    c.call("SET", "a", "orig")
    for bad, err in ((("SET", "a"), b"-ERR wrong number of arguments for 'set' command\r\n"),
                     (("NOSUCH", "x"), b"-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n")):
        assert c.call_raw("MULTI") == b"+OK\r\n"
        assert c.call_raw("SET", "a", "new") == b"+QUEUED\r\n"
        assert c.call_raw(*bad) == err
        assert c.call_raw("SET", "b", "new") == b"+QUEUED\r\n"
        assert c.call_raw("EXEC") == b"-EXECABORT Transaction discarded because of previous errors.\r\n"
        assert c.call_raw("GET", "a") == b"$4\r\norig\r\n"
        assert c.call_raw("EXISTS", "b") == b":0\r\n"
    assert c.call_raw("EXEC") == b"-ERR EXEC without MULTI\r\n"


def test_multi_exec_time_error_inside_array(raw):
    c = raw
    c.call("SET", "s", "notanint")
    c.call("MULTI")
    assert c.call_raw("SET", "a", "1") == b"+QUEUED\r\n"
    assert c.call_raw("INCR", "s") == b"+QUEUED\r\n"
    assert c.call_raw("SET", "b", "2") == b"+QUEUED\r\n"
    assert c.call_raw("EXEC") == b"*3\r\n+OK\r\n-ERR value is not an integer or out of range\r\n+OK\r\n"
    assert c.call("MGET", "a", "b", "s") == [b"1", b"2", b"notanint"]


def test_multi_nested_discard_exec_without_multi(raw):
    c = raw
    assert c.call_raw("EXEC") == b"-ERR EXEC without MULTI\r\n"
    assert c.call_raw("DISCARD") == b"-ERR DISCARD without MULTI\r\n"
    assert c.call_raw("MULTI") == b"+OK\r\n"
    assert c.call_raw("MULTI") == b"-ERR MULTI calls can not be nested\r\n"
    assert c.call_raw("SET", "a", "1") == b"+QUEUED\r\n"
    assert c.call_raw("DISCARD") == b"+OK\r\n"
    assert c.call_raw("EXISTS", "a") == b":0\r\n"
    assert c.call_raw("EXEC") == b"-ERR EXEC without MULTI\r\n"
    # the nested MULTI error does not abort the transaction
    c.call("MULTI")
    assert c.call_raw("MULTI") == b"-ERR MULTI calls can not be nested\r\n"
    c.call("SET", "a", "1")
    assert c.call_raw("EXEC") == b"*1\r\n+OK\r\n"


def test_multi_is_atomic_to_other_clients(server):
    c, d = server.raw(), server.raw()
    c.call("MULTI")
    for i in range(50):
        c.call("INCR", "n")
    assert d.call("GET", "n") is None  # nothing applied while queued
    assert c.call("EXEC") == list(range(1, 51))
    assert d.call("GET", "n") == b"50"


# ----------------------------------------------------------------- redis-py


def test_function_and_script_reads_are_no_log_entries(raw):
    """FUNCTION LIST / DUMP / STATS and SCRIPT EXISTS / DEBUG NO are reads
    (Redis's COMMAND INFO has no write flag on them): answered like GET,
    never proposed; FUNCTION DELETE is a write (the index moves)."""
    c = raw
    lib = "#!lua name=rlib\nredis.register_function('f', function() return 1 end)"
    assert c.call_raw("FUNCTION", "LOAD", lib) == b"$4\r\nrlib\r\n"

    def last():
        return int(info_dict(c.call("INFO", "raft"))["raft_last_index"]) if IS_RAFTKV else 0

    before = last()
    listing = c.call_raw("FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "rl*")
    assert b"rlib" in listing and b"register_function" in listing
    assert c.call_raw("FUNCTION", "LIST", "x") == b"-ERR Unknown argument x\r\n"
    assert c.call_raw("FUNCTION", "DUMP").startswith(b"$")
    assert b"libraries_count" in c.call_raw("FUNCTION", "STATS")
    assert c.call_raw("FUNCTION", "KILL") == b"-NOTBUSY No scripts in execution right now.\r\n"
    assert c.call_raw("SCRIPT", "EXISTS", "0" * 40) == b"*1\r\n:0\r\n"
    assert c.call_raw("SCRIPT", "DEBUG", "NO") == b"+OK\r\n"
    assert c.call_raw("SCRIPT", "DEBUG", "x") == b"-ERR Use SCRIPT DEBUG YES/SYNC/NO\r\n"
    if IS_RAFTKV:
        assert c.call_raw("SCRIPT", "DEBUG", "YES").startswith(b"-ERR SCRIPT DEBUG YES|SYNC is not supported")
    assert last() == before
    assert c.call_raw("FUNCTION", "DELETE", "rlib") == b"+OK\r\n"
    assert c.call_raw("FUNCTION", "LIST") == b"*0\r\n"
    if IS_RAFTKV:
        assert last() > before


def test_redis_py_basics(r):
    assert r.ping() is True
    assert r.set("k", "v", ex=100) is True
    assert r.ttl("k") in (99, 100)
    assert r.get("k") == b"v"
    assert r.set("k", "w", nx=True) is None
    assert r.set("k", "w", xx=True, get=True) == b"v"
    assert r.incr("n") == 1 and r.incrby("n", 5) == 6
    assert r.incrbyfloat("f", 1.5) == 1.5
    assert r.mset({"a": "1", "b": "2"}) is True
    assert r.mget(["a", "b", "c"]) == [b"1", b"2", None]
    assert r.exists("a", "b", "c") == 2
    assert r.delete("a", "b") == 2
    assert r.dbsize() == 3
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("NOSUCHCMD", "a")
    assert str(e.value) == "unknown command 'NOSUCHCMD', with args beginning with: 'a' "
    r.client_setname("py")
    assert r.client_getname() in ("py", b"py")
    assert r.flushdb() is True
    assert r.dbsize() == 0
