"""The run's own checks on hand-made histories: each must pass what is
legal and catch what is not, so a fault run can fail. Also the EDN a run
writes is read by lincheck as intended (RAFTKV_LINCHECK)."""
import os
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import checks  # noqa: E402
from history import FAIL, INFO, OK, History, Op  # noqa: E402

LINCHECK = os.environ.get("RAFTKV_LINCHECK")


def op(f, key, t0, t1, typ=OK, value=None, result=None, process=1):
    """An operation invoked at t0 and returned at t1 (None: info)."""
    o = Op(process, f, key, value, None)
    o.t_invoke, o.t_done = t0, (t1 if typ != INFO else None)
    o.type, o.result = typ, result
    return o


# --- durability of string keys -------------------------------------------

def test_last_set_is_durable():
    ops = [op("put", "r0", 0, 1, value="S1;"), op("put", "r0", 2, 3, value="S2;")]
    assert checks.durability(ops, {"r0": "S2;"}) == []


def test_acknowledged_set_lost_is_caught():
    ops = [op("put", "r0", 0, 1, value="S1;"), op("put", "r0", 2, 3, value="S2;")]
    problems = checks.durability(ops, {"r0": "S1;"})
    assert len(problems) == 1 and "S2" in problems[0] and "lost" in problems[0]


def test_concurrent_sets_either_may_win():
    ops = [op("put", "r0", 0, 5, value="S1;"), op("put", "r0", 1, 4, value="S2;")]
    assert checks.durability(ops, {"r0": "S1;"}) == []
    assert checks.durability(ops, {"r0": "S2;"}) == []


def test_appends_after_set_are_reflected():
    ops = [op("put", "r0", 0, 1, value="S1;"), op("append", "r0", 2, 3, value="A2;", result=6),
           op("append", "r0", 4, 5, value="A3;", result=9)]
    assert checks.durability(ops, {"r0": "S1;A2;A3;"}) == []
    problems = checks.durability(ops, {"r0": "S1;A2;"})
    assert len(problems) == 1 and "A3" in problems[0]


def test_info_write_may_or_may_not_show():
    ops = [op("put", "r0", 0, 1, value="S1;"), op("put", "r0", 2, None, typ=INFO, value="S2;")]
    assert checks.durability(ops, {"r0": "S1;"}) == []
    assert checks.durability(ops, {"r0": "S2;"}) == []


def test_failed_write_must_not_show():
    ops = [op("put", "r0", 0, 1, value="S1;"), op("put", "r0", 2, 3, typ=FAIL, value="S2;")]
    problems = checks.durability(ops, {"r0": "S2;"})
    assert problems and "no possibly-successful write" in problems[0]


def test_missing_key_needs_a_del_that_could_come_last():
    ops = [op("put", "r0", 0, 1, value="S1;")]
    assert checks.durability(ops, {"r0": None})
    ops.append(op("del", "r0", 2, 3, result=1))
    assert checks.durability(ops, {"r0": None}) == []


def test_set_after_del_is_lost_if_key_missing():
    ops = [op("del", "r0", 0, 1, result=0), op("put", "r0", 2, 3, value="S1;")]
    assert checks.durability(ops, {"r0": None})


def test_acknowledged_del_lost_is_caught():
    ops = [op("put", "r0", 0, 1, value="S1;"), op("del", "r0", 2, 3, result=1)]
    problems = checks.durability(ops, {"r0": "S1;"})
    assert problems and "del" in problems[0]


# --- durability of counters ------------------------------------------------

def test_counter_keeps_acknowledged_incr():
    ops = [op("incr", "c0", 0, 1, result=1), op("incr", "c0", 2, 3, result=2)]
    assert checks.durability(ops, {"c0": "2"}) == []
    assert checks.durability(ops, {"c0": "3"}) == []  # an info INCR elsewhere may add
    problems = checks.durability(ops, {"c0": "1"})
    assert problems and "below 2" in problems[0]


def test_counter_reset_by_a_concurrent_del_is_legal():
    ops = [op("incr", "c0", 0, 1, result=5), op("del", "c0", 0, 9, result=1)]
    assert checks.durability(ops, {"c0": None}) == []
    ops.append(op("incr", "c0", 10, 11, result=1))
    assert checks.durability(ops, {"c0": None})


# --- TTL: nothing comes back -----------------------------------------------

