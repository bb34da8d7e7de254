"""Runtime membership on real nodes (issue 18): a new node started with
'join yes' is added with RAFT.ADDNODE (a learner: it gets the log and serves
READONLY reads), promoted with RAFT.PROMOTE, and nodes are removed with
RAFT.REMOVENODE; the address book travels in the change entries."""
import shutil
import subprocess
import threading
import time

import pytest
import redis

import testproc
from conftest import Node, wait_until
from test_snapshot import assert_same_keyspace


class JoinNode(Node):
    """A new, empty node: 'join yes', the cluster's id, and a 'cluster'
    list that only says where the members (and itself) are."""

    def __init__(self, cluster, nid, port, cluster_id, spec):
        super().__init__(cluster, nid, port)
        self.spec = spec
        self.extra = ["--join", "yes", "--cluster-id", cluster_id]

    def argv(self):
        a = super().argv()
        a[a.index("--cluster") + 1] = self.spec
        return a


def start_joiner(c, nid, ld, bare=False):
    """Starts node nid with 'join yes', listed after the current members
    (ld leads them; c.leader() waits for the new node to know it too), or
    (bare) with only its own address: it learns the others' from their
    handshakes, then from the address book."""
    port = testproc.pick_ports(1)[0]
    cid = ld.raft()["raft_cluster_id"]
    members = ld.client().execute_command("RAFT.MEMBERS")
    spec = "" if bare else "".join("%d=%s," % (row[0], row[1].decode()) for row in members)
    spec += "%d=127.0.0.1:%d" % (nid, port)
    nd = JoinNode(c, nid, port, cid, spec)
    c.nodes.append(nd)
    return nd.start()


def members(nd):
    return {row[0]: row[2].decode() for row in nd.client().execute_command("RAFT.MEMBERS")}


def caught_up(c, nid, within=50):
    """The leader sees nid's log within `within` entries of its own."""
    ld = c.leader()
    commit = int(ld.raft()["raft_commit_index"])
    for row in ld.client().execute_command("RAFT.MEMBERS"):
        if row[0] == nid:
            return row[4] >= commit - within
    return False


class Writer:
    """SETs w:<i> on whoever leads; remembers what was acknowledged."""

    def __init__(self, c):
        self.c, self.acked, self.errors = c, {}, []
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.run)

    def run(self):
        i = 0
        r = None
        while not self.stop.is_set():
            try:
                if r is None:
                    ld = [n for n in self.c.nodes if n.alive() and n.role() == "leader"]
                    if not ld:
                        time.sleep(0.02)
                        continue
                    r = ld[0].client(socket_timeout=5)
                r.set("w:%d" % i, i)
                self.acked["w:%d" % i] = i
                i += 1
            except redis.RedisError as e:
                self.errors.append(str(e))
                r = None
                time.sleep(0.02)

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *a):
        self.stop.set()
        self.t.join()


def assert_acked_everywhere(c, acked):
    space = assert_same_keyspace(c)
    want = (b"string", None)
    missing = [k for k, v in acked.items()
               if space.get(k.encode(), (want,))[0] != (b"string", str(v).encode())]
    assert not missing, ("acknowledged writes missing", missing[:5], len(missing))


