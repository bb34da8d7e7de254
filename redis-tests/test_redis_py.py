"""redis-py (Debian's, /usr/bin/python3) against raftkv-server: basic use,
pipeline() (MULTI/EXEC), pipeline(transaction=False), set(ex=), info(),
scan_iter, errors; hashes, lists, sets and sorted sets as applications use
them, in pipelines and transactions, and in another database
(redis.Redis(db=2)).

The collection tests run against raftkv-server and against redis-server
7.0 (the `c` fixture): the expected values are checked to be Redis's own."""
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


# ------------------------------------------------------------ collections
# Each test below runs against raftkv-server and against redis-server 7.0:
# a value RaftKV gets wrong fails the raftkv run only.


@pytest.fixture(params=["raftkv", "redis"])
def server(request):
    return request.getfixturevalue("raftkv" if request.param == "raftkv" else "redis_ref")


@pytest.fixture
def c(server):
    conn = redis.Redis(host=server.host, port=server.port, socket_timeout=30)
    yield conn
    conn.close()


def test_hash_as_an_object(c):
    assert c.hset("user:1", mapping={"name": "ada", "visits": 0, "score": "1.5"}) == 3
    assert c.hset("user:1", "email", "ada@example.com") == 1
    assert c.hset("user:1", mapping={"name": "Ada", "lang": "en"}) == 1  # name overwritten, lang added
    assert c.hgetall("user:1") == {b"name": b"Ada", b"visits": b"0", b"score": b"1.5",
                                   b"email": b"ada@example.com", b"lang": b"en"}
    assert c.hincrby("user:1", "visits", 1) == 1
    assert c.hincrby("user:1", "visits", 41) == 42
    assert c.hincrbyfloat("user:1", "score", 0.25) == 1.75
    assert c.hget("user:1", "visits") == b"42" and c.hget("user:1", "nofield") is None
    assert c.hmget("user:1", ["name", "nofield", "lang"]) == [b"Ada", None, b"en"]
    assert c.hexists("user:1", "email") is True and c.hexists("user:1", "x") is False
    assert c.hsetnx("user:1", "name", "x") == 0 and c.hsetnx("user:1", "city", "London") == 1
    assert c.hlen("user:1") == 6
    assert sorted(c.hkeys("user:1")) == [b"city", b"email", b"lang", b"name", b"score", b"visits"]
    assert c.hstrlen("user:1", "name") == 3
    assert c.hdel("user:1", "email", "lang", "nofield") == 2
    assert sorted(c.hvals("user:1")) == [b"1.75", b"42", b"Ada", b"London"]
    with pytest.raises(redis.ResponseError, match="hash value is not an integer"):
        c.hincrby("user:1", "name", 1)
    assert c.hgetall("nohash") == {}
    assert c.hdel("user:1", "name", "visits", "score", "city") == 4
    assert c.exists("user:1") == 0  # the last field deleted deletes the key
    c.hset("big", mapping={"f%d" % i: i for i in range(300)})
    assert sorted(c.hscan_iter("big", match="f1*", count=20)) == sorted(
        (b"f%d" % i, b"%d" % i) for i in range(300) if str(i).startswith("1"))


def test_list_as_a_queue_and_a_stack(c):
    assert c.lpush("jobs", "a", "b") == 2
    assert c.rpush("jobs", "c", "d") == 4
    assert c.lrange("jobs", 0, -1) == [b"b", b"a", b"c", b"d"]
    assert c.llen("jobs") == 4 and c.lindex("jobs", 1) == b"a" and c.lindex("jobs", 9) is None
    assert c.rpop("jobs") == b"d"
    assert c.lpop("jobs") == b"b"
    assert c.rpush("jobs", *["j%d" % i for i in range(10)]) == 12
    assert c.lrange("jobs", 2, 4) == [b"j0", b"j1", b"j2"]
    assert c.lrange("jobs", -2, -1) == [b"j8", b"j9"]
    assert c.rpop("jobs", 3) == [b"j9", b"j8", b"j7"]
    assert c.lpop("jobs", 2) == [b"a", b"c"]
    assert c.lmove("jobs", "done", "LEFT", "RIGHT") == b"j0"
    assert c.lmove("jobs", "done", "RIGHT", "LEFT") == b"j6"
    assert c.lrange("done", 0, -1) == [b"j6", b"j0"]
    assert c.rpoplpush("jobs", "done") == b"j5"
    assert c.lset("jobs", 0, "first") is True
    assert c.linsert("jobs", "AFTER", "first", "second") == 5
    assert c.lrange("jobs", 0, -1) == [b"first", b"second", b"j2", b"j3", b"j4"]
    assert c.lpos("jobs", "j3") == 3 and c.lpos("jobs", "zz") is None
    assert c.rpush("dups", "x", "y", "x", "x") == 4 and c.lrem("dups", 2, "x") == 2
    assert c.lrange("dups", 0, -1) == [b"y", b"x"]
    assert c.ltrim("jobs", 1, 2) is True and c.lrange("jobs", 0, -1) == [b"second", b"j2"]
    assert c.lpushx("nolist", "v") == 0 and c.exists("nolist") == 0
    assert c.lpop("nolist") is None and c.lrange("nolist", 0, -1) == []
    assert c.rpop("jobs", 5) == [b"j2", b"second"] and c.exists("jobs") == 0