def ttl_history():
    return [op("set", "t0", 0, 1, value="V1"),
            op("get", "t0", 2, 3, result="V1"),
            op("get", "t0", 4, 5, result=None)]  # expired


def test_expired_key_staying_expired_passes():
    ops = ttl_history() + [op("get", "t0", 6, 7, result=None)]
    assert checks.no_going_back(ops) == []


def test_expired_key_coming_back_is_caught():
    ops = ttl_history() + [op("get", "t0", 6, 7, result="V1")]
    problems = checks.no_going_back(ops)
    assert len(problems) == 1 and "came back" in problems[0] and "expired" in problems[0]


def test_rewritten_key_may_reappear():
    ops = ttl_history() + [op("set", "t0", 6, 7, value="V2"), op("getex", "t0", 8, 9, result="V2")]
    assert checks.no_going_back(ops) == []


def test_write_concurrent_with_the_expired_read_may_appear():
    ops = ttl_history() + [op("set", "t0", 3.5, 8, value="V2"), op("get", "t0", 9, 10, result="V2")]
    assert checks.no_going_back(ops) == []


def test_overwritten_value_coming_back_is_caught():
    ops = [op("set", "t0", 0, 1, value="V1"), op("set", "t0", 2, 3, value="V2"),
           op("get", "t0", 4, 5, result="V2"), op("get", "t0", 6, 7, result="V1")]
    assert checks.no_going_back(ops)


def test_value_never_written_is_caught():
    ops = [op("get", "t0", 0, 1, result="V9")]
    assert checks.no_going_back(ops)


# --- key spaces ------------------------------------------------------------

def test_keyspaces_must_match():
    a = {"k": (b"v", -1), "t": (b"x", 123)}
    assert checks.same_keyspaces({1: a, 2: dict(a), 3: dict(a)}) == []
    b = dict(a, t=(b"x", 124))
    problems = checks.same_keyspaces({1: a, 2: b})
    assert len(problems) == 1 and "'t'" in problems[0]
    assert checks.same_keyspaces({1: a, 2: {"k": (b"v", -1)}})


# --- the fake clock's bookkeeping ------------------------------------------

def test_rate_change_keeps_the_clock_continuous(tmp_path):
    from cluster import FakeClock
    c = FakeClock(str(tmp_path / "clock"), "all")
    t = [1000.0]  # the real clock, stepped by the test (a loaded machine may stall between calls)
    c.now = lambda: t[0]
    c.started = t[0] - 10.0  # as if the node had run 10 s
    before = c.skew()
    c.set_rate(2.0)
    assert abs(c.skew() - before) < 1e-9  # no jump at the change
    assert open(tmp_path / "clock").read().startswith("-10.0")  # offset compensates 10 s x (1 - 2)
    t[0] += 1.0
    assert abs(c.skew() - (before + 1.0)) < 1e-9  # then 1 s later it is 1 s ahead
    c.set_rate(1.0)
    assert abs(c.skew() - (before + 1.0)) < 1e-9
    t[0] += 5.0
    assert abs(c.skew() - (before + 1.0)) < 1e-9  # at rate 1 it keeps its lead


def test_wall_clock_jumps_and_resets(tmp_path):
    from cluster import FakeClock
    c = FakeClock(str(tmp_path / "clock"), "wall")
    c.jump(-3.5)
    assert open(tmp_path / "clock").read().strip() == "-3.500 x1.0000"
    c.reset()
    assert open(tmp_path / "clock").read().strip() == "+0.000 x1.0000"
    with pytest.raises(AssertionError):
        FakeClock(str(tmp_path / "mono"), "all").jump(1.0)


# --- the EDN a run writes, read by lincheck ------------------------------

def recorded(events):
    """A History from (process, f, key, value, outcome, result) in order."""
    h = History()
    pending = {}
    for p, what, f, key, value, result in events:
        if what == "invoke":
            pending[p] = h.invoke(p, f, key, value)
        else:
            h.complete(pending.pop(p), what, result)
    return h


