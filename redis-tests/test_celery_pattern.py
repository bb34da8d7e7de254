"""Celery's Redis broker, black-box: the commands kombu's Redis transport
(kombu/transport/redis.py, kombu 5) sends for a Celery app, replayed with
redis-py (no Celery or kombu installed), against redis-server 7.0.15 (the
reference: the test's own expectations) and a 3-node RaftKV cluster in
follower-mode proxy, with workers on the leader and on both followers.

What kombu does, and this test with it:
  - bindings: a queue bound to an exchange is a member
    "<routing key>\\x06\\x16<pattern>\\x06\\x16<queue>" of the set
    "_kombu.binding.<exchange>" (SADD at declare, SMEMBERS at every publish
    to find the queues of a routing key);
  - priorities: a queue is four lists, "<queue>" for priorities 0-2 and
    "<queue>\\x06\\x16<p>" for p = 3, 6, 9 (kombu's priority_steps); a
    message goes to the list of its step, and lower numbers go first;
  - publish: LPUSH of the JSON message (body base64, headers with the task
    id, properties with a delivery tag) to that list;
  - consume: BRPOP over every list of every queue the worker consumes,
    priority steps first ("celery", "video", "celery\\x06\\x163", ...), with
    a timeout (1 s), the queue just served rotated to the end;
  - delivery (ack emulation): a MULTI with ZADD of the delivery tag to the
    "unacked_index" sorted set (score: the time) and HSET of
    [message, exchange, routing key] into the "unacked" hash; the ack is a
    MULTI with ZREM and HDEL of the tag;
  - broadcast (Celery's remote control, a fanout exchange "celery.pidbox"):
    PUBLISH to "/0.celery.pidbox" ("/<db>." + exchange), every worker
    PSUBSCRIBEd to it on a connection of its own.

Checks: every task published runs exactly once, on some worker; at the end
no list holds a message, "unacked" and "unacked_index" are empty; every
worker got every broadcast, all in the same order, each publisher's in the
order it sent them; every worker ran tasks. PUBLISH answers the number of
receivers on the node that applied it: all workers on redis-server, the
leader's one worker on RaftKV (README.md "Pub/sub"). A second test kills
the leader -9 while the workers, on the two followers, wait in BRPOP: they
go on through the election, and every task sent after it runs once.

Not mirrored: kombu's restore of unacknowledged messages after the
visibility timeout (its mutex is redis-py's Lock, released by a Lua script,
and the restore a WATCH transaction: RaftKV has neither EVAL nor WATCH)."""
import base64
import json
import os
import random
import sys
import threading
import time
import uuid
from bisect import bisect

import pytest
import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat  # noqa: E402

SEP = "\x06\x16"
PRIORITY_STEPS = [0, 3, 6, 9]
UNACKED, UNACKED_INDEX = "unacked", "unacked_index"
PIDBOX = "celery.pidbox"
FANOUT_TOPIC = "/0." + PIDBOX
BRPOP_TIMEOUT = 1
TASKS_PER_PRODUCER = 120
BROADCASTS_PER_PRODUCER = 4


def q_for_pri(queue, pri):
    """kombu Channel._q_for_pri: the list of a queue for a priority."""
    step = PRIORITY_STEPS[bisect(PRIORITY_STEPS, pri) - 1]
    return "%s%s%d" % (queue, SEP, step) if step else queue


def binding(routing_key, queue, pattern=""):
    return SEP.join([routing_key, pattern, queue])


def task_message(task_id, queue, priority, args):
    """A Celery protocol-2 task message as kombu's virtual channel stores it."""
    body = base64.b64encode(json.dumps([args, {}, {"callbacks": None, "errbacks": None, "chain": None,
                                                     "chord": None}]).encode()).decode()
    return {
        "body": body,
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {"lang": "py", "task": "tasks.add", "id": task_id, "root_id": task_id, "parent_id": None,
                    "group": None, "retries": 0, "eta": None, "expires": None, "argsrepr": repr(args),
                    "kwargsrepr": "{}", "origin": "gen1@test"},
        "properties": {"correlation_id": task_id, "reply_to": str(uuid.uuid4()), "delivery_mode": 2,
                       "delivery_info": {"exchange": "", "routing_key": queue}, "priority": priority,
                       "body_encoding": "base64", "delivery_tag": str(uuid.uuid4())},
    }


