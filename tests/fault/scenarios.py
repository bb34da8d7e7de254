"""One fault run: a cluster in the namespace, clients, a seeded schedule of
faults, heal, then every check of issue 6. run() returns a Result; the
`run` and `soak` commands print it."""
import os
import random
import shutil
import sys
import time

import checks
import faults
import schedule
import workload
from cluster import Cluster, wait_until
from history import FAIL, OK, History

TIMING = ["--election-timeout", "400", "--heartbeat-interval", "50", "--raft-request-timeout", "1500"]
CLIENT_TIMEOUT = 3.0  # s: above raft-request-timeout, so the server's -TIMEOUT comes first


class Scenario:
    def __init__(self, families, work="registers", clock=None, overlap=0.0,
                 read_mode="linearizable", follower_mode="proxy", max_jump=10.0,
                 server_args=(), preload=0, powerfs=False, keep_one=False):
        self.families, self.work, self.clock, self.overlap = families, work, clock, overlap
        self.keep_one = keep_one  # one node, drawn first, that no fault kills (make_fault's keep)
        self.powerfs = powerfs
        self.read_mode, self.follower_mode, self.max_jump = read_mode, follower_mode, max_jump
        self.server_args, self.preload = list(server_args), preload


SCENARIOS = {
    # network faults only: isolate the leader, majority/minority, bridge, one-way
    "partition": Scenario(["partition"]),
    # kill -9 and restart: one, the leader, a majority, all
    "kill": Scenario(["kill"], follower_mode="redirect"),
    # SIGSTOP/SIGCONT past the election timeout, with lease reads on the
    # leader: a paused leader must not serve a read when it wakes up
    "pause": Scenario(["pause", "partition"], read_mode="lease", overlap=0.2),
    # TTLs under wall-clock jumps and rate changes, with leadership moving
    # (kills, partitions) between nodes whose clocks disagree
    "clock-ttl": Scenario(["clock-jump", "clock-rate", "kill", "partition"], work="ttl",
                          clock="wall", overlap=0.4),
    # oscillator drift (wall and monotonic clocks, hence the ticks), with
    # linearizable reads, and partitions/kills during it
    "clock-rate": Scenario(["clock-rate", "partition", "kill"], clock="all", overlap=0.5),
    # a self-test of the bed, expected to FAIL: lease reads with a leader
    # whose clock runs at 0.2x (lease mode assumes drift below a fifth),
    # isolated; lincheck should find a stale read. Not a ctest.
    "lease-drift": Scenario(["slow-leader-isolated"], clock="all", read_mode="lease"),
    # everything at once
    "mixed": Scenario(["kill", "pause", "partition", "clock-rate"], clock="all", overlap=0.3),
    # forced log compaction and crashes in the middle of snapshot transfers
    # (faults.SnapshotTransfer): a short log tail, so a follower kept down
    # must catch up by a snapshot; transfers slowed to 256 KB/s and a
    # preload of 3000 keys (~700 KB), so one lasts ~3 s and a kill or a
    # partition lands in its middle
    "snapshot": Scenario(["snapshot"],
                         server_args=["--raft-log-keep", "300", "--raft-snapshot-max-rate", "256kb"],
                         preload=faults.PRELOAD_KEYS),
    # power losses (faults.PowerLoss): every data dir is a powerfs mount
    # (powerfs.c), which forgets what was not fsynced; one node, the leader,
    # a minority or all at once. A short log tail, so logs are compacted and
    # a state that lost its files could not be rebuilt from the log.
    "power": Scenario(["power-loss"], powerfs=True, server_args=["--raft-log-keep", "300"]),
    # power losses with partitions and kill -9 (the page cache survives
    # that one) overlapping
    "power-mixed": Scenario(["power-loss", "partition", "kill"], powerfs=True, overlap=0.3,
                            server_args=["--raft-log-keep", "300"]),
    # a work queue (workload.Queue, checks.queue): LPUSH producers and BRPOP
    # consumers on leader and followers (proxy mode, so a consumer blocks on
    # a follower), under kill -9, pauses and partitions
    "queue": Scenario(["kill", "pause", "partition"], work="queue", overlap=0.2),
    # runtime membership (faults.MembershipChange): a spare node joins,
    # is promoted and removed again, with a kill -9 at a drawn point of the
    # sequence, and plain kill -9 steps between (issue 18)
    "membership": Scenario(["membership", "kill"], follower_mode="proxy"),
    # the same with the membership steps disrupted by kill -9, SIGSTOP or
    # iptables (the node, or the leader, cut off from every other), and
    # kills, pauses and partitions as the steps between
    "membership-mixed": Scenario(["membership-any", "kill", "pause", "partition"], overlap=0.3),
    # Lua scripts (workload.Scripted): a compare-and-set by EVAL/EVALSHA,
    # SETs and GETs on registers, on leader and followers (proxy mode: a
    # follower forwards the script), under kill -9, pauses and partitions;
    # lincheck's :cas model checks the history
    "scripted": Scenario(["kill", "pause", "partition"], work="scripted", overlap=0.2),
    # a cache under eviction (workload.Evicting): maxmemory far below the
    # data, allkeys-lru, SET/GET on leader and followers, under partitions
    # and kill -9 of the leader (the one choosing victims); evictions enter
    # the history as the deletes they are (workload.evictions), and every
    # node's keyspace notifications must agree. One node, drawn first, is
    # never killed (faults.KillEvictingLeader moves leadership off it by
    # RAFT.TRANSFER, then kills the new leader), so its stream is whole
    "evict": Scenario(["partition", "kill-leader"], work="evict", keep_one=True),
}