@pytest.mark.skipif(not LINCHECK, reason="RAFTKV_LINCHECK not set")
@pytest.mark.parametrize("final,verdict", [("S2;A3;", "linearizable"), ("S1;A3;", "not linearizable")])
def test_lincheck_reads_what_a_run_writes(final, verdict):
    h = recorded([(1, "invoke", "put", "r0", "S1;", None), (1, OK, "put", "r0", "S1;", None),
                  (2, "invoke", "put", "r0", "S2;", None), (2, OK, "put", "r0", "S2;", None),
                  (3, "invoke", "append", "r0", "A3;", None), (3, OK, "append", "r0", "A3;", 6),
                  (4, "invoke", "incr", "c0", None, None), (4, INFO, "incr", "c0", None, None),
                  (5, "invoke", "get", "c0", None, None), (5, OK, "get", "c0", None, "1"),
                  (6, "invoke", "del", "r1", None, None), (6, OK, "del", "r1", None, 0),
                  (7, "invoke", "get", "r0", None, None), (7, OK, "get", "r0", None, final)])
    h.nemesis("start", 'a "quoted" fault')
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "h.edn")
        h.write_edn(path)
        got, out = checks.lincheck(LINCHECK, path, 30)
    assert got == verdict, out


# --- snapshot faults (faults.SnapshotTransfer) ------------------------------

import cluster  # noqa: E402
import faults  # noqa: E402

INFO_RAFT = ("# Raft\r\nraft_role:leader\r\nraft_first_index:901\r\n"
             "raft_peer2:addr=127.0.0.12:7379,connected=0,state=snapshot,match=0\r\n"
             "raft_snapshots_installed:0\r\n"
             "raft_snapshot_out:peer=2,index=900,keys=3006,bytes_sent=262144,bytes_acked=0,seconds=0.4\r\n"
             "raft_snapshot_out:peer=3,index=900,keys=3006,bytes_sent=524288,bytes_acked=262144,"
             "seconds=1.2\r\n"
             "raft_snapshot_in:from=1,index=800,bytes=262000,seconds=0.3\r\n")


def test_info_raft_keeps_every_transfer():
    i = cluster.parse_raft_info(INFO_RAFT)
    assert i["raft_first_index"] == "901"
    assert [(o["peer"], o["bytes_sent"]) for o in i["out"]] == [(2, 262144), (3, 524288)]
    assert i["in"] == [{"from": 1, "index": 800, "bytes": 262000, "seconds": 0.3}]
    assert cluster.parse_raft_info("# Raft\r\nraft_role:follower\r\n")["out"] == []


def test_installed_indexes_from_a_node_log():
    log = ("1:M * Snapshot from node 1: receiving index 900 term 2\n"
           "1:M * Installed snapshot index 900 term 2 (3006 keys) in 0.020 s; the log restarts after it\n"
           "=== start 12.5\n"
           "1:M * Finishing the install of snapshot index 1200: resetting the log\n")
    assert faults.installed_indexes(log) == [900, 1200]
    assert faults.installed_indexes("1:M * Snapshot from node 1: receiving index 900 term 2\n") == []


class FakeNode:
    """Just enough of cluster.Node for SnapshotTransfer: a follower whose
    log never says it installed anything (or says so, with `installs`)."""

    def __init__(self, nid, role, installs=""):
        self.id, self.role, self.installs = nid, role, installs
        self.paused, self.running, self.out = False, True, ""

    def alive(self):
        return self.running

    def kill(self):
        self.running = False

    def start(self, wait=True):
        self.running = True
        self.out += self.installs

    def pause(self):
        self.paused = True

    def resume(self):
        self.paused = False

    def wait_up(self):
        pass

    def raft(self, timeout=2.0):
        peers = {"raft_peer%d" % i: {"connected": 0} for i in (1, 2, 3)}
        return dict(peers, raft_role=self.role, raft_last_index="100", raft_first_index="500")

    def log_size(self):
        return len(self.out)

    def log_since(self, off):
        return self.out[off:]


class FakeCluster:
    def __init__(self, installs):
        self.nodes = [FakeNode(1, "leader"), FakeNode(2, "follower", installs),
                      FakeNode(3, "follower", installs)]

    def node(self, nid):
        return self.nodes[nid - 1]

    def leader_now(self):
        return self.nodes[0]

    def check_alive(self, down=()):
        return True


@pytest.mark.parametrize("installs,ok", [
    ("", False),  # no snapshot installed: the fault must report it
    ("x Installed snapshot index 50 term 1 (3 keys)\n", False),  # not past the old log's end
    ("x Installed snapshot index 450 term 1 (3 keys)\n", True)])
