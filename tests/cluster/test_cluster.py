"""The replicated server: real raftkv-server processes on loopback."""
import select
import socket
import subprocess
import threading
import time

import pytest
import redis

from conftest import wait_until


@pytest.mark.parametrize("n", [3, 5])
def test_write_on_leader_is_read_on_every_node(make_cluster, n):
    c = make_cluster(n)
    ld = c.leader()
    assert ld.client().set("k", "v1") is True
    for nd in c.nodes:  # followers serve linearizable reads (ReadIndex via the leader)
        assert nd.client().get("k") == b"v1"
    assert all(nd.client().dbsize() == 1 for nd in c.nodes)


def test_follower_redirects_writes_to_the_leader(make_cluster):
    c = make_cluster(3, args=["--follower-mode", "redirect"])
    ld = c.leader()
    f = c.followers()[0]
    with pytest.raises(redis.ResponseError) as e:
        f.client().set("foo", "bar")
    # redis-cli -c and cluster clients follow MOVED <slot of the key> host:port
    assert str(e.value) == "MOVED 12182 127.0.0.1:%d" % ld.port
    out = subprocess.run(["redis-cli", "-c", "-p", str(f.port), "set", "foo", "bar"],
                         capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "OK", out.stdout + out.stderr
    assert ld.client().get("foo") == b"bar"


def test_follower_proxies_writes_pipelines_and_transactions(make_cluster):
    c = make_cluster(3)
    c.leader()
    f = c.followers()[0]
    r = f.client()
    assert r.set("p", "1") is True
    assert r.incr("p") == 2
    # a pipeline mixing writes and reads keeps its order and sees its writes
    p = r.pipeline(transaction=False)
    for i in range(50):
        p.set("q", i).get("q").incr("n")
    out = p.execute()
    assert out[0::3] == [True] * 50
    assert out[1::3] == [str(i).encode() for i in range(50)]
    assert out[2::3] == list(range(1, 51))
    # MULTI/EXEC forwarded as one call, applied as one entry
    t = r.pipeline(transaction=True)
    t.set("t", "a").append("t", "b").get("t")
    assert t.execute() == [True, 2, b"ab"]
    with pytest.raises(redis.ResponseError) as e:
        r.incr("t")
    assert str(e.value) == "value is not an integer or out of range"


def test_databases_travel_through_a_follower(make_cluster):
    """A client's SELECT is kept by the node it talks to and goes with each
    forwarded write, read and transaction; every node applies it alike."""
    c = make_cluster(3)
    ld = c.leader()
    f = c.followers()[0]
    r = f.client(db=3)
    assert r.set("k", "three") is True
    assert r.get("k") == b"three"
    t = r.pipeline(transaction=True)
    t.set("k", "still3").execute_command("SELECT", "5").set("k", "five").get("k")
    assert t.execute() == [True, True, True, b"five"]
    # the connection is now in database 5
    assert r.get("k") == b"five"
    assert r.execute_command("SELECT", "3") is True
    assert r.get("k") == b"still3"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("SELECT", "16")
    assert str(e.value) == "DB index is out of range"
    with pytest.raises(redis.ResponseError) as e:
        r.move("k", 16)
    assert str(e.value) == "DB index is out of range"
    assert ld.client(db=0).get("k") is None
    for nd in c.nodes:
        with nd.client(db=5) as rc:  # a linearizable read on every node
            assert rc.get("k") == b"five"
        with nd.client() as rc:  # and the node's own state has applied it
            wait_until(lambda: rc.info("keyspace").get("db5", {}).get("keys") == 1,
                       what="db5 on node %d" % nd.id)
            info = rc.info("keyspace")
        assert info.get("db3", {}).get("keys") == 1 and info.get("db5", {}).get("keys") == 1, info


def test_resp3_client_through_a_follower(make_cluster):
    c = make_cluster(3)
    c.leader()
    f = c.followers()[0]
    s = socket.create_connection(("127.0.0.1", f.port), timeout=10)
    try:
        s.sendall(b"HELLO 3\r\nSET r3 v\r\nGET nokey\r\nSET r3 w GET\r\n")
        want = b"+OK\r\n_\r\n$1\r\nv\r\n"
        buf = b""
        deadline = time.monotonic() + 10
        while not buf.endswith(want) and time.monotonic() < deadline:
            buf += s.recv(65536)
        assert buf.startswith(b"%7\r\n") and buf.endswith(want), buf
    finally:
        s.close()


def test_redis_benchmark_through_a_follower(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    f = c.followers()[0]
    for P in ("1", "16"):
        out = subprocess.run(["redis-benchmark", "-p", str(f.port), "-t", "set,get,incr,mset",
                              "-n", "3200", "-c", "20", "-P", P, "-q"],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
        text = out.stdout.replace("\r", "\n")
        assert "ERR" not in text and "Error" not in text, text
    assert int(ld.client().get("counter:__rand_int__")) == 6400


def test_data_dir_of_another_node_is_refused(make_cluster):
    c = make_cluster(3)
    c.leader()
    n2 = c.node(2)
    n2.stop()
    n2.extra = ["--node-id", "1"]  # same dir, other identity
    proc = subprocess.run(n2.argv(), capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert "belongs to node/cluster" in proc.stdout + proc.stderr
    n2.extra = []
    n2.start()


def test_leader_killed_new_leader_keeps_every_acknowledged_write(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    r = ld.client()
    acked = {}
    for i in range(200):
        assert r.set("key:%d" % i, "val:%d" % i)
        acked["key:%d" % i] = "val:%d" % i
    ld.kill()
    survivors = [n for n in c.nodes if n.alive()]
    nl = c.leader(among=survivors)
    assert nl is not ld
    assert nl.client().set("after", "failover")
    for nd in survivors:
        got = nd.client().mget(list(acked))
        assert got == [v.encode() for v in acked.values()]
    ld.start()  # the old leader rejoins as a follower and catches up
    wait_until(lambda: ld.client().get("after") == b"failover", what="old leader to catch up")
    assert c.leader() is nl


def test_follower_answers_tryagain_for_writes_it_never_sent_to_a_dead_leader(make_cluster):
    # Only a write that reached the leader may be answered -TIMEOUT ("may or
    # may not have been executed"); one the follower could not send at all
    # certainly did not run, and a client may simply retry it.
    c = make_cluster(3)
    ld = c.leader()
    f = c.followers()[0]
    r = f.client(socket_timeout=10)
    assert r.set("warm", "1") is True  # the proxy connection to the leader is open
    ld.kill()
    errors = []
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if r.set("after", "kill") is True:
                break
        except redis.ResponseError as e:
            errors.append(str(e).split(" ")[0])
    else:
        pytest.fail("no write succeeded through the follower within 30 s: %s" % errors[-5:])
    # The first write after the kill may have been written to the dying
    # connection; every later failure is a write that never left the follower.
    assert errors[1:].count("TIMEOUT") == 0, errors
    assert set(errors) <= {"TIMEOUT", "TRYAGAIN", "CLUSTERDOWN"}, errors


def test_restarted_follower_catches_up(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    f = c.followers()[0]
    f.kill()
    r = ld.client()
    for i in range(500):
        r.set("k%d" % i, i)
    f.start()
    wait_until(lambda: f.client().get("k499") == b"499", what="follower to catch up")
    assert f.client().dbsize() == 500


def test_minority_never_acknowledges_a_write(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    others = [n for n in c.nodes if n is not ld]
    for n in others:
        n.pause()  # SIGSTOP: longer than an election timeout
    try:
        r = ld.client(socket_timeout=15)
        for i in range(3):
            with pytest.raises(redis.ResponseError) as e:
                r.set("lost%d" % i, "x")
            assert str(e.value).startswith(("TIMEOUT", "CLUSTERDOWN")), str(e.value)
    finally:
        for n in others:
            n.resume()
    nl = c.leader()
    assert nl.client().set("healed", "1")
    # a write answered -TIMEOUT may or may not have happened; none was acknowledged


def test_node_with_wrong_secret_is_refused(make_cluster):
    c = make_cluster(3, secrets={3: "not-the-secret"}, start=False)
    c.node(1).start()
    c.node(2).start()
    c.node(3).start()
    ld = c.leader(among=[c.node(1), c.node(2)])
    assert ld.client().set("k", "v")
    # each side finds the other's proof wrong: nobody sends a proof of its own
    wait_until(lambda: "another cluster secret" in c.node(1).log() + c.node(2).log(),
               what="the refusal to be logged")
    # node 3 never joins: it cannot read what the majority wrote
    info = c.node(3).raft()
    assert info["raft_role"] != "leader"
    assert int(info["raft_commit_index"]) == 0
    assert "another cluster secret" in c.node(3).log()


def test_all_nodes_killed_lose_no_acknowledged_write(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    acked = {}
    lock = threading.Lock()

    def writer(w):
        r = ld.client()
        for i in range(100):
            k = "w%d:%d" % (w, i)
            if r.set(k, k):
                with lock:
                    acked[k] = k
    ts = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for n in c.nodes:
        n.kill()
    for n in c.nodes:
        n.start()
    nl = c.leader()
    got = nl.client().mget(list(acked))
    assert got == [k.encode() for k in acked]
    assert len(acked) == 800


def test_ttl_expires_on_every_node_alike(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    r = ld.client()
    assert r.set("t", "v", px=300)
    assert r.set("keep", "v")
    for nd in c.nodes:
        assert nd.client().exists("keep") == 1
    wait_until(lambda: all(nd.client().exists("t") == 0 for nd in c.nodes),
               what="the key to expire everywhere")
    # the leader's expire entry removed it from every key space, for good
    wait_until(lambda: all(nd.client().dbsize() == 1 for nd in c.nodes), what="expire entries")
    time.sleep(0.2)
    assert all(nd.client().get("t") is None for nd in c.nodes)


def test_multi_exec_and_resp3_on_the_leader(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    p = ld.client().pipeline(transaction=True)
    p.set("a", "1").incr("a").get("a")
    assert p.execute() == [True, 2, b"2"]
    r3 = ld.client(protocol=3) if "protocol" in redis.Redis.__init__.__code__.co_varnames else None
    if r3 is not None:
        assert r3.get("a") == b"2"
    f = c.followers()[0]
    assert f.client().get("a") == b"2"


@pytest.mark.parametrize("pipeline", [1, 16])
def test_redis_benchmark_through_the_leader(make_cluster, pipeline):
    c = make_cluster(3)
    ld = c.leader()
    out = subprocess.run(["redis-benchmark", "-p", str(ld.port), "-t", "set,get,incr,mset",
                          "-n", "4800", "-c", "20", "-P", str(pipeline), "-q"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout.replace("\r", "\n")
    assert "ERR" not in text and "Error" not in text, text
    for t in ("SET", "GET", "INCR", "MSET"):
        assert any(line.startswith(t) and "requests per second" in line for line in text.split("\n")), text
    assert int(ld.client().get("counter:__rand_int__")) == 4800  # a multiple of 16: -P 16 sends whole batches


def test_readonly_on_a_follower_reads_its_own_state(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    assert ld.client().set("ro", "1")
    f = c.followers()[0]
    r = f.client(single_connection_client=True)
    assert r.execute_command("READONLY") in (True, b"OK")
    wait_until(lambda: r.get("ro") == b"1", what="the follower to apply the write")
    # cut the follower off (SIGSTOP the others): READONLY reads still answer,
    # from this node's possibly stale state, where a linearizable read cannot
    others = [n for n in c.nodes if n is not f]
    for n in others:
        n.pause()
    try:
        assert r.get("ro") == b"1"
        assert r.execute_command("READWRITE") in (True, b"OK")
        with pytest.raises(redis.ResponseError) as e:
            r.get("ro")
        assert str(e.value).startswith(("TIMEOUT", "CLUSTERDOWN")), str(e.value)
    finally:
        for n in others:
            n.resume()


def _raw_call(sock, data, want_prefix, timeout=10):
    sock.sendall(data)
    buf, deadline = b"", time.monotonic() + timeout
    while not buf.endswith(b"\r\n") and time.monotonic() < deadline:
        chunk = sock.recv(4096)
        if not chunk:
            break
        buf += chunk
    assert buf.startswith(want_prefix), buf
    return buf


def test_peers_are_exempt_from_maxclients(make_cluster):
    c = make_cluster(3, args=["--maxclients", "2"])
    ld = c.leader()
    f = c.followers()[0]
    f.kill()
    held = [socket.create_connection(("127.0.0.1", ld.port), timeout=10) for _ in range(2)]
    try:
        for h in held:
            _raw_call(h, b"PING\r\n", b"+PONG")
        # from a member's address a connection is on probation: refused at its
        # first command unless that is a valid RAFT.HELLO
        extra = socket.create_connection(("127.0.0.1", ld.port), timeout=10)
        _raw_call(extra, b"PING\r\n", b"-ERR max number of clients reached\r\n")
        assert extra.recv(100) == b""
        extra.close()
        # the restarted follower's peer connections still get in, and it catches up
        f.start()
        _raw_call(held[0], b"SET full yes\r\n", b"+OK")
        wait_until(lambda: f.client(single_connection_client=True).get("full") == b"yes",
                   what="the follower to catch up through a full leader")
    finally:
        for h in held:
            h.close()


def test_probation_connections_that_never_speak_are_closed(make_cluster):
    # Past maxclients, a member's address gets a probation slot (64 at most)
    # for the peer handshake; one that never speaks must not keep it.
    c = make_cluster(3, args=["--maxclients", "1"])
    ld = c.leader()
    # make_cluster waited for the followers' links to the leader: the flood
    # below comes from the members' address, so a link still connecting
    # would queue behind it and the leader, hearing from no follower, would
    # step down (CheckQuorum).
    f = c.followers()[0]
    f.kill()
    held = socket.create_connection(("127.0.0.1", ld.port), timeout=10)
    silent, refused = [], 0
    try:
        _raw_call(held, b"PING\r\n", b"+PONG")
        # more than the slots, at once (well within the hello deadline); the
        # ones past the limit are refused at once
        opened = [socket.create_connection(("127.0.0.1", ld.port), timeout=10)
                  for _ in range(80)]
        ready, _, _ = select.select(opened, [], [], 0.3)
        for s in opened:
            if s in ready:
                data = s.recv(100)
                assert data.startswith(b"-ERR max number of clients reached"), data
                s.close()
                refused += 1
            else:
                silent.append(s)
        t0 = time.monotonic()
        closed = 0
        for s in silent:  # closed by the server, within the hello deadline
            s.settimeout(max(0.1, t0 + 10 - time.monotonic()))
            data = s.recv(100)
            if data.startswith(b"-ERR max number of clients reached"):
                refused += 1  # a refusal slower than the select above (a loaded machine)
                continue
            assert data == b"", "a probation connection got bytes"
            closed += 1
        assert time.monotonic() - t0 < 10
        assert closed >= 50 and refused > 0, (closed, refused)
        # the slots are free again: the follower's peer connections get in
        f.start()
        _raw_call(held, b"SET afterprobation yes\r\n", b"+OK")
        wait_until(lambda: f.client(single_connection_client=True).get("afterprobation") == b"yes",
                   what="the follower to catch up through a full leader")
    finally:
        held.close()
        for s in silent:
            s.close()


def test_concurrent_reads_share_rounds_and_keep_their_order(make_cluster):
    # A leader keeps one ReadIndex round unconfirmed at a time: reads that
    # arrive meanwhile share the next round, unless a write came in since,
    # which must not be read by its client's earlier reads.
    c = make_cluster(3)
    ld = c.leader()
    r = ld.client()
    for i in range(16):
        assert r.set("rk%d" % i, "v%d" % i)
    before = r.info("stats")
    errors = []

    def worker(i):
        try:
            cl = ld.client(single_connection_client=True)
            for j in range(150):
                assert cl.get("rk%d" % i) == (b"v%d" % i if j == 0 else b"w%d:%d" % (i, j - 1))
                p = cl.pipeline(transaction=False)
                p.get("rk%d" % i)
                p.set("rk%d" % i, "w%d:%d" % (i, j))
                p.get("rk%d" % i)
                got = p.execute()
                prev = b"v%d" % i if j == 0 else b"w%d:%d" % (i, j - 1)
                assert got == [prev, True, b"w%d:%d" % (i, j)], got
        except Exception as e:  # reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    after = r.info("stats")
    reads = int(after["raft_read_round_reads"]) - int(before["raft_read_round_reads"])
    rounds = int(after["raft_read_rounds"]) - int(before["raft_read_rounds"])
    assert reads >= 16 * 150 * 3  # every GET went through a round
    assert 0 < rounds and rounds * 2 < reads  # shared: 16 clients, one round at a time


def test_reads_in_flight_when_the_leader_stops_are_asked_of_the_next_leader(make_cluster):
    # A follower's reads wait for the leader's read index. The leader is
    # stopped (SIGSTOP) after they were sent; once the other two elect a
    # leader they must be answered by it, well before raft-request-timeout
    # (30 s here), not fail with -TIMEOUT when it runs out.
    c = make_cluster(3, args=["--raft-request-timeout", "30000"])
    ld = c.leader()
    assert ld.client().set("k", "v1") is True
    f = c.followers()[0]
    other = [n for n in c.nodes if n is not ld and n is not f][0]
    r = f.client(socket_timeout=25, single_connection_client=True)
    assert r.get("k") == b"v1"
    before = int(r.info("stats")["raft_read_rounds_reasked"])
    ld.pause()
    try:
        t0 = time.monotonic()
        p = r.pipeline(transaction=False)
        p.get("k")
        p.strlen("k")  # a pipeline of reads only: still asked again
        got = p.execute()
        took = time.monotonic() - t0
        assert got == [b"v1", 2], got
        assert took < 15, "the reads took %.1f s: they waited for the request timeout" % took
        assert int(r.info("stats")["raft_read_rounds_reasked"]) > before
        nl = c.leader(among=[f, other])
        assert nl.client().set("k", "v2") is True
        assert r.get("k") == b"v2"
    finally:
        ld.resume()
    wait_until(lambda: ld.client().get("k") == b"v2", what="the old leader to follow")


def test_a_read_request_lost_on_the_way_is_asked_again(make_cluster):
    # The leader unchanged, a follower's ReadIndex request can be lost: its
    # own link to the leader is not up (here: the leader's probation slots
    # are full when the follower restarts, so that link is refused while the
    # leader's link to the follower works). Once the link is up, the read
    # must be asked again after an election timeout (500 ms here) and
    # answered, not wait for raft-request-timeout (10 s here).
    c = make_cluster(3, args=["--maxclients", "1", "--raft-request-timeout", "10000"])
    ld = c.leader()
    f = c.followers()[0]

    # maxclients is 1: every client here is disconnected at once (redis-py's
    # `with` does not close a pool's connections).
    def call(node, *args):
        r = node.client()
        try:
            return r.execute_command(*args)
        finally:
            r.connection_pool.disconnect()
    assert call(ld, "SET", "lost", "v") is True
    wait_until(lambda: call(f, "GET", "lost") == b"v", what="the follower to have the key")
    f.kill()

    def take_slot():  # the leader's one client slot, once the last client's close is seen
        s = socket.create_connection(("127.0.0.1", ld.port), timeout=10)
        try:
            _raw_call(s, b"PING\r\n", b"+PONG")
            return s
        except AssertionError:
            s.close()
            return None
    held = wait_until(take_slot, what="the leader's client slot")
    silent = []
    try:
        for _ in range(80):  # every probation slot (64), the rest refused
            silent.append(socket.create_connection(("127.0.0.1", ld.port), timeout=10))
        f.extra = ["--maxclients", "10"]  # room for the read and this test's polling
        f.start()
        wait_until(lambda: int(call(f, "INFO", "raft")["raft_leader_id"]) == ld.id,
                   what="the restarted follower to hear from the leader")
        r = f.client(socket_timeout=30, single_connection_client=True)
        stats = r.info("stats")
        before, rounds = int(stats["raft_read_rounds_reasked"]), int(stats["raft_read_rounds"])
        out = {}

        def read():
            t0 = time.monotonic()
            try:
                out["got"] = r.get("lost")
            except redis.RedisError as e:
                out["got"] = e
            out["took"] = time.monotonic() - t0
        t = threading.Thread(target=read)
        t.start()
        wait_until(lambda: int(call(f, "INFO", "stats")["raft_read_rounds"]) > rounds,
                   what="the read's round to be asked (and its request dropped)")
        for s in silent:
            s.close()
        silent = []
        t.join(30)
        assert out.get("got") == b"v", out
        assert out["took"] < 8, "the read took %.1f s: it waited for the request timeout" % out["took"]
        assert int(r.info("stats")["raft_read_rounds_reasked"]) > before
    finally:
        held.close()
        for s in silent:
            s.close()


def test_lease_reads_end_when_the_leader_loses_its_quorum(make_cluster):
    c = make_cluster(3, args=["--read-mode", "lease"])
    ld = c.leader()
    r = ld.client(single_connection_client=True)
    assert r.set("l", "1")
    for _ in range(200):  # served from the lease, renewed by background rounds
        assert r.get("l") == b"1"
    assert int(r.info("stats")["raft_lease_reads"]) >= 150  # most were lease reads
    f = c.followers()[0]
    assert f.client().get("l") == b"1"  # followers still read through ReadIndex
    others = [n for n in c.nodes if n is not ld]
    for n in others:
        n.pause()
    try:
        # once the lease (4/5 of the 500 ms election timeout) has run out, a
        # leader cut off from its quorum must not serve a read
        def refused():
            try:
                r.get("l")
                return False
            except redis.ResponseError as e:
                assert str(e).startswith(("TIMEOUT", "CLUSTERDOWN")), str(e)
                return True
        wait_until(refused, timeout=15, what="reads to stop once the lease ended")
    finally:
        for n in others:
            n.resume()
    assert c.leader().client().get("l") == b"1"


def test_cluster_commands_describe_one_shard_led_by_the_leader(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    f = c.followers()[0]
    r = f.client()
    slots = r.execute_command("CLUSTER SLOTS")
    # redis-py parses CLUSTER SLOTS into {(start, end): {primary, replicas}}
    if isinstance(slots, dict):
        (rng, nodes), = slots.items()
        assert rng == (0, 16383)
        assert nodes["primary"][:2] == ("127.0.0.1", ld.port)
        assert sorted(p for _, p, *rest in nodes["replicas"]) == sorted(
            n.port for n in c.nodes if n is not ld)
    else:
        assert slots[0][0] == 0 and slots[0][1] == 16383
        assert slots[0][2][1] == ld.port
    def cli(*args):
        out = subprocess.run(["redis-cli", "-p", str(f.port)] + list(args),
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return out.stdout
    lines = [l.split() for l in cli("CLUSTER", "NODES").strip().split("\n")]
    masters = [l for l in lines if "master" in l[2]]
    assert len(lines) == 3 and len(masters) == 1
    assert masters[0][1].startswith("127.0.0.1:%d@" % ld.port) and masters[0][-1] == "0-16383"
    assert sum("myself" in l[2] for l in lines) == 1
    myid = cli("CLUSTER", "MYID").strip()
    assert len(myid) == 40 and any(l[0] == myid and "myself" in l[2] for l in lines)
    info = cli("CLUSTER", "INFO")
    assert "cluster_state:ok" in info and "cluster_known_nodes:3" in info
    assert r.execute_command("CLUSTER KEYSLOT", "foo") == 12182