class Worker:
    """A Celery worker's broker traffic: one connection consuming (BRPOP,
    the unacked bookkeeping, acks), one listening to the pidbox fanout."""

    # Errors that mean "not done" (no leader yet, not committed): a worker
    # that tolerates them retries, as a Celery consumer reconnects.
    RETRYABLE = ("CLUSTERDOWN", "TRYAGAIN")

    def __init__(self, name, node, queues, tolerate=False):
        self.name, self.node, self.queues = name, node, list(queues)
        self.tolerate, self.retries = tolerate, []
        self.r = redis.Redis(host=node.host, port=node.port, socket_timeout=15)
        self.sub = redis.Redis(host=node.host, port=node.port, socket_timeout=15).pubsub()
        self.ran, self.broadcasts, self.errors = [], [], []
        self.stop = threading.Event()
        self.threads = []

    def declare(self):
        """Queue and pidbox bindings (SADD), then PSUBSCRIBE, confirmed."""
        for q in self.queues:
            self.r.sadd("_kombu.binding." + q, binding(q, q))
        self.r.sadd("_kombu.binding." + PIDBOX, binding("", "%s.%s" % (self.name, PIDBOX)))
        self.sub.psubscribe(FANOUT_TOPIC)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            m = self.sub.get_message(timeout=0.5)
            if m and m["type"] == "psubscribe":
                assert m["data"] == 1, m
                return
        raise AssertionError("%s: no psubscribe confirmation" % self.name)

    def start(self):
        self.threads = [threading.Thread(target=self._guard, args=(f,), daemon=True, name="%s-%s" % (self.name, n))
                        for f, n in ((self._consume, "consume"), (self._listen, "listen"))]
        for t in self.threads:
            t.start()

    def _guard(self, f):
        try:
            f()
        except Exception as e:  # the test fails with it
            self.errors.append("%s: %s: %s" % (self.name, type(e).__name__, e))

    def _consume(self):
        cycle = list(self.queues)
        while not self.stop.is_set():
            keys = [q_for_pri(q, p) for p in PRIORITY_STEPS for q in cycle]
            try:
                got = self.r.execute_command("BRPOP", *keys, BRPOP_TIMEOUT)
            except redis.ResponseError as e:
                if not (self.tolerate and str(e).startswith(self.RETRYABLE)):
                    raise
                self.retries.append(str(e))
                time.sleep(0.1)
                continue
            if got is None:
                continue
            key, raw = got[0].decode(), got[1]
            dest = key.rsplit(SEP, 1)[0]
            cycle.remove(dest)  # kombu's round-robin: the queue served goes last
            cycle.append(dest)
            msg = json.loads(raw)
            tag = msg["properties"]["delivery_tag"]
            info = msg["properties"]["delivery_info"]
            with self.r.pipeline() as p:  # QoS.append
                p.zadd(UNACKED_INDEX, {tag: time.time()})
                p.hset(UNACKED, tag, json.dumps([msg, info["exchange"], info["routing_key"]]))
                assert p.execute() == [1, 1]
            args = json.loads(base64.b64decode(msg["body"]))[0]
            self.ran.append((msg["headers"]["id"], dest, msg["properties"]["priority"], sum(args)))
            with self.r.pipeline() as p:  # QoS.ack
                p.zrem(UNACKED_INDEX, tag)
                p.hdel(UNACKED, tag)
                assert p.execute() == [1, 1]

    def _listen(self):
        while not self.stop.is_set():
            m = self.sub.get_message(timeout=0.2)
            if m is None:
                continue
            assert m["type"] == "pmessage", m
            assert m["pattern"] == FANOUT_TOPIC.encode() and m["channel"] == FANOUT_TOPIC.encode(), m
            # kombu's _receive_one: "/0.celery.pidbox" -> exchange celery.pidbox
            exchange = m["channel"].decode().partition(".")[2].split("/", 1)[0]
            assert exchange == PIDBOX
            self.broadcasts.append(json.loads(m["data"])["headers"]["ticket"])

    def close(self):
        self.stop.set()
        for t in self.threads:
            t.join(BRPOP_TIMEOUT + 20)
        alive = [t.name for t in self.threads if t.is_alive()]
        self.sub.close()
        self.r.close()
        assert not alive, "threads did not stop: %s" % alive