def test_catch_up_must_install_a_snapshot(monkeypatch, installs, ok):
    import random
    monkeypatch.setattr(faults.SnapshotTransfer, "INSTALL_TIMEOUT", 0.3)
    f = faults.SnapshotTransfer(random.Random(1), 3, "catch-up")
    f.stop_how = "kill"
    cl = FakeCluster(installs)
    f.drive(cl, 0.0, lambda kind, text: None, lambda s, down: None)
    assert bool(f.problems) != ok, f.problems
    if not ok:
        assert "installed no snapshot past index 100" in f.problems[0]
    assert all(nd.running for nd in cl.nodes)  # healed either way


# --- the queue workload (checks.queue) ---------------------------------------

KEYS = "q0 q1"


def push(item, t0, t1, typ=OK, key="q0"):
    return op("lpush", key, t0, t1, typ=typ, value=item, result=1 if typ == OK else None)


def pop(got, t0, t1, typ=OK, key="q0"):
    """A BRPOP on q0 q1 that returned item got from key (None: the null reply)."""
    return op("brpop", KEYS, t0, t1, typ=typ, result=("%s %s" % (key, got)) if got else None)


def queue_ok(ops, remaining):
    problems, stats = checks.queue(ops, remaining)
    return problems


def test_queue_every_item_popped_once_or_left_passes():
    ops = [push("p1-1", 0, 1), push("p1-2", 2, 3), push("p2-1", 2, 4, key="q1"),
           pop("p1-1", 1, 5), pop("p2-1", 3, 6, key="q1"), pop(None, 7, 9)]
    problems, stats = checks.queue(ops, {"q0": ["p1-2"], "q1": []})
    assert problems == []
    assert stats["popped"] == 2 and stats["remaining"] == 1 and stats["null pops"] == 1


def test_queue_duplicate_pop_is_caught():
    ops = [push("p1-1", 0, 1), pop("p1-1", 2, 3), pop("p1-1", 2, 4)]
    problems = queue_ok(ops, {"q0": []})
    assert len(problems) == 1 and "delivered 2 times" in problems[0]


def test_queue_item_popped_and_still_queued_is_caught():
    ops = [push("p1-1", 0, 1), pop("p1-1", 2, 3)]
    problems = queue_ok(ops, {"q0": ["p1-1"]})
    assert len(problems) == 1 and "delivered 2 times" in problems[0] and "still in q0" in problems[0]


def test_queue_lost_item_is_caught():
    ops = [push("p1-1", 0, 1), push("p1-2", 2, 3), pop("p1-1", 4, 5), pop(None, 6, 8)]
    problems = queue_ok(ops, {"q0": []})
    assert len(problems) == 1 and "lost" in problems[0] and "p1-2" in problems[0]


def test_queue_item_may_go_to_a_brpop_with_unknown_outcome():
    ops = [push("p1-1", 0, 1), pop(None, 2, None, typ=INFO)]
    assert queue_ok(ops, {"q0": []}) == []
    # one unknown BRPOP explains one missing item, not two
    ops.append(push("p1-2", 3, 4))
    problems = queue_ok(ops, {"q0": []})
    assert len(problems) == 1 and "2 acknowledged item(s) of q0 lost" in problems[0]


def test_queue_unknown_brpop_explains_only_its_own_keys():
    ops = [push("p1-1", 0, 1, key="q1"), op("brpop", "q0", 2, None, typ=INFO)]
    problems = queue_ok(ops, {"q0": [], "q1": []})
    assert len(problems) == 1 and "of q1 lost" in problems[0]


def test_queue_unknown_push_may_vanish_or_show():
    ops = [push("p1-1", 0, None, typ=INFO), push("p1-2", 0, None, typ=INFO)]
    problems, stats = checks.queue(ops, {"q0": ["p1-2"]})
    assert problems == [] and stats["unknown pushes gone"] == 1


def test_queue_item_never_pushed_is_caught():
    ops = [push("p1-1", 0, 1), pop("p1-1", 2, 3), pop("p9-9", 2, 4)]
    problems = queue_ok(ops, {"q0": ["p8-8"]})
    assert len(problems) == 2 and all("never pushed" in p for p in problems)


def test_queue_failed_push_must_not_show():
    ops = [push("p1-1", 0, 1, typ=FAIL), pop("p1-1", 2, 3)]
    problems = queue_ok(ops, {"q0": []})
    assert len(problems) == 1 and "its LPUSH failed" in problems[0]