# Every scenario that must pass (lease-drift is expected to fail).
SOAK_DEFAULT = ["partition", "kill", "pause", "clock-ttl", "clock-rate", "mixed", "snapshot", "power",
                "power-mixed", "queue", "scripted", "evict",
                "membership"]


class Result:
    def __init__(self, name, seed, nodes):
        self.name, self.seed, self.nodes = name, seed, nodes
        self.problems, self.notes = [], []
        self.faults, self.counts, self.reasons = {}, {}, {}
        self.verdict, self.liveness_s, self.seconds = None, None, 0.0
        self.history_path = None

    @property
    def ok(self):
        return not self.problems

    def summary(self):
        lines = ["scenario %s, %d nodes, seed %d: %s in %.1f s"
                 % (self.name, self.nodes, self.seed, "PASS" if self.ok else "FAIL", self.seconds),
                 "  operations: %s" % ", ".join("%s %d" % kv for kv in sorted(self.counts.items())),
                 "  fail/info: %s" % (", ".join("%s %d" % kv for kv in sorted(self.reasons.items())) or "none"),
                 "  faults: %s" % (", ".join("%s %d" % kv for kv in sorted(self.faults.items())) or "none"),
                 "  lincheck: %s" % (self.verdict or "not run"),
                 "  liveness after heal: %s" % ("%.2f s" % self.liveness_s if self.liveness_s is not None else "-")]
        lines += ["  note: " + n for n in self.notes]
        lines += ["  PROBLEM: " + p for p in self.problems]
        return "\n".join(lines)


def replay_command(name, a):
    cmd = ("tests/fault/run --scenario %s --nodes %d --seed %d --duration %g --clients %d"
           % (name, a.nodes, a.seed, a.duration, a.clients))
    if a.read_mode:
        cmd += " --read-mode " + a.read_mode
    if a.follower_mode:
        cmd += " --follower-mode " + a.follower_mode
    if getattr(a, "workload", None):
        cmd += " --workload " + a.workload
    if getattr(a, "tls_peers", False):
        cmd += " --tls-peers"
    return cmd