class Producer(threading.Thread):
    """apply_async() in bursts: the exchange's bindings (SMEMBERS) to find
    the queue, LPUSH to its priority's list; now and then a broadcast."""

    def __init__(self, name, node, queue, seed, expect_receivers, ntasks=TASKS_PER_PRODUCER):
        super().__init__(name=name, daemon=True)
        self.node, self.queue, self.rng = node, queue, random.Random(seed)
        self.expect_receivers, self.ntasks = expect_receivers, ntasks
        self.sent, self.tickets, self.errors = [], [], []

    def run(self):
        try:
            self._run()
        except Exception as e:
            self.errors.append("%s: %s: %s" % (self.name, type(e).__name__, e))

    def _run(self):
        r = redis.Redis(host=self.node.host, port=self.node.port, socket_timeout=15)
        broadcast_at = set(self.rng.sample(range(self.ntasks), min(self.ntasks, BROADCASTS_PER_PRODUCER)))
        for i in range(self.ntasks):
            members = r.smembers("_kombu.binding." + self.queue)  # exchange lookup
            queues = [m.decode().split(SEP)[2] for m in members if m.decode().split(SEP)[0] == self.queue]
            assert queues == [self.queue], members
            tid, pri = str(uuid.uuid4()), self.rng.randrange(10)
            msg = task_message(tid, self.queue, pri, [i, self.rng.randrange(100)])
            r.lpush(q_for_pri(self.queue, pri), json.dumps(msg))
            self.sent.append(tid)
            if i in broadcast_at:
                ticket = "%s-%d" % (self.name, i)
                n = r.publish(FANOUT_TOPIC, json.dumps({"body": "", "headers": {"ticket": ticket},
                                                        "properties": {"delivery_tag": str(uuid.uuid4())}}))
                assert n == self.expect_receivers, (ticket, n)
                self.tickets.append(ticket)
            if self.rng.random() < 0.1:  # a pause: workers block on empty queues
                time.sleep(self.rng.uniform(0.05, 0.3))
        r.close()


@pytest.fixture(params=["redis", "raftkv"])
def broker(request):
    """(leader, follower, follower): one redis-server three times, or the
    nodes of a 3-node RaftKV cluster in follower-mode proxy."""
    if request.param == "redis":
        srv = compat.start_redis()
        yield "redis", [srv, srv, srv]
        died = not srv.alive()
        srv.stop()
        assert not died, srv.log()
        return
    c = compat.start_raftkv_cluster(3, ["--follower-mode", "proxy"])
    try:
        ld = c.leader()
        yield "raftkv", [ld] + [n for n in c.nodes if n is not ld]
    finally:
        san = c.sanitizer_report()
        bad = c.stop()
    assert san is None, "sanitizer report:\n" + san
    assert not bad, "nodes %s did not stop cleanly:\n%s" % (bad, c.saved_log)


def test_celery_tasks_run_once_and_broadcasts_reach_every_worker(broker):
    kind, (leader, f1, f2) = broker
    workers = [Worker("w1", leader, ["celery", "video"]), Worker("w2", f1, ["celery", "video"]),
               Worker("w3", f1, ["celery"]), Worker("w4", f2, ["video", "celery"])]
    on_leader = sum(1 for w in workers if w.node is leader)
    expect = len(workers) if kind == "redis" else on_leader
    producers = [Producer("pl", leader, "celery", 1, expect), Producer("pf", f2, "video", 2, expect)]
    try:
        for w in workers:
            w.declare()
        for w in workers:
            w.start()
        for p in producers:
            p.start()
        for p in producers:
            p.join(120)
            assert not p.is_alive(), "%s did not finish" % p.name
        assert [e for p in producers for e in p.errors] == []
        sent = [t for p in producers for t in p.sent]
        tickets = [t for p in producers for t in p.tickets]
        r = redis.Redis(host=leader.host, port=leader.port, socket_timeout=15)

        def settled():
            errors = [e for w in workers for e in w.errors]
            assert errors == [], errors
            ran = sum(len(w.ran) for w in workers)
            got_all = all(len(w.broadcasts) >= len(tickets) for w in workers)
            return ran >= len(sent) and got_all and r.hlen(UNACKED) == 0
        compat.wait_until(settled, 60, "every task acknowledged and every broadcast received", interval=0.05)
    finally:
        for w in workers:
            w.close()
    assert [e for w in workers for e in w.errors] == []
    runs = {}
    for w in workers:
        for tid, dest, pri, _ in w.ran:
            runs.setdefault(tid, []).append((w.name, dest, pri))
    twice = {tid: v for tid, v in runs.items() if len(v) > 1}
    assert twice == {}, "tasks run more than once: %s" % twice
    assert sorted(runs) == sorted(sent), "tasks never run: %s" % (set(sent) - set(runs))
    for w in workers:  # a worker runs only tasks of its queues, and every worker ran some
        assert {dest for _, dest, _, _ in w.ran} <= set(w.queues), w.name
        assert w.ran, "%s (on %s) ran no task" % (w.name, "the leader" if w.node is leader else "a follower")
    # nothing left behind: the lists of every priority, the unacked bookkeeping
    with r.pipeline() as p:
        for q in ("celery", "video"):
            for pri in PRIORITY_STEPS:
                p.llen(q_for_pri(q, pri))
        p.hlen(UNACKED)
        p.zcard(UNACKED_INDEX)
        assert p.execute() == [0] * 10
    assert sorted(m.decode() for m in r.smembers("_kombu.binding." + PIDBOX)) == sorted(
        binding("", "%s.%s" % (w.name, PIDBOX)) for w in workers)
    # every worker got every broadcast once, all in one order, each
    # publisher's in the order it sent them
    order = workers[0].broadcasts
    assert sorted(order) == sorted(tickets)
    for w in workers:
        assert w.broadcasts == order, (w.name, w.broadcasts, order)
    for p in producers:
        assert [t for t in order if t.startswith(p.name + "-")] == p.tickets
    r.close()
    print("%s: tasks per worker %s; broadcasts %d" % (kind, {w.name: len(w.ran) for w in workers}, len(order)))