def test_queue_item_popped_from_another_key_is_caught():
    ops = [push("p1-1", 0, 1, key="q0"), pop("p1-1", 2, 3, key="q1")]
    problems = queue_ok(ops, {"q0": [], "q1": []})
    assert len(problems) == 1 and "pushed to q0" in problems[0]


def test_queue_pop_before_push_is_caught():
    ops = [pop("p1-1", 0, 1), push("p1-1", 2, 3)]
    problems = queue_ok(ops, {"q0": []})
    assert len(problems) == 1 and "before its LPUSH" in problems[0]


def test_queue_fifo_order_is_checked():
    # p1-1 pushed before p1-2; popping p1-2 first (certainly) is not FIFO
    ops = [push("p1-1", 0, 1), push("p1-2", 2, 3), pop("p1-2", 4, 5), pop("p1-1", 6, 7)]
    problems = queue_ok(ops, {"q0": []})
    assert len(problems) == 1 and "not FIFO" in problems[0]
    # concurrent pops: either order is legal
    ops = [push("p1-1", 0, 1), push("p1-2", 2, 3), pop("p1-2", 4, 7), pop("p1-1", 5, 6)]
    assert queue_ok(ops, {"q0": []}) == []
    # concurrent pushes: either order is legal
    ops = [push("p1-1", 0, 3), push("p1-2", 1, 2), pop("p1-2", 4, 5), pop("p1-1", 6, 7)]
    assert queue_ok(ops, {"q0": []}) == []


def test_queue_later_item_popped_while_earlier_remains_is_caught():
    ops = [push("p1-1", 0, 1), push("p1-2", 2, 3), pop("p1-2", 4, 5)]
    problems = queue_ok(ops, {"q0": ["p1-1"]})
    assert len(problems) == 1 and "not FIFO" in problems[0] and "still in q0" in problems[0]


# --- the evict scenario: whole notification streams, the kept node ---------
#
# workload.whole_streams decides which nodes' keyspace notifications cover
# the whole run, faults.KillEvictingLeader keeps one node alive throughout;
# with no whole stream evictions() is a problem (the run fails, it does not
# skip), and whole streams that disagree before the barrier are one too.

import schedule  # noqa: E402
import workload  # noqa: E402

BARRIER = ("__barrier__", "b1")
ONE_START = "=== start 1.000\nnode 1 ready\n"


def test_stream_gap_names_each_way_a_stream_misses_changes():
    assert workload.stream_gap(None, ONE_START) is None
    assert "broke" in workload.stream_gap("ConnectionError: closed", ONE_START)
    assert "started 2 times" in workload.stream_gap(None, ONE_START + "=== start 5.000\n")
    installed = ONE_START + "1:M * Installed snapshot index 812 term 3 (16 keys) in 0.010 s\n"
    assert "812" in workload.stream_gap(None, installed)
    assert "77" in workload.stream_gap(None, ONE_START + "x Finishing the install of snapshot index 77: resetting\n")


def _events(*evs):
    return [(i, k, ev) for i, (k, ev) in enumerate(evs)]


def test_whole_streams_cut_at_the_barrier():
    a = _events(("e1", "set"), ("e1", "evicted"), BARRIER, ("e2", "evicted"))
    b = _events(("e1", "set"), ("e1", "evicted"), BARRIER)  # e2's eviction not arrived yet
    c = _events(("e1", "set"))  # the barrier never came
    whole, gaps = workload.whole_streams({1: (a, None, ONE_START), 2: (b, None, ONE_START),
                                          3: (c, None, ONE_START)}, BARRIER)
    assert [[e[1:] for e in s] for s in whole] == [[("e1", "set"), ("e1", "evicted")]] * 2
    assert list(gaps) == [3] and "barrier" in gaps[3]


def test_no_whole_stream_fails_the_evict_check():
    s = _events(("e1", "set"), BARRIER)
    snap = ONE_START + "* Installed snapshot index 9 term 2\n"
    whole, gaps = workload.whole_streams({1: (s, "ConnectionError", ONE_START), 2: (s, None, ONE_START * 2),
                                          3: (s, None, snap)}, BARRIER)
    assert whole == [] and sorted(gaps) == [1, 2, 3]
    windows, problems = workload.evictions(whole, [], ["e1"])
    assert windows == [] and problems and "whole run" in problems[0]


