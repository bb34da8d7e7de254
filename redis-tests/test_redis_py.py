"""redis-py (Debian's, /usr/bin/python3) against raftkv-server: basic use,
pipeline() (MULTI/EXEC), pipeline(transaction=False), set(ex=), info(),
scan_iter, errors."""
import pytest
import redis


@pytest.fixture
def r(raftkv):
    c = redis.Redis(host=raftkv.host, port=raftkv.port, socket_timeout=30)
    yield c
    c.close()


def test_basic(r):
    assert r.ping() is True
    assert r.set("a", "1") is True
    assert r.get("a") == b"1"
    assert r.incr("a") == 2
    assert r.incrby("a", 5) == 7
    assert r.incrbyfloat("f", 0.5) == 0.5
    assert r.get("nokey") is None
    assert r.mset({"x": "1", "y": "2"}) is True
    assert r.mget("x", "y", "z") == [b"1", b"2", None]
    assert r.set("a", "v", nx=True) is None
    assert r.set("a", "v", xx=True, get=True) == b"7"
    assert r.getdel("a") == b"v"
    assert r.exists("a", "x") == 1
    assert r.delete("x", "y") == 2
    assert r.append("s", "ab") == 2 and r.strlen("s") == 2
    assert r.setbit("b", 3, 1) == 0 and r.getbit("b", 3) == 1 and r.bitcount("b") == 1
    assert r.type("s") == b"string" and r.type("none") == b"none"
    assert r.rename("s", "s2") is True and r.get("s2") == b"ab"
    assert r.lcs("s2", "s2") == b"ab"
    with pytest.raises(redis.ResponseError, match="value is not an integer"):
        r.incr("s2")
    r.client_setname("pyclient")
    assert r.client_getname() == "pyclient"
    assert r.dbsize() == 3  # f, b, s2
    assert r.echo("hi") == b"hi"
    assert isinstance(r.time()[0], int)


def test_set_ex_and_ttl(r):
    assert r.set("t", "v", ex=100) is True
    assert 99 <= r.ttl("t") <= 100
    assert r.set("p", "v", px=100000) is True
    assert 99000 <= r.pttl("p") <= 100000
    assert r.expire("t", 200, gt=True) is True
    assert r.expire("t", 50, gt=True) is False
    assert r.persist("t") is True and r.ttl("t") == -1
    assert r.setex("se", 100, "v") is True
    assert r.getex("se", persist=True) == b"v" and r.ttl("se") == -1
    assert r.ttl("nokey") == -2


def test_transaction_pipeline(r):
    with r.pipeline() as p:  # MULTI ... EXEC
        p.set("a", "1").incr("a").get("a").set("b", "x", ex=100).mget("a", "b", "c")
        assert p.execute() == [True, 2, b"2", True, [b"2", b"x", None]]
    with r.pipeline() as p:  # an exec-time error: the rest is applied
        p.set("c", "1").incr("b").set("d", "1")
        res = p.execute(raise_on_error=False)
    assert res[0] is True and res[2] is True and isinstance(res[1], redis.ResponseError)
    assert r.mget("c", "d") == [b"1", b"1"]
    with r.pipeline() as p:  # a queued-time error: nothing is applied
        p.set("e", "1").execute_command("SET", "x")
        with pytest.raises(redis.ResponseError):
            p.execute()
    assert r.get("e") is None


def test_non_transaction_pipeline(r):
    with r.pipeline(transaction=False) as p:
        for i in range(1000):
            p.set("k%d" % i, i)
        p.incr("n").incr("n").get("n").get("k999")
        res = p.execute()
    assert res[:1000] == [True] * 1000
    assert res[1000:] == [1, 2, b"2", b"999"]


def test_info(r):
    info = r.info()
    assert "redis_version" in info and "connected_clients" in info
    assert "used_memory" in r.info("memory")
    r.set("a", 1)
    assert r.info("keyspace") == {"db0": {"keys": 1, "expires": 0, "avg_ttl": 0}}


def test_scan_iter(r):
    r.mset({"user:%d" % i: i for i in range(500)})
    r.mset({"other:%d" % i: i for i in range(50)})
    assert sorted(r.scan_iter(match="user:*", count=37)) == sorted(b"user:%d" % i for i in range(500))
    assert len(set(r.scan_iter())) == 550
    assert len(set(r.scan_iter(_type="string", count=1000))) == 550
    assert sorted(r.keys("other:*")) == sorted(b"other:%d" % i for i in range(50))
