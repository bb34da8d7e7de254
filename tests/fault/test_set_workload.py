"""The set workload (workload.Sets) end to end without raftkv: its clients run
SADD/SREM/SMEMBERS against a real redis-server (the reference, 7.0.15), the
history is written as a run writes it and checked by lincheck's set model.
A true history must be linearizable; the same history with one read made
impossible must not be. Needs RAFTKV_LINCHECK and redis-server."""
import os
import shutil
import subprocess
import sys
import tempfile

import pytest
import redis

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "pylib"))

import checks  # noqa: E402
import workload  # noqa: E402
from history import OK, History  # noqa: E402
from testproc import die_with_parent, pick_port, wait_until  # noqa: E402

LINCHECK = os.environ.get("RAFTKV_LINCHECK")
REDIS_SERVER = os.environ.get("REDIS_SERVER", shutil.which("redis-server") or "/usr/bin/redis-server")

pytestmark = [
    pytest.mark.skipif(not LINCHECK, reason="RAFTKV_LINCHECK not set"),
    pytest.mark.skipif(not os.access(REDIS_SERVER, os.X_OK), reason="no redis-server"),
]


class Node:
    def __init__(self, nid, host, port):
        self.id, self.host, self.port = nid, host, port


class OneNode:
    """What workload.Client needs of a cluster: nodes and node(id)."""

    def __init__(self, port):
        self.nodes = [Node(1, "127.0.0.1", port)]

    def node(self, nid):
        return self.nodes[nid - 1]


@pytest.fixture(scope="module")
def server():
    tmp = tempfile.mkdtemp(prefix="setwl-")
    proc = port = None
    try:
        for _ in range(5):  # a port taken between pick and bind: try another
            port = pick_port()
            proc = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1",
                                     "--save", "", "--appendonly", "no", "--dir", tmp],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    preexec_fn=die_with_parent)
            r = redis.Redis(port=port, socket_timeout=1)
            try:
                wait_until(lambda: proc.poll() is not None or r.ping(), 10, "redis-server up",
                           retry_on=(redis.ConnectionError,))
            finally:
                r.close()
            if proc.poll() is None:
                break
        assert proc and proc.poll() is None, "redis-server did not start"
        yield port
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def run_workload(port, nclients=5, nops=800, seed=11):
    """Runs the clients until nops operations completed; then a final
    SMEMBERS of every key as one more process, as scenarios._final_reads."""
    r = redis.Redis(port=port, socket_timeout=5)
    r.flushall()
    cl, hist, wl = OneNode(port), History(), workload.Sets()
    clients, stop, errors = workload.start_clients(nclients, cl, hist, wl, seed, 2.0)
    try:
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
    r.close()
    return hist


def lincheck(hist, tmp_path, name):
    path = str(tmp_path / name)
    hist.write_edn(path)
    return checks.lincheck(LINCHECK, path, 60)


def test_set_workload_against_redis_is_linearizable(server, tmp_path):
    hist = run_workload(server)
    ok = [o for o in hist.ops if o.type == OK]
    # The run exercised what the model checks: both replies of SADD and
    # SREM, and reads of empty and non-empty sets.
    for f in ("sadd", "srem"):
        assert {o.result for o in ok if o.f == f} == {0, 1}, f
    reads = [o.result for o in ok if o.f == "smembers"]
    assert "" in reads and any(" " in v for v in reads)
    verdict, out = lincheck(hist, tmp_path, "history.edn")
    assert verdict == "linearizable", out


def test_impossible_read_in_a_set_history_is_caught(server, tmp_path):
    hist = run_workload(server, nops=400, seed=12)
    # A late read lists a member no SADD ever added.
    late = [o for o in hist.ops if o.type == OK and o.f == "smembers"][-10]
    late.result = " ".join(sorted(late.result.split() + ["never-added"]))
    verdict, out = lincheck(hist, tmp_path, "corrupt-member.edn")
    assert verdict == "not linearizable", out
    assert "never-added" in out


def test_member_lost_after_the_run_is_caught(server, tmp_path):
    hist = run_workload(server, nops=400, seed=13)
    # One more read after the final ones, with a member of a non-empty set
    # gone although no operation ran in between.
    final = next(o for o in reversed(hist.ops) if o.f == "smembers" and o.result)
    p = hist.new_process()
    op = hist.invoke(p, "smembers", final.key)
    hist.complete(op, OK, " ".join(final.result.split()[1:]))
    verdict, out = lincheck(hist, tmp_path, "lost-member.edn")
    assert verdict == "not linearizable", out
