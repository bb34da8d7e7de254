"""Real tools and clients: redis-cli (one-shot, piped stdin, --pipe, -3),
redis-benchmark with and without pipelining, and redis-py."""
import re
import subprocess

import pytest
import redis

from conftest import encode

REDIS_CLI = "/usr/bin/redis-cli"
REDIS_BENCHMARK = "/usr/bin/redis-benchmark"


def cli(server, *args, stdin=None, timeout=60):
    p = subprocess.run([REDIS_CLI, "-h", server.host, "-p", str(server.port)] + [str(a) for a in args],
                       input=stdin, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def test_redis_cli_one_shot(server):
    assert cli(server, "SET", "a", "hello world") == (0, "OK\n", "")
    assert cli(server, "GET", "a") == (0, "hello world\n", "")
    assert cli(server, "INCR", "n") == (0, "1\n", "")
    assert cli(server, "GET", "missing") == (0, "\n", "")
    assert cli(server, "MGET", "a", "missing", "n") == (0, "hello world\n\n1\n", "")
    assert cli(server, "PING") == (0, "PONG\n", "")
    rc, out, _ = cli(server, "NOSUCH", "x")
    assert out == "ERR unknown command 'NOSUCH', with args beginning with: 'x' \n\n"
    rc, out, _ = cli(server, "DBSIZE")
    assert (rc, out) == (0, "2\n")


def test_redis_cli_piped_stdin(server):
    rc, out, err = cli(server, stdin=b"SET a 1\nGET a\nINCR a\nGET nokey\nSET b \"x y\"\nGET b\n")
    assert (rc, err) == (0, "")
    assert out == "OK\n1\n2\n\nOK\nx y\n"
    assert server.client().get("a") == b"2"


def test_redis_cli_pipe_mass_insert(server):
    n = 100000
    data = b"".join(encode("SET", "key:%d" % i, "value:%d" % i) for i in range(n))
    rc, out, err = cli(server, "--pipe", stdin=data, timeout=120)
    assert rc == 0, (out, err)
    assert "errors: 0, replies: %d" % n in out, out
    r = server.client()
    assert r.dbsize() == n
    assert r.get("key:0") == b"value:0"
    assert r.get("key:%d" % (n - 1)) == b"value:%d" % (n - 1)
    assert r.mget(["key:%d" % i for i in range(0, n, 997)]) == [b"value:%d" % i for i in range(0, n, 997)]


def test_redis_cli_pipe_counts_errors(server):
    data = encode("SET", "a", "1") + encode("INCR", "a") + encode("GET") + encode("NOSUCH")
    rc, out, err = cli(server, "--pipe", stdin=data)
    assert "errors: 2, replies: 4" in out, out


def test_redis_cli_resp3(server):
    server.client().set("k", "v")
    assert cli(server, "-3", "GET", "k") == (0, "v\n", "")
    assert cli(server, "-3", "GET", "missing") == (0, "\n", "")
    rc, out, err = cli(server, "-3", "HELLO")
    assert rc == 0 and err == ""
    lines = out.split("\n")
    assert lines[2] == "proto 3" and "mode standalone" in lines and "role master" in lines
    rc, out, err = cli(server, "-3", "CONFIG", "GET", "maxclients")
    assert rc == 0 and re.fullmatch(r"maxclients \d+\n", out), out
    rc, out, err = cli(server, "-3", "INFO", "server")
    assert rc == 0 and "redis_version:" in out


BENCH_TESTS = ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET (10 keys)"]


@pytest.mark.parametrize("pipeline", [1, 16])
def test_redis_benchmark(server, pipeline):
    # redis-benchmark (7.x) exits non-zero at the first error reply or
    # dropped connection ("Error from server: ...", "Error: Server closed
    # the connection"), so rc == 0 plus every result line means no error.
    cmd = [REDIS_BENCHMARK, "-h", server.host, "-p", str(server.port),
           "-t", "ping,set,get,incr,mset", "-n", "20000", "-c", "50", "-q", "-P", str(pipeline)]
    p = subprocess.run(cmd, capture_output=True, timeout=150)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    assert p.returncode == 0, (out[-2000:], err)
    assert "Error" not in out + err and "ERR" not in out + err, (out[-2000:], err)
    assert "Could not fetch server CONFIG" not in out + err
    for name in BENCH_TESTS:
        assert re.search(r"(^|\r|\n)%s: [0-9.]+ requests per second" % re.escape(name), out), (name, out[-2000:])
    r = server.client()
    assert r.get("key:__rand_int__") is not None  # SET / MSET really wrote
    assert int(r.get("counter:__rand_int__")) == 20000  # every INCR applied once


def test_redis_py_transaction_pipeline(r):
    with r.pipeline() as p:  # MULTI ... EXEC
        p.set("a", "1").incr("a").get("a").set("b", "x", ex=100).mget("a", "b", "c")
        assert p.execute() == [True, 2, b"2", True, [b"2", b"x", None]]
    with r.pipeline() as p:
        p.set("c", "1").incr("b").set("d", "1")
        res = p.execute(raise_on_error=False)
    assert res[0] is True and res[2] is True
    assert isinstance(res[1], redis.ResponseError)
    assert str(res[1]) == "value is not an integer or out of range"
    assert r.mget("c", "d") == [b"1", b"1"]
    with r.pipeline() as p:
        p.set("e", "1").execute_command("SET", "x")  # queued-time error: nothing applied
        with pytest.raises(redis.ResponseError):
            p.execute()
    assert r.exists("e") == 0


def test_redis_py_plain_pipeline(r):
    with r.pipeline(transaction=False) as p:
        for i in range(1000):
            p.set("k%d" % i, i)
        for i in range(1000):
            p.incr("ctr")
        p.get("k999")
        res = p.execute()
    assert res[:1000] == [True] * 1000
    assert res[1000:2000] == list(range(1, 1001))
    assert res[2000] == b"999"
    with r.pipeline(transaction=False) as p:
        p.set("x", "notint").incr("x").set("y", "1")
        res = p.execute(raise_on_error=False)
    assert res[0] is True and isinstance(res[1], redis.ResponseError) and res[2] is True


def test_redis_py_set_ex_scan_iter_info(r):
    assert r.set("ttl", "v", ex=100) is True
    assert r.ttl("ttl") in (99, 100)
    assert r.set("pttl", "v", px=50000) is True
    assert 49000 < r.pttl("pttl") <= 50000
    assert r.setex("sx", 100, "v") is True
    with r.pipeline(transaction=False) as p:
        for i in range(500):
            p.set("scan:%d" % i, i)
        p.execute()
    assert set(r.scan_iter(match="scan:*", count=20)) == {b"scan:%d" % i for i in range(500)}
    assert len(set(r.scan_iter())) == 503
    info = r.info()
    assert info["role"] == "master"
    assert info["loading"] == 0
    assert info["connected_clients"] >= 1
    assert info["db0"]["keys"] == 503 and info["db0"]["expires"] == 3
    assert "redis_version" in r.info("server")
    assert int(r.config_get("maxclients")["maxclients"]) > 0