def run(name, a, log=print):
    """a: nodes, seed, duration, clients, lincheck, artifacts (dir or None),
    read_mode/follower_mode overrides (or None)."""
    sc = SCENARIOS[name]
    res = Result(name, a.seed, a.nodes)
    t_start = time.monotonic()
    rng = random.Random(a.seed)
    keep = rng.choice(range(1, a.nodes + 1)) if sc.keep_one else None
    args = TIMING + ["--follower-mode", a.follower_mode or sc.follower_mode,
                     "--read-mode", a.read_mode or sc.read_mode] + sc.server_args
    cl = Cluster(a.nodes, args, clock_mode=sc.clock, powerfs=sc.powerfs,
                 tls=getattr(a, "tls_peers", False))
    steps = schedule.plan(rng, sc.families, a.nodes, a.duration, cl.election_timeout_s(), sc.overlap,
                          sc.max_jump, keep)
    log("seed %d; replay: %s" % (a.seed, replay_command(name, a)))
    if keep:
        log("  keep n%d: no fault kills it" % keep)
    for i, st in enumerate(steps):
        log("  plan %d: %r" % (i, st))
    hist = History()
    try:
        _run(cl, sc, steps, hist, a, res, log, keep)
    except Exception as e:  # a broken harness or a dead cluster: a failure, with context
        res.problems.append("run aborted: %s: %s" % (type(e).__name__, e))
    finally:
        cl.check_alive()
        res.problems += ["node %d exited by itself (rc=%s)" % c for c in cl.crashes]
        res.problems += cl.stop_all()
        res.problems += cl.unmount_all()
        res.problems += cl.sanitizer_reports()
        res.counts, res.reasons = hist.counts(), hist.reasons()
        res.seconds = time.monotonic() - t_start
        _keep_artifacts(cl, hist, res, a, name, log)
        cl.cleanup()
    return res


def _run(cl, sc, steps, hist, a, res, log, keep=None):
    cl.start()
    cl.wait_leader(30)
    if sc.preload:
        _preload(cl, sc.preload)
    work = _work(sc, a)
    wl = {"registers": workload.Registers, "ttl": workload.Expiring, "set": workload.Sets,
          "queue": workload.Queue, "watch": workload.WatchCounters,
          "scripted": workload.Scripted, "evict": workload.Evicting}[work]()
    subs = _subscribe(cl, wl) if work == "evict" else []

    def nemesis_log(kind, text):
        hist.nemesis(kind, text)
        log("  %s %s" % (kind, text))

    try:
        clients, stop, errors = workload.start_clients(a.clients, cl, hist, wl, a.seed, CLIENT_TIMEOUT)
    except BaseException:
        _unsubscribe(subs)
        raise
    try:
        try:
            res.faults = schedule.run(cl, steps, nemesis_log)
        finally:
            for st in steps:  # what phased faults found as they went
                res.problems += st.fault.problems
                res.notes += st.fault.notes
                for f in (st.fault.a, st.fault.b) if isinstance(st.fault, faults.Both) else ():
                    res.problems += f.problems
                    res.notes += f.notes
        _heal_everything(cl)
        nemesis_log("heal", "everything")
        res.liveness_s = cl.wait_writable(max(10.0, 25 * cl.election_timeout_s()))
        _watch_healthy(cl, 2.0)  # a healthy tail: operations after the heal
    finally:
        try:
            workload.stop_clients(clients, stop, CLIENT_TIMEOUT + 10)
        finally:
            if work != "evict":
                _unsubscribe(subs)
    res.problems += [e for e in errors if e.startswith("HARNESS")]
    res.notes += [e for e in errors if not e.startswith("HARNESS")][:10]
    if errors:
        res.notes.append("%d unexpected error replies in all (recorded as info)" % len(errors))
    _check_no_crash(cl, res)
    finals = _final_reads(cl, hist, wl)
    if work in ("registers", "watch"):
        _check_registers(cl, hist, finals, a, res)
    elif work == "set":
        _check_lincheck(cl, hist, a, res)
    elif work == "scripted":
        res.problems += checks.noscript_after_load(hist.ops)
        res.notes.append("scripted: %d swaps succeeded, %d did not" % (
            sum(1 for o in hist.ops if o.f == "cas" and o.type == OK and o.result == 1),
            sum(1 for o in hist.ops if o.f == "cas" and o.type == OK and o.result == 0)))
        _check_lincheck(cl, hist, a, res)
    elif work == "queue":
        _check_queue(hist, wl, finals, res)
    elif work == "evict":
        try:
            _check_evict(cl, hist, wl, subs, a, res, keep)
        finally:
            _unsubscribe(subs)
    else:
        res.problems += checks.no_going_back(hist.ops)
        reads = [o for o in hist.ops if o.type == OK and o.f in ("get", "getex")]
        res.notes.append("ttl: %d reads saw a key expired or missing, %d saw a value"
                         % (sum(1 for o in reads if o.result is None), sum(1 for o in reads if o.result)))
    dumps = cl.dump_all(30)
    res.problems += checks.same_keyspaces(dumps)
    # (not evict: an eviction may follow the final reads; lincheck saw both)
    if work in ("registers", "watch", "scripted"):
        leader_view = next(iter(dumps.values()))
        for k, v in finals.items():
            got = leader_view.get(k, (None, None))[0]
            if (got.decode() if got is not None else None) != v:
                res.problems.append("key %s: the final read said %r, the nodes' state %r" % (k, v, got))


