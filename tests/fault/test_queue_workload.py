"""The queue workload (workload.Queue) end to end without raftkv: its
producers (LPUSH) and consumers (BRPOP with a timeout) run against a real
redis-server (the reference, 7.0.15), the queues are drained with LRANGE as
a run's final reads, and checks.queue passes the true history; the same
history with a pop duplicated, an item lost or an item never pushed must
fail. Needs redis-server."""
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
from test_set_workload import REDIS_SERVER, OneNode, server  # noqa: E402,F401  (the fixture)
from testproc import wait_until  # noqa: E402

pytestmark = pytest.mark.skipif(not os.access(REDIS_SERVER, os.X_OK), reason="no redis-server")


def run_queue(port, nclients=6, nops=600, seed=21):
    """The clients until nops operations completed, then LRANGE of every
    key as one more process (scenarios._final_reads). (hist, wl, finals)"""
    r = redis.Redis(port=port, socket_timeout=5)
    r.flushall()
    cl, hist, wl = OneNode(port), History(), workload.Queue()
    clients, stop, errors = workload.start_clients(nclients, cl, hist, wl, seed, 3.0)
    try:
        wait_until(lambda: sum(1 for o in hist.ops if o.type == OK) >= nops, 60,
                   "%d completed operations" % nops, interval=0.05)
    finally:
        workload.stop_clients(clients, stop, 10)
    assert not errors, errors
    p = hist.new_process()
    finals = {}
    for k in wl.keys:
        f, args = wl.final_op(k)
        op = hist.invoke(p, f, k)
        hist.complete(op, OK, wl.result(f, r.execute_command(*args)))
        finals[k] = op.result
    r.close()
    return hist, wl, finals


@pytest.fixture(scope="module")
def true_run(server):
    return run_queue(server)


def test_queue_workload_against_redis_passes(true_run):
    hist, wl, finals = true_run
    problems, stats = checks.queue(hist.ops, wl.remaining(finals))
    assert problems == []
    # the run exercised what the check is about: pops of items, null
    # replies of BRPOPs that timed out on empty queues, every key used
    assert stats["popped"] > 100 and stats["null pops"] > 0, stats
    assert {o.result.split()[0] for o in hist.ops if o.f == "brpop" and o.type == OK and o.result} == set(wl.keys)
    assert stats["acknowledged missing"] == 0 and stats["pop unknown"] == 0
    # the history is what a run writes
    hist.write_edn(os.devnull)


def test_duplicate_pop_in_a_queue_history_is_caught(true_run):
    hist, wl, finals = true_run
    first = next(o for o in hist.ops if o.f == "brpop" and o.type == OK and o.result)
    later = [o for o in hist.ops if o.f == "brpop" and o.type == OK and o.result is None][-1]
    saved = later.result
    later.result = first.result  # a second consumer got the same item
    try:
        problems, _ = checks.queue(hist.ops, wl.remaining(finals))
    finally:
        later.result = saved
    assert any("delivered 2 times" in p for p in problems), problems


def test_lost_item_in_a_queue_history_is_caught(true_run):
    hist, wl, finals = true_run
    popped = [o for o in hist.ops if o.f == "brpop" and o.type == OK and o.result]
    victim = popped[len(popped) // 2]
    saved = victim.result
    victim.result = None  # the item was popped, the consumer told nothing
    try:
        problems, _ = checks.queue(hist.ops, wl.remaining(finals))
    finally:
        victim.result = saved
    assert len(problems) == 1 and "lost" in problems[0] and saved.split()[1] in problems[0], problems


def test_item_never_pushed_in_a_queue_history_is_caught(true_run):
    hist, wl, finals = true_run
    remaining = wl.remaining(finals)
    remaining["q0"] = remaining["q0"] + ["p99-1"]
    problems, _ = checks.queue(hist.ops, remaining)
    assert len(problems) == 1 and "never pushed" in problems[0], problems