def test_set_membership(c):
    assert c.sadd("tags:1", "redis", "raft", "kv") == 3
    assert c.sadd("tags:1", "raft", "lmdb") == 1
    assert c.smembers("tags:1") == {b"redis", b"raft", b"kv", b"lmdb"}
    assert c.sismember("tags:1", "raft") and not c.sismember("tags:1", "paxos")
    assert c.smismember("tags:1", ["kv", "x", "lmdb"]) == [True, False, True]
    assert c.scard("tags:1") == 4
    assert c.sadd("tags:2", "raft", "paxos") == 2
    assert c.sinter("tags:1", "tags:2") == {b"raft"}
    assert c.sunion("tags:1", "tags:2") == {b"redis", b"raft", b"kv", b"lmdb", b"paxos"}
    assert c.sdiff("tags:1", "tags:2") == {b"redis", b"kv", b"lmdb"}
    assert c.sinterstore("both", ["tags:1", "tags:2"]) == 1 and c.smembers("both") == {b"raft"}
    assert c.smove("tags:2", "tags:1", "paxos") is True and c.scard("tags:1") == 5
    assert c.srem("tags:1", "kv", "nothere") == 1
    popped = c.spop("tags:1")
    assert popped in {b"redis", b"raft", b"lmdb", b"paxos"}
    assert not c.sismember("tags:1", popped)
    rest = c.spop("tags:1", 10)
    assert sorted(rest + [popped]) == [b"lmdb", b"paxos", b"raft", b"redis"]
    assert c.exists("tags:1") == 0 and c.spop("tags:1") is None and c.smembers("tags:1") == set()
    c.sadd("many", *range(200))
    assert sorted(c.sscan_iter("many", count=17)) == sorted(b"%d" % i for i in range(200))
    assert c.srandmember("many") in {b"%d" % i for i in range(200)}
    assert len(set(c.srandmember("many", 5))) == 5


def test_sorted_set_leaderboard(c):
    assert c.zadd("board", {"ada": 10, "bob": 5, "cy": 7.5}) == 3
    assert c.zadd("board", {"bob": 12, "dee": 1}) == 1
    assert c.zrange("board", 0, -1, withscores=True) == [(b"dee", 1.0), (b"cy", 7.5), (b"ada", 10.0),
                                                        (b"bob", 12.0)]
    assert c.zrange("board", 0, 1, desc=True) == [b"bob", b"ada"]
    assert c.zrevrange("board", 0, 0, withscores=True) == [(b"bob", 12.0)]
    assert c.zincrby("board", 2.5, "cy") == 10.0
    assert c.zincrby("board", 3, "new") == 3.0
    assert c.zscore("board", "cy") == 10.0 and c.zscore("board", "nobody") is None
    assert c.zrangebyscore("board", 3, 10) == [b"new", b"ada", b"cy"]
    assert c.zrangebyscore("board", "(3", "+inf", withscores=True) == [(b"ada", 10.0), (b"cy", 10.0),
                                                                       (b"bob", 12.0)]
    assert c.zrangebyscore("board", "-inf", "+inf", start=1, num=2) == [b"new", b"ada"]
    assert c.zrevrangebyscore("board", 10, 3) == [b"cy", b"ada", b"new"]
    assert c.zrange("board", 1, 10, byscore=True, withscores=True) == [(b"dee", 1.0), (b"new", 3.0),
                                                                       (b"ada", 10.0), (b"cy", 10.0)]
    assert c.zrank("board", "bob") == 4 and c.zrevrank("board", "bob") == 0 and c.zrank("board", "x") is None
    assert c.zcard("board") == 5 and c.zcount("board", 3, 10) == 3
    assert c.zadd("board", {"ada": 0}, xx=True, ch=True) == 1
    assert c.zadd("board", {"ada": 100}, gt=True, ch=True) == 1
    assert c.zadd("board", {"ada": 50}, gt=True, ch=True) == 0
    assert c.zadd("board", {"ada": 1}, incr=True) == 101.0
    assert c.zpopmin("board") == [(b"dee", 1.0)]
    assert c.zpopmax("board", 2) == [(b"ada", 101.0), (b"bob", 12.0)]
    assert c.zrem("board", "new", "nobody") == 1
    assert c.zrange("board", 0, -1, withscores=True) == [(b"cy", 10.0)]
    assert c.zadd("lex", {"a": 0, "b": 0, "c": 0, "d": 0}) == 4
    assert c.zrangebylex("lex", "[b", "(d") == [b"b", b"c"]
    assert c.zunionstore("u", {"lex": 1, "board": 2}) == 5
    assert c.zrange("u", -1, -1, withscores=True) == [(b"cy", 20.0)]