def _work(sc, a):
    """The workload: --workload, else the scenario's."""
    return getattr(a, "workload", None) or sc.work


def _preload(cl, n):
    """n keys p:00000.. of 200 bytes through the leader before the clients
    start, so a snapshot is more than the workload's few keys."""
    def load():
        ld = cl.leader_now()
        if not ld:
            return False
        with ld.client(10.0) as r:
            for i in range(0, n, 1000):
                p = r.pipeline(transaction=False)
                for j in range(i, min(n, i + 1000)):
                    p.set("p:%05d" % j, ("%05d" % j) * 40)
                p.execute()
        return True
    wait_until(load, 30, "a preload of %d keys" % n)


def _subscribe(cl, wl):
    """The eviction workload's settings, applied on every node, then one
    KeyEvents subscriber per node, before any client writes."""
    def setup():
        ld = cl.leader_now()
        if not ld:
            return False
        with ld.client(5.0) as r:
            for cmd in wl.SETUP:
                r.execute_command(*cmd)
        return True
    wait_until(setup, 30, "the eviction settings")

    def applied_everywhere():
        for nd in cl.nodes:
            with nd.client(2.0) as r:
                if r.config_get("maxmemory").get("maxmemory") != str(wl.MAXMEMORY):
                    return False
                flags = r.config_get("notify-keyspace-events").get("notify-keyspace-events") or ""
                if sorted(flags) != sorted("K$e"):
                    return False
        return True
    wait_until(applied_everywhere, 30, "the eviction settings on every node")
    subs = []
    try:
        for nd in cl.nodes:
            subs.append(workload.KeyEvents(nd.host, nd.port))
            subs[-1].nid = nd.id
    except BaseException:
        _unsubscribe(subs)
        raise
    for sub in subs:
        sub.start()
    return subs


def _unsubscribe(subs):
    for sub in subs:
        sub.stop.set()
    for sub in subs:
        if sub.is_alive():
            sub.join(5)


def _check_evict(cl, hist, wl, subs, a, res, keep=None):
    """Evictions into the history (workload.evictions), then lincheck. Once
    every node applied the same index, a barrier (_barrier) marks the same
    log position in every stream; the streams cut there, those without a
    gap (workload.stream_gap) must be identical. No whole stream fails the
    run (the evictions cannot be modelled), and so does a gap in the kept
    node's stream (the scenario promised it whole)."""
    cl.wait_applied_converged(30)
    token = _barrier(cl, subs)
    _unsubscribe(subs)
    whole, gaps = workload.whole_streams(
        {s.nid: (list(s.events), s.broken, cl.node(s.nid).log_text()) for s in subs}, (BARRIER_KEY, token))
    res.notes.append("evict: %d of %d nodes' notification streams whole" % (len(whole), len(subs)))
    if len(whole) < len(subs):
        res.notes.append("evict: not whole: %s" % "; ".join(
            "n%d %s" % kv for kv in sorted(gaps.items())))
    if keep is not None and gaps.get(keep):
        res.problems.append("evict: the kept node n%d's stream has a gap: %s" % (keep, gaps[keep]))
    if not whole:
        res.problems += workload.evictions([], hist.ops, wl.keys)[1]
        return
    windows, problems = workload.evictions(whole, hist.ops, wl.keys)
    res.problems += problems
    if not windows and not problems:
        res.problems.append("evict: nothing was evicted, the check checked nothing")
    workload.add_evictions(hist, windows)
    gets = [o for o in hist.ops if o.f == "get" and o.type == OK]
    res.notes.append("evict: %d evictions (windows %.0f ms on average), %d of %d reads missed"
                     % (len(windows), sum(hi - lo for _, lo, hi in windows) / max(1, len(windows)) / 1e6,
                        sum(1 for o in gets if o.result is None), len(gets)))
    _check_lincheck(cl, hist, a, res)


BARRIER_KEY = "__barrier__"  # not a workload key: evictions() leaves it out