def run_and_check(workers, producers, settle_node, tickets_before=()):
    """Runs the producers to the end, then waits until every task they sent
    ran and was acknowledged and every worker has every broadcast so far.
    Returns (tasks sent, all tickets so far)."""
    ran_before = sum(len(w.ran) for w in workers)
    for p in producers:
        p.start()
    for p in producers:
        p.join(120)
        assert not p.is_alive(), "%s did not finish" % p.name
    assert [e for p in producers for e in p.errors] == []
    sent = [t for p in producers for t in p.sent]
    tickets = list(tickets_before) + [t for p in producers for t in p.tickets]
    r = redis.Redis(host=settle_node.host, port=settle_node.port, socket_timeout=15)

    def settled():
        errors = [e for w in workers for e in w.errors]
        assert errors == [], errors
        ran = sum(len(w.ran) for w in workers) - ran_before
        got_all = all(len(w.broadcasts) >= len(tickets) for w in workers)
        return ran >= len(sent) and got_all and r.hlen(UNACKED) == 0
    try:
        compat.wait_until(settled, 60, "every task acknowledged and every broadcast received", interval=0.05)
    except AssertionError as e:
        state = {w.name: {"ran": len(w.ran), "broadcasts": len(w.broadcasts), "retries": w.retries[-3:]}
                 for w in workers}
        raise AssertionError("%s: %d tasks sent, %d tickets, unacked %d; workers %s"
                             % (e, len(sent), len(tickets), r.hlen(UNACKED), state)) from None
    r.close()
    return sent, tickets


def test_celery_workers_blocked_on_followers_survive_a_leader_kill():
    """Workers consuming on the two followers, idle (blocked in BRPOP) when
    the leader is killed -9: the BRPOPs they are in, and their
    subscriptions, live on through the election; tasks and broadcasts sent
    after it (through a follower) reach them, each task run exactly once.
    A BRPOP sent while there is no leader may answer -CLUSTERDOWN or
    -TRYAGAIN (nothing popped): the worker retries, as a Celery consumer
    does after a channel error."""
    c = compat.start_raftkv_cluster(3, ["--follower-mode", "proxy"])
    workers = []
    try:
        ld = c.leader()
        f1, f2 = [n for n in c.nodes if n is not ld]
        workers = [Worker("w1", f1, ["celery"], tolerate=True), Worker("w2", f2, ["celery"], tolerate=True)]
        for w in workers:
            w.declare()
        for w in workers:
            w.start()
        before = [Producer("pa", f1, "celery", 3, 0, ntasks=40)]  # no subscriber on the leader
        sent1, tickets = run_and_check(workers, before, f1)
        # Both workers idle in BRPOP on empty queues: kill the leader.
        compat.wait_until(lambda: all(int(compat.info(n.host, n.port, "clients")["blocked_clients"]) >= 1
                                      for n in (f1, f2)), 10, "both workers blocked in BRPOP")
        ld.kill()
        new = c.leader(30)
        assert new in (f1, f2)
        # through the follower that is left (proxied to the new leader),
        # and a broadcast counted on the new leader: its one worker
        other = f2 if new is f1 else f1
        after = [Producer("pb", other, "celery", 4, 1, ntasks=40)]
        sent2, tickets = run_and_check(workers, after, new, tickets)
    finally:
        for w in workers:
            w.close()
        san = c.sanitizer_report()
        bad = c.stop()
    assert san is None, "sanitizer report:\n" + san
    assert not bad, "nodes %s did not stop cleanly:\n%s" % (bad, c.saved_log)
    runs = {}
    for w in workers:
        for tid, _, _, _ in w.ran:
            runs.setdefault(tid, []).append(w.name)
    assert {t: v for t, v in runs.items() if len(v) > 1} == {}, "tasks run more than once"
    assert sorted(runs) == sorted(sent1 + sent2)
    for w in workers:
        assert w.broadcasts == workers[0].broadcasts and sorted(w.broadcasts) == sorted(tickets), w.name
    print("failover: tasks per worker %s; retried BRPOPs %s" % ({w.name: len(w.ran) for w in workers},
                                                                 {w.name: len(w.retries) for w in workers}))
