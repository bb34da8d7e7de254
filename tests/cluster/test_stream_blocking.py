"""XREAD BLOCK and XREADGROUP BLOCK on one node and on three
(server/blocking.c, storage/kvx_stream.c): a client blocked on the node it
is connected to is woken by an XADD applied from the log whichever node
took it; $ waits for entries after the last one when the client blocked;
timeouts answer a null; each entry goes to one consumer of a group; MULTI
never blocks. Every wait is on a condition with a deadline; every server is
stopped by pid (conftest.py)."""
import time

import pytest  # noqa: F401  (fixtures)
import redis

import test_blocking
from test_blocking import blocked_clients, cluster, nodes_of, wait_blocked  # noqa: F401

RAW = ("XREAD", "XREADGROUP", "XPENDING")


def client(node, **kw):
    """A connection that keeps the stream replies as sent (redis-py would
    make tuples and dicts of them)."""
    r = node.client(**kw)
    for name in RAW:
        r.response_callbacks.pop(name, None)
    return r


def Blocked(node, *cmd):
    """test_blocking.py's, with the stream replies kept raw."""
    return test_blocking.Blocked(node, *cmd, raw=RAW)


def block(node, *cmd, expect=None):
    before = blocked_clients(node)
    b = Blocked(node, *cmd)
    wait_blocked(node, before + 1 if expect is None else expect)
    assert not b.done(), "%r was answered at once: %r" % (cmd, b.result)
    return b


def xadd(node, key, *fields, id="*"):
    with node.client() as r:
        return r.execute_command("XADD", key, id, *fields)


def test_xread_with_entries_is_served_at_once(cluster):
    ld, f = nodes_of(cluster)
    first = xadd(ld, "s", "a", "1")
    for node in (ld, f):
        with client(node) as r:
            got = r.execute_command("XREAD", "BLOCK", "0", "STREAMS", "s", "0")
        assert got == [[b"s", [[first, [b"a", b"1"]]]]]
    assert blocked_clients(ld) == 0 and blocked_clients(f) == 0


def test_xread_dollar_is_woken_by_an_xadd_on_any_node(cluster):
    ld, f = nodes_of(cluster)
    xadd(ld, "s", "old", "1")  # before: $ is after it
    for waiter, adder in ((ld, f), (f, ld), (f, f)):
        b = block(waiter, "XREAD", "BLOCK", "0", "STREAMS", "nosuch", "s", "$", "$")
        new = xadd(adder, "s", "f", "v")
        assert b.wait().result == [[b"s", [[new, [b"f", b"v"]]]]], b.error
        b.close()
    wait_blocked(ld, 0)
    wait_blocked(f, 0)


def test_xread_timeout_answers_a_null(cluster):
    ld, f = nodes_of(cluster)
    xadd(ld, "s", "a", "1")
    for node in (ld, f):
        b = block(node, "XREAD", "COUNT", "1", "BLOCK", "300", "STREAMS", "s", "$")
        b.wait()
        assert b.error is None and b.result is None
        assert b.at - b.started >= 0.3
        b.close()


def test_several_readers_all_get_the_same_entry(cluster):
    ld, f = nodes_of(cluster)
    xadd(ld, "s", "a", "1", id="1-1")
    readers = [Blocked(n, "XREAD", "BLOCK", "0", "STREAMS", "s", "1-1") for n in (ld, f, ld)]
    wait_blocked(ld, 2 if ld is not f else 3)
    if f is not ld:
        wait_blocked(f, 1)
    xadd(f, "s", "b", "2", id="1-2")
    for b in readers:
        assert b.wait().result == [[b"s", [[b"1-2", [b"b", b"2"]]]]], b.error
        b.close()