def _barrier(cl, subs, timeout=10.0):
    """A PUBLISH on __keyspace@0__:__barrier__ (what the subscribers'
    pattern matches) through the leader: a log entry after everything
    applied so far, which every node publishes at its apply, in log order,
    on the subscriber's one connection. So when a stream holds it, that
    stream holds every event before it; cut there, all streams cover the
    same log prefix (an eviction proposed after it is in some and not
    others). Waits (timeout) until every unbroken stream got it; a stream
    that did not is not whole (_check_evict). Returns the token."""
    token = "b%d" % time.monotonic_ns()

    def publish():
        ld = cl.leader_now()
        if not ld:
            return False
        with ld.client(CLIENT_TIMEOUT) as r:
            r.publish("__keyspace@0__:" + BARRIER_KEY, token)
        return True
    wait_until(publish, 20, "a barrier published")

    def arrived():
        return all(s.broken or any(e[1] == BARRIER_KEY and e[2] == token for e in list(s.events))
                   for s in subs)
    try:
        wait_until(arrived, timeout, "the barrier on every stream")
    except TimeoutError:
        pass  # _check_evict names the streams without it
    return token


def _heal_everything(cl):
    faults.heal_network()
    cl.heal_processes()
    for nd in cl.nodes:
        if nd.clock:
            nd.clock.reset()


def _watch_healthy(cl, seconds):
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        cl.check_alive()
        time.sleep(0.1)


def _check_no_crash(cl, res):
    cl.check_alive()
    if cl.crashes:
        raise RuntimeError("nodes exited on their own: %s" % cl.crashes)


def _final_reads(cl, hist, wl):
    """A linearizable read (GET, or the workload's final_op) of every key
    through the leader, recorded as one more process after all others
    finished (so lincheck checks durability too: a lost acknowledged write
    makes these reads impossible)."""
    finals = {}
    p = hist.new_process()
    for k in wl.keys:
        def read():
            ld = cl.leader_now()
            if not ld:
                return False
            f, args = wl.final_op(k) if hasattr(wl, "final_op") else ("get", ("GET", k))
            op = hist.invoke(p, f, k)
            try:
                with ld.client(CLIENT_TIMEOUT) as r:
                    v = r.execute_command(*args)
            except Exception:
                hist.complete(op, FAIL)
                raise
            hist.complete(op, OK, wl.result(f, v) if f != "get" else (v.decode() if v is not None else None))
            finals[k] = op.result
            return True
        wait_until(read, 20, "a final read of %s" % k)
    return finals


def _check_registers(cl, hist, finals, a, res):
    res.problems += checks.durability(hist.ops, finals)
    _check_lincheck(cl, hist, a, res)


def _check_queue(hist, wl, finals, res):
    problems, stats = checks.queue(hist.ops, wl.remaining(finals))
    res.problems += problems
    res.verdict = "not used (queue: checks.queue)"
    res.notes.append("queue: " + ", ".join("%s %d" % kv for kv in stats.items()))
    if not stats["popped"]:
        res.problems.append("queue: no BRPOP popped an item, nothing was checked")
    if stats["acknowledged missing"]:
        res.notes.append("queue: %d acknowledged item(s) neither popped nor left, each explained by a BRPOP "
                         "with an unknown outcome" % stats["acknowledged missing"])


def _check_lincheck(cl, hist, a, res):
    path = os.path.join(cl.root, "history.edn")
    hist.write_edn(path)
    res.history_path = path
    verdict, out = checks.lincheck(a.lincheck, path, a.lincheck_timeout)
    res.verdict = verdict
    if verdict != "linearizable":
        res.problems.append("lincheck: %s\n%s" % (verdict, out[-6000:]))


def _keep_artifacts(cl, hist, res, a, name, log):
    """On failure: the history, the node logs and the replay command."""
    if res.ok or not a.artifacts:
        return
    dest = os.path.join(a.artifacts, "%s-n%d-seed%d" % (name, a.nodes, a.seed))
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    hist.write_edn(os.path.join(dest, "history.edn"))
    cl.save_logs(dest)
    with open(os.path.join(dest, "summary.txt"), "w") as f:
        f.write(replay_command(name, a) + "\n" + res.summary() + "\n")
    log("artifacts (history, node logs, replay command) kept in %s" % dest)
    sys.stdout.flush()
