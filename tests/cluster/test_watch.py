"""WATCH on a 3-node cluster (issue 17): the watch is the connection's, the
EXEC entry carries what each key looked like, and the apply decides on
every node. WATCH, reads and EXEC on a follower (proxy mode), through a
leader kill -9, and redis-py's transaction() helper from four threads."""
import threading

import redis
from conftest import wait_until
from test_snapshot import assert_same_keyspace


def follower_sees(node, key, value):
    with node.client() as r:
        r.execute_command("READONLY")
        return r.get(key) == value


def watched_set(r, key, out, value):
    """WATCH key, GET it, MULTI SET out value EXEC on one connection:
    True committed, False aborted."""
    p = r.pipeline()
    try:
        p.watch(key)
        p.get(key)
        p.multi()
        p.set(out, value)
        p.execute()
        return True
    except redis.WatchError:
        return False
    finally:
        p.reset()


def test_watch_on_a_follower_decides_at_apply(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    f = c.followers()[0]
    lr, fr = ld.client(), f.client()
    assert lr.set("k", "1") is True
    wait_until(lambda: follower_sees(f, "k", b"1"), 20, "the follower to apply k=1")
    # Untouched: commits.
    assert watched_set(fr, "k", "out", "a") is True
    # Written on the leader between WATCH and EXEC: aborts, applies nothing.
    p = fr.pipeline()
    p.watch("k")
    assert p.get("k") == b"1"
    assert lr.set("k", "2") is True
    p.multi()
    p.set("out", "b")
    try:
        p.execute()
        raise AssertionError("EXEC committed although k changed")
    except redis.WatchError:
        pass
    p.reset()
    assert lr.get("out") == b"a"
    # An absent key nobody writes: commits.
    assert watched_set(fr, "absent", "out", "c") is True
    lr.close()
    fr.close()
    assert_same_keyspace(c)


def test_watch_behind_its_own_pipelined_write(make_cluster):
    """SET k; WATCH k; MULTI; SET k; EXEC sent in one write on the leader:
    the WATCH comes after the client's own SET, so the EXEC commits, as on
    redis-server (the WATCH waits for the SET to apply)."""
    c = make_cluster(3)
    r = c.leader().client()
    other = c.leader().client()
    conn = r.connection_pool.get_connection("WATCH")
    try:
        for i in range(5):
            cmds = [("SET", "pw", "a%d" % i), ("WATCH", "pw"), ("GET", "pw"), ("MULTI",),
                    ("SET", "pw", "b%d" % i), ("EXEC",)]
            conn.send_packed_command(conn.pack_commands(cmds))
            replies = [conn.read_response() for _ in cmds]
            assert replies == [b"OK", b"OK", b"a%d" % i, b"OK", b"QUEUED", [b"OK"]], replies
            # A change by another client after the WATCH still aborts.
            cmds = [("SET", "pw", "c%d" % i), ("WATCH", "pw")]
            conn.send_packed_command(conn.pack_commands(cmds))
            assert [conn.read_response() for _ in cmds] == [b"OK", b"OK"]
            assert other.set("pw", "x") is True
            cmds = [("MULTI",), ("SET", "pw", "d"), ("EXEC",)]
            conn.send_packed_command(conn.pack_commands(cmds))
            assert [conn.read_response() for _ in cmds] == [b"OK", b"QUEUED", None]
    finally:
        r.connection_pool.release(conn)
    assert r.get("pw") == b"x"
    r.close()
    other.close()


def test_watch_across_a_leader_kill(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    f1, f2 = c.followers()
    with ld.client() as r:
        assert r.set("k", "1") is True
        assert r.set("j", "1") is True
    for f in (f1, f2):
        wait_until(lambda: follower_sees(f, "j", b"1"), 20, "the followers to apply")
    untouched, touched = f1.client().pipeline(), f1.client().pipeline()
    untouched.watch("k")
    assert untouched.get("k") == b"1"
    touched.watch("j")
    assert touched.get("j") == b"1"
    ld.kill()
    nl = c.leader(among=[f1, f2], timeout=30)
    with nl.client() as r:
        assert r.set("j", "2") is True
    wait_until(lambda: follower_sees(f1, "j", b"2"), 20, "f1 to apply j=2")

    def exec_after_election(p, out):
        p.multi()
        p.set(out, "x")
        try:
            return p.execute()
        except redis.WatchError:
            return None

    assert exec_after_election(untouched, "u") == [True]
    assert exec_after_election(touched, "t") is None
    untouched.reset()
    touched.reset()
    with nl.client() as r:
        assert r.get("u") == b"x"
        assert r.get("t") is None
    ld.start()
    assert_same_keyspace(c)


def test_redis_py_transaction_counter_through_a_follower(make_cluster):
    c = make_cluster(3)
    f = c.followers()[0]
    errors = []

    def worker():
        r = f.client()
        try:
            for _ in range(50):
                def incr(pipe):
                    v = int(pipe.get("counter") or 0)
                    pipe.multi()
                    pipe.set("counter", v + 1)
                r.transaction(incr, "counter")
        except Exception as e:  # reported below
            errors.append(e)
        finally:
            r.close()

    ts = [threading.Thread(target=worker) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert not errors, errors
    with c.leader().client() as r:
        assert r.get("counter") == b"200"
    assert_same_keyspace(c)
