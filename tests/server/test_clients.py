"""Many clients: maxclients, a client that never reads its replies, and
concurrent writers."""
import threading

from conftest import encode, wait_until


def connected_clients(c):
    for line in c.call("INFO", "clients").decode().split("\r\n"):
        if line.startswith("connected_clients:"):
            return int(line.split(":")[1])
    raise AssertionError("no connected_clients in INFO clients")


def test_maxclients_exceeded(make_server):
    s = make_server("--maxclients", "3")
    first = s.raw()
    first.call("SET", "k", "v")
    wait_until(lambda: connected_clients(first) == 1, what="only one client connected")
    others = [s.raw() for _ in range(2)]
    for o in others:
        assert o.call("PING") == "PONG"
    extra = s.raw()
    # the refused client gets the error without sending anything, then EOF
    assert extra.expect_closed() == b"-ERR max number of clients reached\r\n"
    extra2 = s.raw()
    try:
        extra2.send(b"*1\r\n$4\r\nPING\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert extra2.expect_closed() == b"-ERR max number of clients reached\r\n"
    # everyone already in is fine, and so is the data
    for o in [first] + others:
        assert o.call("GET", "k") == b"v"
    assert connected_clients(first) == 3
    # a slot freed is a slot usable again
    others[0].close()

    def can_connect():
        c = s.raw()
        try:
            return c.call("PING") == "PONG"
        except (EOFError, ConnectionResetError, BrokenPipeError):
            return False
        finally:
            c.close()
    wait_until(can_connect, what="a freed slot to be accepted")


def test_client_that_never_reads_is_disconnected(make_server):
    s = make_server("--client-output-buffer-limit", "normal 1mb 1mb 0")
    good = s.raw()
    value = bytes(range(256)) * 400  # 100 KB
    assert good.call("SET", "big", value) == "OK"
    good.call("SET", "other", "intact")
    slow = s.raw(rcvbuf=4096)
    assert slow.call("CLIENT", "SETNAME", "slow") == "OK"
    n = 2000  # ~200 MB of replies, never read
    slow.send(encode("GET", "big") * n)

    def slow_gone():
        lst = good.call("CLIENT", "LIST").decode()
        return "name=slow " not in lst
    wait_until(slow_gone, timeout=30, what="the non-reading client to be disconnected")
    # what it did get before the close is far less than what it asked for
    got = slow.expect_closed(timeout=30)
    assert len(got) < n * len(value) // 2
    # others are unaffected
    assert good.call("GET", "big") == value
    assert good.call("GET", "other") == b"intact"
    assert good.call("DBSIZE") == 2
    fresh = s.raw()
    assert fresh.call("GET", "big") == value


def test_fifty_concurrent_writers(server):
    nclients, nops = 50, 60
    errors = []
    start = threading.Barrier(nclients)

    def worker(i):
        try:
            c = server.client()
            start.wait(timeout=30)
            for j in range(nops):
                assert c.set("k:%d:%d" % (i, j), "v%d" % j) is True
                c.incr("shared")
                c.append("log:%d" % i, "%d," % j)
        except Exception as e:  # reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(nclients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "writers hung"
    assert errors == []
    c = server.raw()
    assert c.call("GET", "shared") == str(nclients * nops).encode()
    assert c.call("DBSIZE") == nclients * nops + nclients + 1
    expect_log = "".join("%d," % j for j in range(nops)).encode()
    for i in range(nclients):
        assert c.call("GET", "log:%d" % i) == expect_log
        vals = c.call("MGET", *["k:%d:%d" % (i, j) for j in range(nops)])
        assert vals == [b"v%d" % j for j in range(nops)]