def test_xreadgroup_block_gives_each_entry_to_one_consumer(cluster):
    ld, f = nodes_of(cluster)
    with ld.client() as r:
        r.execute_command("XGROUP", "CREATE", "q", "g", "$", "MKSTREAM")
    c1 = block(ld, "XREADGROUP", "GROUP", "g", "c1", "BLOCK", "0", "STREAMS", "q", ">")
    c2 = block(f, "XREADGROUP", "GROUP", "g", "c2", "BLOCK", "0", "STREAMS", "q", ">",
               expect=(2 if f is ld else None))
    ids = [xadd(ld, "q", "job", "1")]

    def answered():
        return [b for b in (c1, c2) if b.done()]

    deadline = time.monotonic() + 20
    while not answered() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(answered()) >= 1
    ids.append(xadd(f, "q", "job", "2"))
    for b in (c1, c2):
        b.wait()
        assert b.error is None, b.error
    got = sorted(b.result[0][1][0][0] for b in (c1, c2))
    assert got == sorted(ids)  # each entry once, to one consumer
    with client(ld) as r:
        summary = r.execute_command("XPENDING", "q", "g")
        assert summary[0] == 2
        assert sorted(c for c, _ in summary[3]) == [b"c1", b"c2"]
    for b in (c1, c2):
        b.close()


def test_xreadgroup_block_timeout_and_history(cluster):
    ld, f = nodes_of(cluster)
    with ld.client() as r:
        r.execute_command("XGROUP", "CREATE", "h", "g", "$", "MKSTREAM")
    b = block(f, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "200", "STREAMS", "h", ">")
    b.wait()
    assert b.error is None and b.result is None
    b.close()
    # An explicit id reads the consumer's history at once, never blocks.
    with client(f) as r:
        assert r.execute_command("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "h",
                                 "0") == [[b"h", []]]


def test_xread_block_inside_multi_does_not_block(cluster):
    ld, f = nodes_of(cluster)
    for node in (ld, f):
        with client(node) as r:
            p = r.pipeline(transaction=True)
            p.execute_command("XREAD", "BLOCK", "0", "STREAMS", "m", "$")
            p.execute_command("XADD", "m", "*", "a", "1")
            assert p.execute()[0] is None


def test_client_unblock_and_the_blocked_count(cluster):
    ld, f = nodes_of(cluster)
    b = block(f, "XREAD", "BLOCK", "0", "STREAMS", "u", "$")
    with f.client() as r:
        assert r.client_unblock(b.client_id()) is True
    b.wait()
    assert b.error is None and b.result is None
    wait_blocked(f, 0)
    b.close()
    with pytest.raises(redis.ResponseError, match="timeout is negative"):
        with f.client() as r:
            r.execute_command("XREAD", "BLOCK", "-1", "STREAMS", "u", "$")


def test_xreadgroup_blocked_on_a_destroyed_group_or_deleted_key_is_answered(cluster):
    """Redis 7.0: -NOGROUP when the group goes, -UNBLOCKED when the key goes
    or holds another type; a blocked XREAD on a deleted key keeps waiting."""
    ld, f = nodes_of(cluster)
    with ld.client() as r:
        r.execute_command("XGROUP", "CREATE", "d1", "g", "$", "MKSTREAM")
        r.execute_command("XGROUP", "CREATE", "d2", "g", "$", "MKSTREAM")
        r.execute_command("XGROUP", "CREATE", "d3", "g", "$", "MKSTREAM")
    a = block(f, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "d1", ">")
    with ld.client() as r:
        assert r.execute_command("XGROUP", "DESTROY", "d1", "g") == 1
    a.wait()
    assert str(a.error) == "NOGROUP the consumer group this client was blocked on no longer exists", a.error
    b = block(ld, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "d2", ">")
    with f.client() as r:
        assert r.delete("d2") == 1
    b.wait()
    assert str(b.error).endswith("the stream key no longer exists"), b.error
    c = block(f, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "d3", ">")
    with ld.client() as r:
        r.set("d3", "not a stream")
    c.wait()
    assert str(c.error).endswith("the stream key no longer exists"), c.error
    x = block(f, "XREAD", "BLOCK", "400", "STREAMS", "d1", "$")
    with ld.client() as r:
        assert r.delete("d1") == 1
    x.wait()
    assert x.error is None and x.result is None and x.at - x.started >= 0.4
    for b_ in (a, b, c, x):
        b_.close()


def test_flushdb_answers_a_blocked_xreadgroup(cluster):
    ld, f = nodes_of(cluster)
    with ld.client() as r:
        r.execute_command("XGROUP", "CREATE", "fl", "g", "$", "MKSTREAM")
    b = block(f, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "fl", ">")
    with ld.client() as r:
        r.flushdb()
    b.wait()
    assert str(b.error).endswith("the stream key no longer exists"), b.error
    b.close()
