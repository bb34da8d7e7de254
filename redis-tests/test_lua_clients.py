"""Client libraries' Lua scripts against a 3-node RaftKV cluster in proxy
mode (issue 17): clients on a follower (the scripts are forwarded to the
leader, one log entry each) and on the leader.

- redis-py Lock: acquire, extend, reacquire, release are Lua scripts; two
  threads, one per node, contend for the lock and check mutual exclusion.
- redis-py register_script: EVALSHA with its NOSCRIPT fallback (EVAL), in
  a pipeline too; the script cache is replicated state.
- A GCRA rate limiter script (TIME inside the script is the entry's time).
- ioredis defineCommand (node/lua_test.js), where node is installed.
- A BullMQ-shaped job queue through a leader kill -9: no job lost or run
  twice (BullMQ itself, streams and all, is test_bullmq.py)."""
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest
import redis
from redis.lock import Lock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat  # noqa: E402
import run_node  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    c = compat.start_raftkv_cluster(3, ["--follower-mode", "proxy"])
    yield c
    san = c.sanitizer_report()
    bad = c.stop()
    assert san is None, "sanitizer report:\n" + san
    assert not bad, "nodes %s did not stop cleanly" % bad


def client(node, **kw):
    return redis.Redis(host=node.host, port=node.port, socket_timeout=20, **kw)


