"""The scripted workload (workload.Scripted) end to end without raftkv: its
clients (a Lua compare-and-set by EVAL and EVALSHA, SET, GET) run against a
real redis-server (the reference, 7.0.15), the history is written as a run
writes it and checked by lincheck's :cas model; the same history with a
swap's reply flipped, or a read of a value a failed swap would have
written, must not pass. Needs RAFTKV_LINCHECK and redis-server."""
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
from test_set_workload import LINCHECK, REDIS_SERVER, OneNode, lincheck, server  # noqa: E402,F401
from testproc import wait_until  # noqa: E402

pytestmark = [
    pytest.mark.skipif(not LINCHECK, reason="RAFTKV_LINCHECK not set"),
    pytest.mark.skipif(not os.access(REDIS_SERVER, os.X_OK), reason="no redis-server"),
]


@pytest.fixture(scope="module")
def true_run(server):
    r = redis.Redis(port=server, socket_timeout=5)
    r.flushall()
    r.script_flush()
    cl, hist, wl = OneNode(server), History(), workload.Scripted()
    clients, stop, errors = workload.start_clients(5, cl, hist, wl, 13, 2.0)
    try:
        wait_until(lambda: sum(1 for o in hist.ops if o.type == OK) >= 800, 60, "800 completed operations",
                   interval=0.05)
    finally:
        workload.stop_clients(clients, stop, 10)
    assert not errors, errors
    p = hist.new_process()
    for k in wl.keys:
        f, args = wl.final_op(k)
        op = hist.invoke(p, f, k)
        hist.complete(op, OK, wl.result(f, r.execute_command(*args)))
    r.close()
    return hist


def test_scripted_workload_against_redis_is_linearizable(true_run, tmp_path):
    hist = true_run
    swaps = [o for o in hist.ops if o.f == "cas" and o.type == OK]
    # both outcomes of a swap, by both EVAL and EVALSHA
    assert {o.result for o in swaps} == {0, 1}
    assert {o.extra["via"] for o in swaps} == {"eval", "evalsha"}
    assert checks.noscript_after_load(hist.ops) == []
    verdict, out = lincheck(hist, tmp_path, "history.edn")
    assert verdict == "linearizable", out


def test_flipped_swap_reply_is_caught(true_run, tmp_path):
    hist = true_run
    # a swap that succeeded and whose value a later read saw: reported as
    # not done, the read is impossible
    seen = {o.result for o in hist.ops if o.f == "get" and o.type == OK}
    victim = next(o for o in hist.ops if o.f == "cas" and o.type == OK and o.result == 1 and o.value in seen)
    victim.result = 0
    try:
        verdict, out = lincheck(hist, tmp_path, "flipped.edn")
    finally:
        victim.result = 1
    assert verdict == "not linearizable", out


def test_read_of_a_failed_swaps_value_is_caught(true_run, tmp_path):
    hist = true_run
    failed = next(o for o in hist.ops if o.f == "cas" and o.type == OK and o.result == 0)
    last = [o for o in hist.ops if o.f == "get" and o.type == OK][-1]
    saved = last.result
    last.result = failed.value  # a value no completed write put there
    try:
        verdict, out = lincheck(hist, tmp_path, "ghost.edn")
    finally:
        last.result = saved
    assert verdict == "not linearizable", out


def test_noscript_after_an_eval_is_caught(true_run):
    hist = true_run
    late = [o for o in hist.ops if o.f == "cas" and o.type == OK and o.extra["via"] == "evalsha"][-1]
    saved = late.type, late.reason
    late.type, late.reason = "fail", "NOSCRIPT"
    try:
        problems = checks.noscript_after_load(hist.ops)
    finally:
        late.type, late.reason = saved
    assert len(problems) == 1 and "NOSCRIPT" in problems[0], problems
