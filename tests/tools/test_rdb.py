"""raftkv-rdb against real servers: dump.rdb files redis-server 7.0.15
writes (every type and encoding, expiries, several databases) imported into
redis-server, a RaftKV node and a 3-node RaftKV cluster; exports that
redis-server loads; damaged files refused before anything is written.
Every comparison goes through ordinary commands (TYPE, GET, LRANGE, ...),
never DUMP, so it does not trust the thing under test."""
import os
import shutil
import struct
import tempfile
import time

import pytest
import redis

import compat
from rdbdata import (DBS, assert_same_keyspace, check_encodings, client, crc64, export_from, fill,
                     import_into, keyspace, rdb_tool, supports)

SHORT_TTL_MS = 300


@pytest.fixture(scope="module")
def workdir():
    d = tempfile.mkdtemp(prefix="rdbtool-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def saved_source(workdir, name, with_streams):
    """A redis-server holding the data set, SAVEd; two keys expire between
    the SAVE and any import. Returns (server, copy of dump.rdb, key space
    after those two expired)."""
    srv = compat.Server("redis", ["--enable-debug-command", "yes"]).start()
    enc = fill(srv, with_streams=with_streams, with_plain_list=True)
    check_encodings(srv, enc)
    c = client(srv)
    c.set("short-lived", "x", px=SHORT_TTL_MS)
    client(srv, 5).set("short-lived", "y", px=SHORT_TTL_MS)
    assert c.save()
    path = os.path.join(workdir, name)
    shutil.copy(os.path.join(srv.dir, "dump.rdb"), path)
    compat.wait_until(lambda: not c.exists("short-lived") and not client(srv, 5).exists("short-lived"),
                      10, "the short-lived keys to expire")
    return srv, path, keyspace(srv)


@pytest.fixture(scope="module")
def source(workdir):
    srv, path, ks = saved_source(workdir, "full.rdb", with_streams=True)
    yield srv, path, ks
    srv.stop()


@pytest.fixture(scope="module")
def source_raftkv_types(workdir):
    """The data set without streams (a type RaftKV does not have)."""
    srv, path, ks = saved_source(workdir, "nostream.rdb", with_streams=False)
    yield srv, path, ks
    srv.stop()


def test_check_counts_every_key_and_verifies_the_checksum(source):
    _, path, ks = source
    rc, out, err = rdb_tool("check", path)
    assert rc == 0, err
    assert "RDB version 10" in out and "checksum ok" in out, out
    assert "%d keys" % (len(ks) + 2) in out, out


def test_import_into_redis_gives_the_same_keyspace(source):
    _, path, ks = source
    with compat.Server("redis") as dst:
        rc, _, err = import_into(dst, path)
        assert rc == 0, err
        assert "2 expired skipped" in err, err
        assert_same_keyspace(ks, keyspace(dst), "redis -> rdb -> redis")


@pytest.mark.parametrize("batch", [1, 7])
def test_import_batch_size_does_not_change_the_result(source, batch):
    _, path, ks = source
    with compat.Server("redis") as dst:
        rc, _, err = import_into(dst, path, "--batch", batch, "-q")
        assert rc == 0, err
        assert err == ""
        assert_same_keyspace(ks, keyspace(dst), "--batch %d" % batch)


def test_import_replaces_existing_keys_and_keeps_others(source):
    _, path, ks = source
    with compat.Server("redis") as dst:
        c = client(dst)
        c.set("db0:int", "old value")
        c.set("not-in-the-file", "kept")
        rc, _, err = import_into(dst, path)
        assert rc == 0, err
        assert c.get("db0:int") == b"12345"
        assert c.get("not-in-the-file") == b"kept"


def test_import_stops_at_the_first_error_naming_the_key(source):
    _, path, _ = source
    with compat.Server("redis", ["--databases", "4"]) as dst:
        rc, _, err = import_into(dst, path)
        assert rc == 1
        assert "SELECT 5 failed" in err, err


def test_import_of_a_function_library_is_reported(workdir):
    with compat.Server("redis") as src, compat.Server("redis") as dst:
        c = client(src)
        c.execute_command("FUNCTION", "LOAD", "#!lua name=mylib\nredis.register_function('f', function() return 1 end)")
        c.set("k", "v")
        assert c.save()
        path = os.path.join(workdir, "func.rdb")
        shutil.copy(os.path.join(src.dir, "dump.rdb"), path)
        rc, _, err = import_into(dst, path)
        assert rc == 0, err
        assert "1 function libraries in the file were not imported" in err, err
        assert client(dst).get("k") == b"v"


def test_export_from_redis_loads_in_redis(source, workdir):
    srv, _, ks = source
    path = os.path.join(workdir, "export-redis.rdb")
    rc, _, err = export_from(srv, path)
    assert rc == 0, err
    assert not os.path.exists(path + ".tmp")
    rc, out, err = rdb_tool("check", path)
    assert rc == 0 and "%d keys" % len(ks) in out, (out, err)
    loaded = compat.Server("redis", ["--dbfilename", os.path.basename(path)])
    shutil.copy(path, os.path.join(loaded.dir, os.path.basename(path)))
    with loaded.start():
        assert_same_keyspace(ks, keyspace(loaded), "redis -> export -> redis-server loads")


# ---- RaftKV ----

def need_dump_restore(srv):
    if not (supports(srv, "RESTORE", "rdb-probe", "0", "x") and supports(srv, "DUMP", "rdb-probe")):
        pytest.skip("this RaftKV has no DUMP/RESTORE yet (branch dump)")


def test_import_into_raftkv_node(source_raftkv_types):
    _, path, ks = source_raftkv_types
    with compat.Server("raftkv") as dst:
        need_dump_restore(dst)
        rc, _, err = import_into(dst, path, "--batch", 50)
        assert rc == 0, err
        assert_same_keyspace(ks, keyspace(dst), "redis -> rdb -> raftkv")


def test_import_into_raftkv_cluster(source_raftkv_types):
    _, path, ks = source_raftkv_types
    cl = compat.start_raftkv_cluster(3)
    try:
        need_dump_restore(cl)
        rc, _, err = import_into(cl, path)
        assert rc == 0, err
        for n in cl.nodes:
            assert_same_keyspace(ks, keyspace(n), "redis -> rdb -> raftkv node %d" % n.id)
    finally:
        cl.stop()


def test_export_from_raftkv_loads_in_redis(source_raftkv_types, workdir):
    _, path, ks = source_raftkv_types
    with compat.Server("raftkv") as node:
        need_dump_restore(node)
        rc, _, err = import_into(node, path)
        assert rc == 0, err
        out = os.path.join(workdir, "export-raftkv.rdb")
        rc, _, err = export_from(node, out)
        assert rc == 0, err
        loaded = compat.Server("redis", ["--dbfilename", "export-raftkv.rdb"])
        shutil.copy(out, os.path.join(loaded.dir, "export-raftkv.rdb"))
        with loaded.start():
            assert_same_keyspace(ks, keyspace(loaded), "raftkv -> export -> redis-server loads")


# ---- hand-made files: old encodings, damage ----

def rdb_len(n):
    if n < 64:
        return bytes([n])
    if n < 16384:
        return bytes([0x40 | (n >> 8), n & 0xFF])
    return b"\x80" + struct.pack(">I", n)


def rdb_str(s):
    s = s.encode() if isinstance(s, str) else s
    return rdb_len(len(s)) + s


def rdb_file(body, version=10, checksum=True):
    data = b"REDIS%04d" % version + body + b"\xff"
    return data + struct.pack("<Q", crc64(data) if checksum else 0)


def old_format_body(expire_s):
    """RDB v6 types: a linked list, a plain set, a zset with text scores,
    a plain hash, an INT8-encoded string, an expiry in seconds, IDLE."""
    b = b"\xfa" + rdb_str("redis-ver") + rdb_str("3.2.0")
    b += b"\xfe" + rdb_len(0) + b"\xfb" + rdb_len(6) + rdb_len(1)
    b += b"\x00" + rdb_str("plain") + rdb_str("hello")
    b += b"\x00" + rdb_str("int8") + b"\xc0\x05"
    b += b"\x00" + rdb_str("int16") + b"\xc1" + struct.pack("<h", -300)
    b += b"\x01" + rdb_str("list") + rdb_len(3) + rdb_str("a") + rdb_str("b") + rdb_str("c")
    b += b"\x02" + rdb_str("set") + rdb_len(2) + rdb_str("x") + rdb_str("y")
    b += (b"\x03" + rdb_str("zset") + rdb_len(3) + rdb_str("m1") + b"\x031.5" + rdb_str("m2") + b"\xfe"
          + rdb_str("m3") + b"\xff")
    b += b"\xf8" + rdb_len(10)
    b += b"\x04" + rdb_str("hash") + rdb_len(2) + rdb_str("f") + rdb_str("v") + rdb_str("g") + rdb_str("w")
    b += b"\xfd" + struct.pack("<I", expire_s) + b"\x00" + rdb_str("expiring") + rdb_str("soon")
    b += b"\xfe" + rdb_len(3) + b"\x00" + rdb_str("in-db3") + rdb_str("3")
    return b


def test_old_rdb_types_import(workdir):
    path = os.path.join(workdir, "v6.rdb")
    with open(path, "wb") as f:
        f.write(rdb_file(old_format_body(int(time.time()) + 3600), version=6))
    with compat.Server("redis") as dst:
        rc, _, err = import_into(dst, path)
        assert rc == 0, err
        c = client(dst)
        assert c.get("plain") == b"hello" and c.get("int8") == b"5" and c.get("int16") == b"-300"
        assert c.lrange("list", 0, -1) == [b"a", b"b", b"c"]
        assert c.smembers("set") == {b"x", b"y"}
        assert c.zrange("zset", 0, -1, withscores=True) == [(b"m3", float("-inf")), (b"m1", 1.5),
                                                             (b"m2", float("inf"))]
        assert c.hgetall("hash") == {b"f": b"v", b"g": b"w"}
        assert 3500_000 < c.pttl("expiring") <= 3600_000
        assert client(dst, 3).get("in-db3") == b"3"


def damaged_files(good):
    """(name, bytes, what stderr must say)."""
    eof = len(good) - 9
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x40
    nocrc = bytearray(good[:-8] + b"\x00" * 8)
    yield "empty", b"", "not an RDB file"
    yield "not-rdb", b"hello world, not an rdb", "not an RDB file"
    yield "version-11", b"REDIS0011" + good[9:], "RDB version 11"
    yield "cut-in-half", good[:len(good) // 2], "truncated"
    yield "no-trailer", good[:eof + 1], "truncated"
    yield "cut-trailer", good[:-3], "truncated"
    yield "no-eof", good[:eof], "truncated"
    yield "flipped-byte", bytes(flipped), ""
    yield "cut-without-checksum", bytes(nocrc[:len(nocrc) // 2]), "truncated"
    yield "module-aux", rdb_file(b"\xf7" + rdb_len(5) + b"\x00" * 20), "module"
    yield "module-type", rdb_file(b"\x07" + rdb_str("k") + b"\x00" * 20), "module"
    yield "unknown-type", rdb_file(b"\x1f" + rdb_str("k")), "unknown opcode or value type 31"
    # a compressed key that does not decompress to its stated length (a
    # value's LZF is passed through for the server to check; a key is read)
    yield "lzf-lies", rdb_file(b"\x00\xc3" + rdb_len(3) + rdb_len(60) + b"\x01ab" + rdb_str("v")), "LZF"


def test_damaged_files_are_refused_before_anything_is_written(source, workdir):
    _, path, _ = source
    good = open(path, "rb").read()
    with compat.Server("redis") as dst:
        for name, data, says in damaged_files(good):
            p = os.path.join(workdir, "bad-%s.rdb" % name)
            with open(p, "wb") as f:
                f.write(data)
            rc, _, err = import_into(dst, p)
            assert rc == 2, (name, err)
            assert ("raftkv-rdb: %s:" % p) in err and says in err, (name, err)
            for db in DBS:
                assert client(dst, db).dbsize() == 0, "%s: something was imported into db %d" % (name, db)


def test_flipped_byte_is_a_checksum_mismatch(source, workdir):
    _, path, _ = source
    good = bytearray(open(path, "rb").read())
    # a byte inside the long LZF-compressible string's value: structure intact
    at = good.find(b"abcd")
    assert at > 0
    good[at] ^= 0x01
    p = os.path.join(workdir, "crc.rdb")
    with open(p, "wb") as f:
        f.write(good)
    rc, _, err = rdb_tool("check", p)
    assert rc == 2 and "checksum mismatch" in err, err


def test_usage_errors():
    rc, _, err = rdb_tool("import")
    assert rc == 2 and "usage" in err
    rc, _, err = rdb_tool("import", "x.rdb", "--batch", "0")
    assert rc == 2 and "--batch" in err
    rc, _, err = rdb_tool("frobnicate", "x.rdb")
    assert rc == 2 and "unknown command" in err


def test_password_is_sent_with_a(source):
    _, path, ks = source
    with compat.Server("redis", ["--requirepass", "s3cret"]) as dst:
        rc, _, err = import_into(dst, path, "-q")
        assert rc == 1 and "NOAUTH" in err, err
        rc, _, err = import_into(dst, path, "-a", "wrong", "-q")
        assert rc == 1 and "AUTH failed" in err, err
        rc, _, err = import_into(dst, path, "-a", "s3cret", "-q")
        assert rc == 0, err
        r = redis.Redis(host=dst.host, port=dst.port, password="s3cret")
        assert r.dbsize() == len([k for k in ks if k[0] == 0])