def benchmark(nd):
    """redis-benchmark SETs through node nd until killed (the issue's load
    while the cluster grows)."""
    return subprocess.Popen(["redis-benchmark", "-h", "127.0.0.1", "-p", str(nd.port), "-t", "set",
                             "-c", "4", "-r", "100000", "-n", "1000000000", "-l", "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def test_grow_3_to_5_while_writes_run(make_cluster):
    c = make_cluster(3)
    bench = benchmark(c.leader())

    def stop_bench():
        assert bench.poll() is None, "redis-benchmark stopped on its own"
        bench.kill()
        bench.wait()
    try:
        grow_3_to_5(c, stop_bench)
    finally:
        bench.kill()
        bench.wait()
    # redis-benchmark's keys (key:<n>) are on all five too (grow_3_to_5
    # compared the key spaces)
    r = c.leader().client()
    assert next(r.scan_iter("key:*", count=1000), None) is not None


def grow_3_to_5(c, stop_load):
    with Writer(c) as w:
        wait_until(lambda: len(w.acked) > 50, 20, "writes to flow")
        for nid in (4, 5):
            ld = c.leader(among=c.nodes[:nid - 1])
            nd = start_joiner(c, nid, ld, bare=nid == 5)  # both forms of 'cluster'
            assert nd.raft()["raft_member"] == "none"
            assert ld.client().execute_command(
                "RAFT.ADDNODE", nid, "127.0.0.1:%d" % nd.port) == b"OK"
            assert members(ld)[nid] == "learner"
            wait_until(lambda: int(nd.raft()["raft_leader_id"]) == ld.id, 10,
                       "node %d to hear from the leader" % nid)
            wait_until(lambda: caught_up(c, nid) or nid == 5, 30, "node %d to catch up" % nid)
            wait_until(lambda: nd.raft()["raft_member"] in ("learner", "voter"), 10,
                       "node %d to learn" % nid)
            # a learner serves READONLY reads of what it applied
            r = nd.client()
            r.execute_command("READONLY")
            k = next(iter(w.acked))
            wait_until(lambda: r.get(k) is not None, 10, "the learner to read %s" % k)
            r.close()
            if nid == 4:
                # CLUSTER NODES: a learner is a replica that is no failover candidate
                nodes = ld.client().execute_command("CLUSTER", "NODES").decode()
                line = [x for x in nodes.splitlines() if ":%d@" % nd.port in x]
                assert len(line) == 1 and " slave,nofailover " in line[0], nodes
                assert c.leader().client().execute_command("RAFT.PROMOTE", nid) == b"OK"
                # the next one is promoted by the leader itself
                c.leader().client().config_set("learner-auto-promote", 1000)
            wait_until(lambda: nd.raft()["raft_member"] == "voter", 10, "node %d to vote" % nid)
        n0 = len(w.acked)
        wait_until(lambda: len(w.acked) > n0 + 50, 20, "writes to flow on 5 voters")
    stop_load()  # before comparing key spaces, which needs the writes to stop
    assert len(c.nodes) == 5
    for nd in c.nodes:
        info = nd.raft()
        assert info["raft_voters"] == "1,2,3,4,5", (nd.id, info["raft_voters"])
        assert info["raft_learners"] == ""
    assert_acked_everywhere(c, w.acked)
    assert "learner-auto-promote: node 5 is within 1000 entries" in c.leader().log() + "".join(
        n.log() for n in c.nodes)
    # a node added with 'join yes' restarts from the same file: its stored
    # configuration is the truth, it votes again
    n4 = c.node(4)
    n4.stop()
    n4.start()
    wait_until(lambda: n4.raft()["raft_member"] == "voter" and
               int(n4.raft()["raft_leader_id"]) == c.leader().id, 10, "node 4 back as a voter")
    assert n4.raft()["raft_voters"] == "1,2,3,4,5"


def term(nd):
    return int(nd.raft()["raft_term"])


def test_shrink_5_to_3_removing_the_leader(make_cluster):
    c = make_cluster(5)
    with Writer(c) as w:
        wait_until(lambda: len(w.acked) > 50, 20, "writes to flow")
        ld = c.leader()
        gone = c.followers()[0]
        assert ld.client().execute_command("RAFT.REMOVENODE", gone.id) == b"OK"
        assert gone.id not in members(ld)
        # it says so in INFO and in its log
        wait_until(lambda: gone.raft()["raft_member"] == "none", 10, "the removed node to know")
        assert "(id %d) was removed from the cluster" % gone.id in gone.log()
        # the removed node, still running, does not disturb the others
        t0 = term(ld)
        n0 = len(w.acked)
        wait_until(lambda: len(w.acked) > n0 + 100, 20, "writes to flow on 4 voters")
        time.sleep(1.0)  # two election timeouts of the removed node's clock
        assert term(ld) == t0 and ld.role() == "leader"
        gone.stop()
        # the leader removes itself: answered once applied, then it steps down
        assert ld.client().execute_command("RAFT.REMOVENODE", ld.id) == b"OK"
        rest = [n for n in c.nodes if n is not ld and n is not gone]
        new = c.leader(among=rest)
        assert new is not ld
        wait_until(lambda: ld.raft()["raft_member"] == "none", 10, "the old leader to know")
        assert ld.role() != "leader"
        assert "was removed from the cluster" in ld.log()
        n0 = len(w.acked)
        wait_until(lambda: len(w.acked) > n0 + 50, 20, "writes to flow on 3 voters")
    ld.stop()
    want = ",".join(str(n.id) for n in rest)
    for nd in rest:
        assert nd.raft()["raft_voters"] == want
    assert_acked_everywhere(c, w.acked)


def test_replace_a_node_whose_data_dir_was_deleted(make_cluster):
    # a short log: the new node gets a snapshot, which carries the membership
    c = make_cluster(3, args=["--raft-log-keep", "10"])
    with Writer(c) as w:
        wait_until(lambda: len(w.acked) > 300, 20, "writes to flow")
        ld = c.leader()
        dead = c.followers()[0]
        dead.kill()
        shutil.rmtree(dead.dir)
        # the leader's log compacted (its state made durable past the first
        # entries), so node 4 cannot catch up from the log: a snapshot
        wait_until(lambda: int(ld.raft()["raft_first_index"]) > 1, 20, "the log to be compacted")
        # it comes back under a new id, as a learner, then a voter
        nd = start_joiner(c, 4, ld)
        r = ld.client()
        assert r.execute_command("RAFT.ADDNODE", 4, "127.0.0.1:%d" % nd.port) == b"OK"
        wait_until(lambda: caught_up(c, 4), 30, "node 4 to catch up")
        assert int(nd.raft()["raft_snapshots_installed"]) >= 1
        assert r.execute_command("RAFT.PROMOTE", 4) == b"OK"
        assert r.execute_command("RAFT.REMOVENODE", dead.id) == b"OK"
        n0 = len(w.acked)
        wait_until(lambda: len(w.acked) > n0 + 50, 20, "writes to flow")
    want = ",".join(str(n.id) for n in c.nodes if n is not dead)
    for n in c.nodes:
        if n is not dead:
            assert n.raft()["raft_voters"] == want
    assert_acked_everywhere(c, w.acked)

    # A node restarted from its old configuration file ('cluster' naming
    # the members of the bootstrap) comes back: that list is out of date,
    # not wrong.
    f = [n for n in c.followers() if n.id != 4][0]
    f.stop()
    f.start()
    wait_until(lambda: f.raft()["raft_member"] == "voter", 10, "the restarted node to vote")
    assert "'cluster' is out of date" in f.log()
    # One that names a node the cluster never had, or a member at another
    # address, contradicts it: refused, saying what the members are;
    # cluster-override starts it with the stored configuration.
    f.stop()
    for spec in (c.spec + ",9=127.0.0.1:1",
                 c.spec + ",4=127.0.0.2:1"):
        c.spec, old = spec, c.spec
        p = subprocess.run(f.argv(), stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        c.spec = old
        assert p.returncode != 0
        out = (p.stdout + p.stderr).decode()
        assert "'cluster' contradicts the configuration" in out, out[-2000:]
        assert "4=127.0.0.1:%d" % nd.port in out, out[-2000:]
    assert "gives node 4 the address 127.0.0.2:1" in out, out[-2000:]
    c.spec += ",9=127.0.0.1:1"
    f.extra += ["--cluster-override", "yes"]
    f.start()
    wait_until(lambda: f.raft()["raft_member"] == "voter", 10, "the restarted node to vote")
    assert "cluster-override yes: starting with the stored one" in f.log()
    f.stop()
    f.extra = []
    # 'cluster' naming the current members: the cluster id (a hash of
    # 'cluster' when not set) is kept from the data directory
    c.spec = ",".join("%d=127.0.0.1:%d" % (n.id, n.port) for n in c.nodes if n is not dead)
    f.start()
    wait_until(lambda: f.raft()["raft_member"] == "voter", 10, "the restarted node to vote")
    assert "kept from the data directory" in f.log()
    c.nodes.remove(dead)
    assert_acked_everywhere(c, w.acked)


def test_replacenode_in_one_command(make_cluster):
    # RAFT.REPLACENODE old new host:port: add as a learner, promote once
    # caught up, remove old, then +OK - while writes run. (A short request
    # timeout: the job's bound is 6 x raft-request-timeout, tested below;
    # 6 s was too short for the catch-up under writes once, with the ASan
    # build on a machine running twice the tests it has cores for.)
    c = make_cluster(3, args=["--raft-request-timeout", "2000"])
    with Writer(c) as w:
        wait_until(lambda: len(w.acked) > 200, 20, "writes to flow")
        ld = c.leader()
        dead = c.followers()[0]
        dead.kill()
        shutil.rmtree(dead.dir)
        nd = start_joiner(c, 4, ld)
        r = ld.client(socket_timeout=60)
        addr = "127.0.0.1:%d" % nd.port
        assert r.execute_command("RAFT.REPLACENODE", dead.id, 4, addr) == b"OK"
        # the reply came after the removal applied on the leader
        assert members(ld) == {n.id: "voter" for n in c.nodes if n is not dead}
        n0 = len(w.acked)
        wait_until(lambda: len(w.acked) > n0 + 50, 20, "writes to flow")
    want = ",".join(str(n.id) for n in c.nodes if n is not dead)
    assert "4" in want.split(",") and str(dead.id) not in want.split(",")
    for n in c.nodes:
        if n is not dead:
            wait_until(lambda: n.raft()["raft_voters"] == want, 10, "node %d's voters" % n.id)
    assert_acked_everywhere(c, w.acked)
    assert "RAFT.REPLACENODE: node %d replaced by node 4" % dead.id in ld.log()
    # re-issued after completion (a lost reply): +OK, nothing proposed
    ci = ld.raft()["raft_conf_index"]
    assert r.execute_command("RAFT.REPLACENODE", dead.id, 4, addr) == b"OK"
    assert ld.raft()["raft_conf_index"] == ci

    def err(*args):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("RAFT.REPLACENODE", *args)
        return str(e.value)
    live = [n.id for n in c.nodes if n is not dead and n.id != 4]
    assert err(9, 5, "127.0.0.1:1") == "node 9 is not a member of the cluster"
    assert err(live[0], dead.id, "127.0.0.1:1") == (
        "node id %d was used before in this cluster: ids are never reused (pick one above 4)"
        % dead.id)
    assert err(4, 4, "127.0.0.1:1") == "a node cannot replace itself"
    assert err(4, 5, "nohost") == "invalid address 'nohost' (want host:port)"
    assert err(0, 5, "127.0.0.1:1") == "invalid node id '0'"
    assert err(4, 5) == "wrong number of arguments for 'raft.replacenode' command"
    assert ld.raft()["raft_conf_index"] == ci
    c.nodes.remove(dead)

    # Continuation: node 5 added as a learner but down never catches up:
    # the job answers -TIMEOUT after 6 x raft-request-timeout, meanwhile a
    # second replacement gets -TRYAGAIN; re-issued once node 5 runs, the
    # command continues from the learner (promote, remove) to +OK.
    x = [n for n in c.followers() if n.id != 4][0]
    n5 = start_joiner(c, 5, ld)
    n5.kill()
    a5 = "127.0.0.1:%d" % n5.port
    assert r.execute_command("RAFT.ADDNODE", 5, a5) == b"OK"
    out = []

    def replace():
        try:
            out.append(ld.client(socket_timeout=60).execute_command("RAFT.REPLACENODE", x.id, 5, a5))
        except redis.ResponseError as e:
            out.append(str(e))
    t = threading.Thread(target=replace)
    t0 = time.monotonic()
    t.start()
    wait_until(lambda: "replacing node %d by node 5" % x.id in ld.log(), 10, "the job to start")
    assert err(x.id, 5, a5) == "TRYAGAIN a node replacement is already in progress"
    t.join(30)
    assert out == ["TIMEOUT the replacement did not complete in time: re-issue RAFT.REPLACENODE "
                   "to continue"], out
    assert time.monotonic() - t0 >= 5.5
    assert members(ld)[5] == "learner" and members(ld)[x.id] == "voter"
    # a leader that loses leadership answers -TRYAGAIN (the job is dropped)
    out.clear()
    t = threading.Thread(target=replace)
    t.start()
    line = "replacing node %d by node 5" % x.id
    wait_until(lambda: ld.log().count(line) >= 2, 10, "the job to start again")
    assert r.execute_command("RAFT.TRANSFER", 4) == b"OK"
    t.join(30)
    assert out == ["TRYAGAIN leadership changed during the replacement: re-issue "
                   "RAFT.REPLACENODE to the leader to continue"], out
    wait_until(lambda: c.leader().id == 4, 10, "node 4 to lead")
    ld = [n for n in c.nodes if n.id == 4][0]
    r = ld.client(socket_timeout=60)
    # the new leader continues from the configuration in force
    n5.start()
    assert r.execute_command("RAFT.REPLACENODE", x.id, 5, a5) == b"OK"
    assert members(ld) == {n.id: "voter" for n in c.nodes if n is not x}
    x.stop()
    c.nodes.remove(x)
    want = ",".join(str(n.id) for n in c.nodes)
    for n in c.nodes:
        wait_until(lambda: n.raft()["raft_voters"] == want, 10, "node %d's voters" % n.id)
    assert_acked_everywhere(c, w.acked)


def test_change_errors(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    r = ld.client()

    def err(*args, node=None):
        with pytest.raises(redis.ResponseError) as e:
            (node or ld).client().execute_command(*args)
        return str(e.value)

    assert err("RAFT.ADDNODE", 2, "127.0.0.1:1") == "node 2 is already a member of the cluster"
    assert err("RAFT.ADDNODE", 7, "127.0.0.1:0") == "invalid address '127.0.0.1:0' (want host:port)"
    assert err("RAFT.ADDNODE", 7, "nohost") == "invalid address 'nohost' (want host:port)"
    assert err("RAFT.ADDNODE", 7, "127.0.0.1:7", "VOTER") == "syntax error"
    assert err("RAFT.ADDNODE", 0, "127.0.0.1:7") == "invalid node id '0'"
    assert err("RAFT.ADDNODE", 7) == "wrong number of arguments for 'raft.addnode' command"
    assert err("RAFT.PROMOTE", 9) == "node 9 is not a member of the cluster"
    assert err("RAFT.PROMOTE", 2) == "node 2 is already a voter"
    assert err("RAFT.REMOVENODE", 9) == "node 9 is not a member of the cluster"
    # a follower forwards the change to the leader like a write (proxy mode,
    # the default), or redirects it (redirect mode)
    f = c.followers()[0]
    assert err("RAFT.PROMOTE", 2, node=f) == "node 2 is already a voter"
    f.client().config_set("follower-mode", "redirect")
    assert err("RAFT.PROMOTE", 2, node=f) == "MOVED 0 127.0.0.1:%d" % ld.port
    f.client().config_set("follower-mode", "proxy")
    # restricted users may not change membership
    r.execute_command("ACL", "SETUSER", "app", "on", ">pw", "~*", "+@all", "-@admin")
    u = redis.Redis(port=ld.port, username="app", password="pw")
    for cmd in (("RAFT.ADDNODE", 7, "127.0.0.1:7"), ("RAFT.PROMOTE", 7), ("RAFT.REMOVENODE", 3)):
        with pytest.raises(redis.ResponseError) as e:
            u.execute_command(*cmd)
        assert str(e.value) == ("this user has no permissions to run the '%s' command"
                                % cmd[0].lower())
    u.close()
    # a removed id is never used again; the learner 4 added (through a
    # follower), removed, refused
    assert f.client().execute_command("RAFT.ADDNODE", 4, "127.0.0.1:1") == b"OK"
    assert members(ld)[4] == "learner"
    assert r.execute_command("RAFT.REMOVENODE", 4) == b"OK"
    assert 4 not in members(ld)
    assert err("RAFT.ADDNODE", 4, "127.0.0.1:1") == (
        "node id 4 was used before in this cluster: ids are never reused (pick one above 4)")
    assert err("RAFT.ADDNODE", 3 , "127.0.0.1:1") == "node 3 is already a member of the cluster"