def test_redis_py_lock_is_mutually_exclusive(cluster):
    ld, f = cluster.leader(), cluster.followers()[0]
    client(ld).delete("lk:count")
    inside = []
    errors = []
    rounds = 12

    def worker(node, name):
        r = client(node)
        try:
            for _ in range(rounds):
                lock = r.lock("lk:lock", timeout=10, blocking_timeout=30, sleep=0.005)
                assert lock.acquire(), "%s: no lock within 30 s" % name
                inside.append(name)
                if len(inside) != 1:
                    errors.append("two holders: %r" % inside)
                v = int(r.get("lk:count") or 0)  # read-modify-write, safe only under the lock
                assert lock.extend(5)
                assert lock.reacquire()
                r.set("lk:count", v + 1)
                inside.remove(name)
                lock.release()
        except Exception as e:  # reported below, with the thread's name
            errors.append("%s: %s: %s" % (name, type(e).__name__, e))

    ts = [threading.Thread(target=worker, args=(n, "t%d" % i)) for i, n in enumerate((ld, f))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert not any(t.is_alive() for t in ts), "a worker did not finish"
    assert not errors, errors
    assert int(client(ld).get("lk:count")) == 2 * rounds
    # a lock released by someone else's token is refused by the script
    a = Lock(client(f), "lk:other", timeout=5)
    assert a.acquire(blocking=False)
    b = Lock(client(ld), "lk:other", timeout=5)
    assert not b.acquire(blocking=False)
    b.local.token = b"not-the-owner"
    with pytest.raises(redis.exceptions.LockNotOwnedError):
        b.release()
    b.local.token = b"not-the-owner"  # release() forgot it
    with pytest.raises(redis.exceptions.LockNotOwnedError):
        b.extend(5)
    a.release()
    assert client(f).get("lk:other") is None


def test_redis_py_register_script_falls_back_to_eval(cluster):
    ld, f = cluster.leader(), cluster.followers()[-1]
    body = "-- %d\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])" % time.monotonic_ns()
    rf, rl = client(f), client(ld)
    rl.delete("rs:n")
    s = rf.register_script(body)
    assert rf.script_exists(s.sha) == [False]
    assert s(keys=["rs:n"], args=[5]) == 5  # EVALSHA -> NOSCRIPT -> SCRIPT LOAD + EVALSHA
    # loaded through the follower, cached on every node
    assert rl.script_exists(s.sha) == [True]
    assert rl.evalsha(s.sha, 1, "rs:n", 2) == 7
    # in a pipeline, redis-py checks SCRIPT EXISTS and loads what is missing
    other = rl.register_script("-- %s\nreturn {KEYS[1], ARGV[1], redis.call('GET', KEYS[1])}" % s.sha)
    with rf.pipeline(transaction=True) as p:
        s(keys=["rs:n"], args=[1], client=p)
        other(keys=["rs:n"], args=["x"], client=p)
        assert p.execute() == [8, [b"rs:n", b"x", b"8"]]
    # SCRIPT FLUSH empties the cache on every node: the fallback again
    rl.script_flush()
    assert rf.script_exists(s.sha, other.sha) == [False, False]
    assert s(keys=["rs:n"], args=[1], client=rl) == 9
    assert rf.script_exists(s.sha) == [True]


# GCRA (generic cell rate algorithm): one key per limiter holding the
# theoretical arrival time (ms); ARGV: emission interval (ms), burst.
GCRA = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now_ms
if tat < now_ms then tat = now_ms end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if now_ms < allow_at then
  return {0, allow_at - now_ms}
end
redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now_ms)
return {1, 0}
"""


def test_gcra_rate_limiter_script(cluster):
    ld, f = cluster.leader(), cluster.followers()[0]
    rl, rf = client(ld), client(f)
    rl.delete("gcra:api")
    limit = rf.register_script(GCRA)
    # one request a minute, a burst of 5: of 12 quick requests (alternating
    # nodes) exactly 5 pass, the others are told how long to wait
    got = [limit(keys=["gcra:api"], args=[60000, 5], client=(rl, rf)[i % 2]) for i in range(12)]
    assert [a for a, _ in got] == [1] * 5 + [0] * 7, got
    assert all(0 < wait <= 60000 for a, wait in got if a == 0), got
    tat = int(rf.get("gcra:api"))
    assert 0 < rl.pttl("gcra:api") <= 5 * 60000
    # the state is the same on every node (it was written at apply)
    for nd in cluster.nodes:
        deadline = time.monotonic() + 10
        while client(nd).get("gcra:api") != str(tat).encode():
            assert time.monotonic() < deadline, "node %d" % nd.id
            time.sleep(0.02)


def test_ioredis_define_command(cluster):
    node = shutil.which("node")
    if not node:
        pytest.skip("node is not installed")
    prefix = os.environ.get("COMPAT_NODE_DIR") or os.path.join(os.getcwd(), "compat-node")
    assert run_node.ensure_packages(prefix), "npm install failed"
    ld, f = cluster.leader(), cluster.followers()[0]
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node", "lua_test.js")
    env = dict(os.environ, NODE_PATH=os.path.join(prefix, "node_modules"))
    p = subprocess.run([node, script, "%s:%d" % (f.host, f.port), "%s:%d" % (ld.host, ld.port)],
                       env=env, capture_output=True, text=True, timeout=120)
    print(p.stdout + p.stderr)
    assert p.returncode == 0, p.stdout + p.stderr


# A BullMQ-shaped job queue (BullMQ itself runs in test_bullmq.py): a job is
# an id in a list plus a hash; every step is one script, so atomic.
JOB_ADD = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[2], 'state', 'wait', 'data', ARGV[2])
redis.call('LPUSH', KEYS[1], ARGV[1])
return 1
"""
JOB_TAKE = """
local id = redis.call('RPOPLPUSH', KEYS[1], KEYS[2])
if not id then return false end
redis.call('HSET', ARGV[2] .. id, 'state', 'active', 'owner', ARGV[1])
redis.call('HINCRBY', ARGV[2] .. id, 'attempts', 1)
return id
"""
JOB_COMPLETE = """
local k = ARGV[3] .. ARGV[1]
if redis.call('HGET', k, 'state') == 'completed' then return 0 end
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return -1 end
redis.call('HSET', k, 'state', 'completed', 'result', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""
NOT_APPLIED = ("TRYAGAIN", "CLUSTERDOWN")
JOB = "bq:job:"


class JobQueue:
    """Producers and workers, each a thread on its own node, moving to the
    next node when a call fails (a dead node, no leader yet)."""

    def __init__(self, cluster, deadline):
        self.cluster, self.deadline = cluster, deadline
        self.lock = threading.Lock()
        self.acked, self.runs, self.errors = set(), {}, []
        self.take_unknown = 0
        self.producers_done = threading.Event()

    def call(self, state, script, keys, args):
        """(outcome, reply): 'ok', 'no' (not applied) or 'unknown'."""
        nodes = self.cluster.nodes
        if state.get("r") is None:
            nd = nodes[state["i"] % len(nodes)]
            state["r"] = redis.Redis(host=nd.host, port=nd.port, socket_timeout=5, socket_connect_timeout=1)
        try:
            return "ok", state["r"].evalsha(script, len(keys), *(list(keys) + list(args)))
        except redis.exceptions.ResponseError as e:
            if str(e).startswith(NOT_APPLIED):
                time.sleep(0.05)
                return "no", None
            if str(e).startswith("TIMEOUT"):
                outcome = "unknown"
            else:
                raise
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            outcome = "unknown" if state.get("sent", True) else "no"
        state["r"].close()
        state["r"] = None
        state["i"] += 1
        time.sleep(0.05)
        return outcome, None

    def producer(self, idx, n, shas):
        st = {"i": idx}
        for k in range(n):
            jid = "p%d-%d" % (idx, k)
            while True:  # the add is idempotent: retried until acknowledged
                assert time.monotonic() < self.deadline, "producer %d: %s never acknowledged" % (idx, jid)
                outcome, reply = self.call(st, shas["add"], ("bq:wait", JOB + jid), (jid, "payload-%s" % jid))
                if outcome == "ok":
                    break
            with self.lock:
                self.acked.add(jid)

    def worker(self, idx, shas):
        st = {"i": idx}
        me = "w%d" % idx
        while True:
            assert time.monotonic() < self.deadline, "worker %d: out of time" % idx
            outcome, jid = self.call(st, shas["take"], ("bq:wait", "bq:active"), (me, JOB))
            if outcome == "unknown":
                with self.lock:
                    self.take_unknown += 1  # maybe a job now active that nobody runs (stalled)
                continue
            if outcome == "no":
                continue
            if jid is None:
                if self.producers_done.is_set():
                    return
                time.sleep(0.01)
                continue
            jid = jid.decode()
            with self.lock:  # "run" the job
                self.runs[jid] = self.runs.get(jid, 0) + 1
            while True:
                assert time.monotonic() < self.deadline, "worker %d: %s never completed" % (idx, jid)
                outcome, reply = self.call(st, shas["complete"], ("bq:active", "bq:completed"),
                                           (jid, "done-by-" + me, JOB))
                if outcome == "ok":
                    if reply not in (0, 1):
                        with self.lock:
                            self.errors.append("complete %s by %s: %r" % (jid, me, reply))
                    break


def test_bullmq_shaped_queue_through_a_leader_kill(cluster):
    ld = cluster.leader()
    r = client(ld)
    r.delete("bq:wait", "bq:active", "bq:completed")
    shas = {"add": r.script_load(JOB_ADD), "take": r.script_load(JOB_TAKE),
            "complete": r.script_load(JOB_COMPLETE)}
    q = JobQueue(cluster, time.monotonic() + 60)
    nprod, njobs = 2, 60
    failures = []

    def guarded(fn, *a):
        def run():
            try:
                fn(*a)
            except BaseException as e:
                failures.append("%s: %s" % (type(e).__name__, e))
        return threading.Thread(target=run)

    prods = [guarded(q.producer, i, njobs, shas) for i in range(nprod)]
    workers = [guarded(q.worker, i, shas) for i in range(3)]
    for t in prods + workers:
        t.start()
    # kill -9 the leader once a third of the jobs are in
    deadline = time.monotonic() + 30
    while len(q.acked) < nprod * njobs // 3:
        assert time.monotonic() < deadline and not failures, failures
        time.sleep(0.01)
    ld.kill()
    at_kill = len(q.acked)
    new = cluster.leader()
    assert new is not ld
    ld.start()
    for t in prods:
        t.join(60)
    q.producers_done.set()
    for t in workers:
        t.join(60)
    assert not any(t.is_alive() for t in prods + workers), "a thread did not finish"
    assert not failures and not q.errors, failures + q.errors
    r = client(cluster.leader())
    everyone = {"p%d-%d" % (i, k) for i in range(nprod) for k in range(njobs)}
    assert q.acked == everyone
    assert at_kill < len(everyone), "the kill came after the producers finished"
    completed = {x.decode() for x in r.smembers("bq:completed")}
    stalled = [x.decode() for x in r.lrange("bq:active", 0, -1)]
    assert r.llen("bq:wait") == 0
    # no job run twice; every job completed, or stalled in active by a take
    # whose reply was lost (BullMQ's stalled-job checker would move it back)
    assert [j for j, n in q.runs.items() if n != 1] == []
    assert len(stalled) == len(set(stalled)) and len(stalled) <= q.take_unknown, (stalled, q.take_unknown)
    assert completed | set(stalled) == everyone and not completed & set(stalled)
    assert completed == set(q.runs)
    for jid in sorted(completed)[:20]:
        h = r.hgetall(JOB + jid)
        assert h[b"state"] == b"completed" and h[b"attempts"] == b"1", (jid, h)
    print("jobs: %d completed, %d stalled by a lost take reply, %d takes of unknown outcome, "
          "%d acknowledged at the kill" % (len(completed), len(stalled), q.take_unknown, at_kill))