def test_whole_streams_that_disagree_before_the_barrier_are_a_problem():
    # n2 evicted e1 on its own (no entry): its whole stream differs from n1's
    a = _events(("e1", "set"), BARRIER)
    b = _events(("e1", "set"), ("e1", "evicted"), BARRIER)
    whole, gaps = workload.whole_streams({1: (a, None, ONE_START), 2: (b, None, ONE_START)}, BARRIER)
    assert len(whole) == 2 and not gaps
    ops = [op("put", "e1", 0, 1, value="S1;")]
    windows, problems = workload.evictions(whole, ops, ["e1"])
    assert windows == [] and problems and "e1" in problems[0]


class _Redis:
    def __init__(self, nd):
        self.nd = nd

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    def execute_command(self, *args):
        assert args[0] == "RAFT.TRANSFER"
        self.nd.cl.transfers.append((self.nd.id, args[1]))
        if self.nd.cl.obey_transfer:
            self.nd.cl.leader = args[1]
        return b"OK"

    def info(self, section):
        nd = self.nd
        if section == "stats":
            if nd.cl.evicting:
                nd.proposed += 1
            return {"raftkv_eviction_entries": nd.proposed}
        return {"raft_role": "leader" if nd.cl.leader == nd.id else "follower"}


class _Node:
    def __init__(self, cl, nid):
        self.cl, self.id, self.proposed = cl, nid, 0

    def client(self, timeout=5.0):
        return _Redis(self)

    def kill(self):
        self.cl.killed.append(self.id)


class _Cluster:
    """What KillEvictingLeader asks of a cluster: the leader all agree on,
    each node's INFO and RAFT.TRANSFER, kill -9."""

    def __init__(self, n, leader, obey_transfer=True, evicting=True):
        self.nodes = {i: _Node(self, i) for i in range(1, n + 1)}
        self.leader, self.obey_transfer, self.evicting = leader, obey_transfer, evicting
        self.transfers, self.killed = [], []

    def node(self, nid):
        return self.nodes[nid]

    def leader_now(self):
        return self.nodes.get(self.leader)

    @staticmethod
    def election_timeout_s():
        return 0.01


def test_kill_evicting_leader_moves_leadership_off_the_kept_node_first():
    import random
    for seed in range(5):
        f = faults.make_fault("kill-leader", random.Random(seed), 3, keep=2)
        cl = _Cluster(3, leader=2)
        what = f.start(cl)
        assert cl.transfers == [(2, f.to)] and f.to != 2
        assert cl.killed == [f.to] and f.down == {f.to}, what
        assert "RAFT.TRANSFER" in what and "proposing evictions" in what


def test_kill_evicting_leader_kills_another_leader_at_once():
    import random
    f = faults.make_fault("kill-leader", random.Random(1), 3, keep=1)
    cl = _Cluster(3, leader=3)
    f.start(cl)
    assert cl.killed == [3] and cl.transfers == []


def test_kill_evicting_leader_never_kills_the_kept_node():
    # the kept node leads and will not hand over: the fault fails the run
    # rather than kill it or a follower
    import random
    f = faults.make_fault("kill-leader", random.Random(1), 3, keep=1)
    f.LEAD_WAIT_S = 0.2
    cl = _Cluster(3, leader=1, obey_transfer=False)
    with pytest.raises(RuntimeError, match="no leader could be killed"):
        f.start(cl)
    assert cl.killed == [] and cl.transfers


def test_kill_evicting_leader_notes_a_leader_that_was_not_evicting():
    import random
    f = faults.make_fault("kill-leader", random.Random(1), 3, keep=1)
    f.EVICT_WAIT_S = 0.1
    cl = _Cluster(3, leader=2, evicting=False)
    what = f.start(cl)
    assert cl.killed == [2] and f.notes and "no eviction proposed" in what


def test_a_plan_that_keeps_a_node_has_only_faults_that_spare_it():
    import random
    for seed in range(50):
        steps = schedule.plan(random.Random(seed), ["partition", "kill-leader"], 3, 12, 0.4, keep=3)
        kills = [st.fault for st in steps if st.fault.family == "kill"]
        assert all(isinstance(f, faults.KillEvictingLeader) and f.keep == 3 and f.to != 3 for f in kills)
    for fam in ("kill", "pause", "power-loss", "snapshot", "membership"):
        with pytest.raises(ValueError):
            faults.make_fault(fam, random.Random(1), 3, keep=1)