def test_collections_wrongtype_and_type(c):
    c.set("s", "v")
    c.hset("h", "f", "v")
    c.rpush("l", "v")
    c.sadd("st", "v")
    c.zadd("z", {"v": 1})
    assert [c.type(k) for k in ("s", "h", "l", "st", "z", "none")] == [
        b"string", b"hash", b"list", b"set", b"zset", b"none"]
    for call in (lambda: c.hget("l", "f"), lambda: c.lpush("h", "x"), lambda: c.sadd("z", "x"),
                 lambda: c.zadd("st", {"x": 1}), lambda: c.get("h"), lambda: c.smembers("s")):
        with pytest.raises(redis.ResponseError, match="^WRONGTYPE Operation against a key holding the wrong kind"):
            call()
    assert sorted(c.scan_iter(_type="hash")) == [b"h"]
    assert sorted(c.scan_iter(_type="zset")) == [b"z"]
    assert c.delete("h", "l", "st", "z") == 4 and c.dbsize() == 1


def test_collections_in_a_transaction(c):
    with c.pipeline() as p:  # MULTI ... EXEC
        p.hset("cart:7", mapping={"apple": 2, "pear": 1}).hincrby("cart:7", "apple", 3)
        p.rpush("events", "added", "updated").sadd("carts", "cart:7").zadd("recent", {"cart:7": 1700000000})
        p.hgetall("cart:7").lrange("events", 0, -1).smembers("carts").zrange("recent", 0, -1, withscores=True)
        assert p.execute() == [2, 5, 2, 1, 1, {b"apple": b"5", b"pear": b"1"}, [b"added", b"updated"],
                               {b"cart:7"}, [(b"cart:7", 1700000000.0)]]
    with c.pipeline() as p:  # an exec-time WRONGTYPE: the rest is applied
        p.sadd("carts", "cart:8").lpush("cart:7", "x").zincrby("recent", 5, "cart:7")
        res = p.execute(raise_on_error=False)
    assert res[0] == 1 and res[2] == 1700000005.0
    assert isinstance(res[1], redis.ResponseError) and str(res[1]).startswith("WRONGTYPE")
    assert c.scard("carts") == 2
    with c.pipeline() as p:  # a queued-time error: nothing is applied
        p.sadd("carts", "cart:9").execute_command("HSET", "cart:7", "odd")
        with pytest.raises(redis.ResponseError):
            p.execute()
    assert c.sismember("carts", "cart:9") is False


def test_collections_in_a_plain_pipeline(c):
    with c.pipeline(transaction=False) as p:
        for i in range(200):
            p.hset("h:%d" % (i % 10), "f%d" % i, i).rpush("l", i).sadd("s", i % 50).zadd("z", {"m%d" % i: i})
        p.hlen("h:3").llen("l").scard("s").zcard("z").zrange("z", -2, -1, withscores=True)
        res = p.execute()
    want = []
    for i in range(200):
        want += [1, i + 1, 1 if i < 50 else 0, 1]  # HSET, RPUSH, SADD, ZADD
    assert res[:800] == want
    assert res[800:] == [20, 200, 50, 200, [(b"m198", 198.0), (b"m199", 199.0)]]


def test_select_db_via_redis_db(server):
    db2 = redis.Redis(host=server.host, port=server.port, db=2, socket_timeout=30)
    db0 = redis.Redis(host=server.host, port=server.port, socket_timeout=30)
    try:
        db0.flushall()
        assert db2.hset("h", mapping={"a": 1, "b": 2}) == 2
        assert db2.rpush("l", "x", "y") == 2 and db2.sadd("s", "m") == 1 and db2.zadd("z", {"m": 2}) == 1
        assert db2.set("str", "v") is True
        assert db0.exists("h", "l", "s", "z", "str") == 0 and db0.dbsize() == 0
        assert db2.dbsize() == 5 and db2.hgetall("h") == {b"a": b"1", b"b": b"2"}
        with db2.pipeline() as p:  # the pipeline's connection is on db 2 too
            p.lrange("l", 0, -1).smembers("s").zscore("z", "m").incr("n")
            assert p.execute() == [[b"x", b"y"], {b"m"}, 2.0, 1]
        assert db0.hset("h", "zero", "0") == 1 and db2.hgetall("h") == {b"a": b"1", b"b": b"2"}
        assert db2.move("h", 0) is False  # db 0 has an h: nothing moves
        assert db2.move("l", 0) is True and db0.lrange("l", 0, -1) == [b"x", b"y"] and db2.exists("l") == 0
        assert db0.info("keyspace") == {"db0": {"keys": 2, "expires": 0, "avg_ttl": 0},
                                        "db2": {"keys": 5, "expires": 0, "avg_ttl": 0}}
    finally:
        db2.close()
        db0.close()
