"""The eviction workload (workload.Evicting, workload.evictions) end to end
without raftkv: its clients SET and GET against a real redis-server (the
reference, 7.0.15) whose maxmemory is lowered under them (allkeys-lru), a
KeyEvents subscriber records the server's "set" and "evicted" keyspace
notifications, and the evictions enter the history as deletes with the
windows the scenario uses. The true history must be linearizable; the same
history without its evictions, or with a deletion nobody announced (what
a node-local eviction would be), or with an evicted value read back (what
Redis's failover can do), must not be. Needs RAFTKV_LINCHECK and
redis-server."""
import os
import sys

import pytest
import redis

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "pylib"))

import checks  # noqa: E402
import workload  # noqa: E402
from history import OK, History  # noqa: E402
from test_set_workload import LINCHECK, REDIS_SERVER, OneNode, server  # noqa: E402,F401
from testproc import wait_until  # noqa: E402

pytestmark = [
    pytest.mark.skipif(not LINCHECK, reason="RAFTKV_LINCHECK not set"),
    pytest.mark.skipif(not os.access(REDIS_SERVER, os.X_OK), reason="no redis-server"),
]

SIZE = 4000  # bytes a value: 16 keys hold 64 KB, far above Redis's noise


def run_workload(port, nclients=5, nops=1000, seed=21):
    """Clients until nops operations completed, maxmemory lowered to about
    half the data once they run; then a final GET of every key as one more
    process. Returns (history, eviction windows)."""
    r = redis.Redis(port=port, socket_timeout=5)
    r.flushall()
    r.config_resetstat()  # evicted_keys counts this run's only
    r.config_set("maxmemory", 0)
    r.config_set("notify-keyspace-events", "K$e")
    r.config_set("maxmemory-policy", "allkeys-lru")
    cl, hist, wl = OneNode(port), History(), workload.Evicting(size=SIZE)
    sub = workload.KeyEvents("127.0.0.1", port)
    sub.start()
    try:
        clients, stop, errors = workload.start_clients(nclients, cl, hist, wl, seed, 2.0)
        try:
            wait_until(lambda: sum(1 for o in hist.ops if o.type == OK) >= 100, 60, "100 operations",
                       interval=0.05)
            # the connections' buffers are in used_memory too: measured with
            # the clients running, half the data above it
            r.config_set("maxmemory", r.info("memory")["used_memory"] - len(wl.keys) * SIZE // 2)
            wait_until(lambda: sum(1 for o in hist.ops if o.type == OK) >= nops, 60,
                       "%d completed operations" % nops, interval=0.05)
        finally:
            workload.stop_clients(clients, stop, 10)
        assert not errors, errors
        p = hist.new_process()
        for k in wl.keys:
            f, args = wl.final_op(k)
            op = hist.invoke(p, f, k)
            hist.complete(op, OK, wl.result(f, r.execute_command(*args)))
        r.config_set("maxmemory", 0)
        n = r.info("stats")["evicted_keys"]
        wait_until(lambda: sum(1 for _, _, ev in list(sub.events) if ev == "evicted") >= n, 10,
                   "every evicted notification")
    finally:
        sub.stop.set()
        sub.join(5)
        r.close()
    assert not sub.broken, sub.broken
    windows, problems = workload.evictions([list(sub.events)], hist.ops, wl.keys)
    assert not problems, problems
    return hist, windows


def lincheck(hist, tmp_path, name):
    path = str(tmp_path / name)
    hist.write_edn(path)
    return checks.lincheck(LINCHECK, path, 60)


def test_evictions_as_deletes_make_the_history_linearizable(server, tmp_path):
    hist, windows = run_workload(server)
    assert len(windows) >= 20, windows  # the run evicted, again and again
    gets = [o for o in hist.ops if o.type == OK and o.f == "get"]
    assert any(o.result is None for o in gets) and any(o.result for o in gets)
    assert all(lo < hi for _, lo, hi in windows)
    workload.add_evictions(hist, windows)
    verdict, out = lincheck(hist, tmp_path, "history.edn")
    assert verdict == "linearizable", out


def test_a_history_without_its_evictions_is_not_linearizable(server, tmp_path):
    # The evictions are what explain the misses: left out, some read of a
    # missing key follows a completed SET of it.
    hist, windows = run_workload(server, seed=22)
    assert windows
    verdict, out = lincheck(hist, tmp_path, "no-evictions.edn")
    assert verdict == "not linearizable", out


def test_an_unannounced_deletion_is_caught(server, tmp_path):
    # A key gone from one node without an eviction entry (so without the
    # event every node would publish): a read of it after the run finds
    # nothing that explains its absence.
    hist, windows = run_workload(server, seed=23)
    workload.add_evictions(hist, windows)
    final = next(o for o in reversed(hist.ops) if o.f == "get" and o.type == OK and o.result)
    p = hist.new_process()
    op = hist.invoke(p, "get", final.key)
    hist.complete(op, OK, None)
    verdict, out = lincheck(hist, tmp_path, "unannounced.edn")
    assert verdict == "not linearizable", out


def test_an_evicted_value_read_back_is_caught(server, tmp_path):
    # Redis's failover can resurrect an evicted key (the replica never got
    # the DEL): after the final read found a key evicted, a read returns a
    # value a completed SET had written to it.
    hist, windows = run_workload(server, seed=24)
    last = hist.ops[-1].process  # the final reads'
    workload.add_evictions(hist, windows)
    gone = [o for o in hist.ops if o.f == "get" and o.process == last and o.result is None]
    assert gone, "no key was evicted at the end of the run"
    k = gone[0].key
    put = next(o for o in reversed(hist.ops) if o.f == "put" and o.key == k and o.type == OK)
    p = hist.new_process()
    op = hist.invoke(p, "get", k)
    hist.complete(op, OK, put.value)
    verdict, out = lincheck(hist, tmp_path, "resurrected.edn")
    assert verdict == "not linearizable", out


def test_a_node_local_eviction_shows_in_the_streams():
    # One node evicted e1 and the other did not (an eviction decided
    # locally, not by a log entry): the whole streams disagree, which the
    # scenario reports; and a stream with no node whole is no check at all.
    class Op:
        def __init__(self, key, t):
            self.f, self.key, self.t_invoke, self.type = "put", key, t, OK
    ops = [Op("e1", 10), Op("e1", 20)]
    a = [(11, "e1", "set"), (21, "e1", "set"), (30, "e1", "evicted")]
    b = [(12, "e1", "set"), (22, "e1", "set")]
    windows, problems = workload.evictions([a, list(a)], ops, ["e1"])
    assert windows == [("e1", 20, 30)] and not problems
    windows, problems = workload.evictions([a, b], ops, ["e1"])
    assert windows == [] and problems and "e1" in problems[0]
    assert workload.evictions([], ops, ["e1"])[1]
