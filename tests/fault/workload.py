"""Concurrent clients on a small set of keys, each a thread with its own
connection to one node (a leader or a follower, re-chosen now and then),
recording every operation in the History.

How a reply is recorded (DESIGN.md "The write path", rule 6; README):
  - a reply, or an error the command computed (INCR on a non-integer):
    ok, or fail for such an error (the state did not change);
  - -TRYAGAIN (the entry was not committed, or never proposed),
    -CLUSTERDOWN (no leader: nothing proposed), -MOVED (redirect mode:
    not run here), -OOM (refused at propose time): fail, it did not happen;
  - -TIMEOUT, a socket timeout, a dropped connection, or an error this
    table does not know: info, the outcome is unknown; the client then
    continues as a new process on a new connection, as in Jepsen.
A read's error is a fail (a read changes nothing)."""
import random
import threading
import time

import redis

from faults import installed_indexes
from history import FAIL, INFO, OK

NOT_APPLIED = ("TRYAGAIN", "CLUSTERDOWN", "MOVED", "OOM", "value is not an integer")


def classify(err):
    """fail or info for an error reply of a write."""
    msg = str(err)
    oom = getattr(redis.exceptions, "OutOfMemoryError", None)  # redis-py >= 4.4
    if oom and isinstance(err, oom):
        return FAIL
    if isinstance(err, redis.exceptions.NoScriptError):  # EVALSHA of an unknown script: nothing ran
        return FAIL
    if msg.startswith("TIMEOUT"):
        return INFO
    if msg.startswith(NOT_APPLIED):
        return FAIL
    return INFO


class Conn:
    """A raw redis-py connection to one node; connect() happens before any
    operation is invoked, so a refused connection is no operation at all."""

    def __init__(self, host, port, timeout):
        self.c = redis.Connection(host=host, port=port, socket_timeout=timeout,
                                  socket_connect_timeout=min(timeout, 1.0), retry_on_timeout=False)
        self.c.connect()

    def call(self, *args):
        self.c.send_command(*args)
        return self.c.read_response()

    def close(self):
        self.c.disconnect()


def _text(v):
    return v.decode() if isinstance(v, bytes) else v


class Client(threading.Thread):
    """Runs ops until stopped. pick_op(rng, key) returns (f, args, value,
    extra) and read(f) says whether it is a read; run_op turns the reply
    into the recorded result."""

    def __init__(self, idx, cl, hist, workload, seed, stop, timeout, errors):
        super().__init__(name="client-%d" % idx, daemon=True)
        # a workload whose clients differ (Queue: producers and consumers)
        # gives each its own view
        if hasattr(workload, "for_client"):
            workload = workload.for_client(idx)
        self.idx, self.cl, self.hist, self.wl = idx, cl, hist, workload
        self.rng = random.Random(seed)
        self.stop, self.timeout, self.errors = stop, timeout, errors
        self.conn = None
        self.target = (idx % len(cl.nodes)) + 1  # spread over leader and followers
        self.process = hist.new_process()
        self.ops_left = 0
        self.died = False

    def run(self):
        try:
            self._loop()
        except Exception as e:  # a harness bug: the run must fail, not go on quietly
            self.errors.append("HARNESS: client %d died: %s: %s" % (self.idx, type(e).__name__, e))
            self.died = True
            raise

    def _loop(self):
        while not self.stop.is_set():
            if not self._connected():
                time.sleep(0.05)
                continue
            self._one_op()
            time.sleep(self.wl.think(self.rng) if hasattr(self.wl, "think") else self.rng.uniform(0, 0.005))
        if self.conn:
            self.conn.close()

    def _connected(self):
        if self.conn and self.ops_left > 0:
            return True
        if self.conn:
            self.conn.close()
            self.conn = None
            self.target = self.rng.choice([nd.id for nd in list(self.cl.nodes)])
        try:
            nd = self.cl.node(self.target)
            self.conn = Conn(nd.host, nd.port, self.timeout)
        except (redis.RedisError, OSError, KeyError):  # KeyError: a spare node gone
            self.conn = None
            self.target = self.rng.choice([nd.id for nd in list(self.cl.nodes)])
            return False
        self.ops_left = self.rng.randrange(20, 80)
        return True

    def _one_op(self):
        self.ops_left -= 1
        key = self.rng.choice(self.wl.keys)
        f, args, value, extra = self.wl.pick_op(self.rng, key)
        if hasattr(self.wl, "op_key"):
            key = self.wl.op_key(key)
        op = self.hist.invoke(self.process, f, key, value, extra)
        try:
            if hasattr(self.wl, "run_op"):
                reply = self.wl.run_op(self.conn, f, args)
            else:
                reply = self.conn.call(*args)
        except redis.exceptions.ResponseError as e:
            self._error(op, e)
            return
        except (redis.RedisError, OSError) as e:
            self.hist.complete(op, INFO, reason=type(e).__name__)
            self._new_process()
            return
        self.hist.complete(op, OK, self.wl.result(f, reply))

    def _error(self, op, e):
        msg = str(e)
        reason = (msg.split() or ["?"])[0]
        if isinstance(e, redis.exceptions.NoScriptError):  # redis-py drops the error code
            reason = "NOSCRIPT"
        if self.wl.is_read(op.f):
            self.hist.complete(op, FAIL, reason=reason)
            time.sleep(self.rng.uniform(0.01, 0.05))
            return
        typ = classify(e)
        self.hist.complete(op, typ, reason=reason)
        if typ == FAIL:
            time.sleep(self.rng.uniform(0.01, 0.05))  # no leader yet: do not spin
        if typ == INFO:
            if not msg.startswith("TIMEOUT"):
                self.errors.append("%s: unexpected error %r (recorded as info)" % (op, msg))
            self._new_process()
        elif msg.startswith("MOVED"):
            self._follow_moved(msg)

    def _new_process(self):
        self.process = self.hist.new_process()
        self.ops_left = 0  # a new connection, maybe to another node

    def _follow_moved(self, msg):
        host = msg.split()[-1].rsplit(":", 1)[0]
        for nd in list(self.cl.nodes):
            if nd.host == host:
                self.target = nd.id
        self.ops_left = 0
        if self.conn:
            self.conn.close()
        self.conn = None
        try:
            nd = self.cl.node(self.target)
            self.conn = Conn(nd.host, nd.port, self.timeout)
            self.ops_left = self.rng.randrange(5, 20)
        except (redis.RedisError, OSError, KeyError):
            self.conn = None


class Registers:
    """GET/SET/DEL/APPEND on string keys r*, GET/INCR/DEL on counters c*.
    Every written value is unique: a SET writes "S<n>;", an APPEND adds
    "A<n>;", so the final value of a key says which writes it reflects."""

    def __init__(self, nregisters=4, ncounters=2):
        self.keys = ["r%d" % i for i in range(nregisters)] + ["c%d" % i for i in range(ncounters)]
        self._lock = threading.Lock()
        self._n = 0

    def _unique(self):
        with self._lock:
            self._n += 1
            return self._n

    @staticmethod
    def is_read(f):
        return f == "get"

    def pick_op(self, rng, key):
        x = rng.random()
        if key.startswith("c"):
            if x < 0.4:
                return "get", ("GET", key), None, None
            if x < 0.96:
                return "incr", ("INCR", key), None, None
            return "del", ("DEL", key), None, None
        if x < 0.4:
            return "get", ("GET", key), None, None
        if x < 0.65:
            v = "S%d;" % self._unique()
            return "put", ("SET", key, v), v, None
        if x < 0.9:
            v = "A%d;" % self._unique()
            return "append", ("APPEND", key, v), v, None
        return "del", ("DEL", key), None, None

    @staticmethod
    def final_op(key):
        """The read that ends a run (scenarios._final_reads)."""
        return "get", ("GET", key)

    @staticmethod
    def result(f, reply):
        if f == "get":
            return _text(reply)
        if f == "put":
            assert reply in (b"OK", True), reply
            return None
        return int(reply)


class WatchCounters(Registers):
    """Registers, but a counter is incremented the optimistic way
    (redis-py's transaction()): WATCH c, GET c, MULTI, SET c v+1, EXEC,
    again while EXEC answers null (a watched key changed), at most 20
    times. One operation "incr" whose result is the value it set, as
    INCR's; EXEC's error decides like a write's (TIMEOUT: unknown), an
    error before EXEC or 20 aborts mean it did not happen."""

    def __init__(self):
        super().__init__(nregisters=2, ncounters=3)

    def pick_op(self, rng, key):
        f, args, value, extra = super().pick_op(rng, key)
        if f == "incr":
            args = ("WATCH-INCR", key)
        return f, args, value, extra

    @staticmethod
    def run_op(conn, f, args):
        if args[0] != "WATCH-INCR":
            return conn.call(*args)
        key = args[1]
        for _ in range(20):
            try:
                conn.call("WATCH", key)
                n = int(conn.call("GET", key) or 0) + 1
            except redis.exceptions.ResponseError as e:
                conn.call("UNWATCH")
                # nothing was proposed: whatever the error, it did not happen
                raise redis.exceptions.ResponseError("TRYAGAIN before EXEC: %s" % e)
            conn.call("MULTI")
            conn.call("SET", key, n)
            r = conn.call("EXEC")
            if r is not None:
                assert r in ([b"OK"], [True]), r
                return n
        raise redis.exceptions.ResponseError("TRYAGAIN watched key kept changing")


class Expiring:
    """The TTL workload on keys t*: SET (plain, EX, PX), GET, EXPIRE,
    PERSIST, GETEX (PX or PERSIST). Values are unique ("V<n>") and never
    deleted by a client, so a key that disappears expired."""

    def __init__(self, nkeys=5, max_ttl_ms=3000):
        self.keys = ["t%d" % i for i in range(nkeys)]
        self.max_ttl_ms = max_ttl_ms
        self._lock = threading.Lock()
        self._n = 0

    def _unique(self):
        with self._lock:
            self._n += 1
            return "V%d" % self._n

    @staticmethod
    def is_read(f):
        return f == "get"

    def pick_op(self, rng, key):
        x = rng.random()
        ms = rng.randrange(100, self.max_ttl_ms)
        if x < 0.35:
            return "get", ("GET", key), None, None
        if x < 0.45:
            v = self._unique()
            return "set", ("SET", key, v), v, None
        if x < 0.55:
            v = self._unique()
            return "set", ("SET", key, v, "PX", ms), v, {"px": ms}
        if x < 0.62:
            v = self._unique()
            s = max(1, ms // 1000)
            return "set", ("SET", key, v, "EX", s), v, {"ex": s}
        if x < 0.74:
            s = max(1, ms // 1000)
            return "expire", ("EXPIRE", key, s), None, {"ex": s}
        if x < 0.82:
            return "persist", ("PERSIST", key), None, None
        if x < 0.92:
            return "getex", ("GETEX", key, "PX", ms), None, {"px": ms}
        return "getex", ("GETEX", key, "PERSIST"), None, {"persist": 1}

    @staticmethod
    def result(f, reply):
        if f in ("get", "getex"):
            return _text(reply)
        if f == "set":
            assert reply in (b"OK", True), reply
            return None
        return int(reply)


class Sets:
    """SADD/SREM/SMEMBERS on set keys s0..s2, members from a small pool
    (m0..m7), so members are added and removed again and again and SADD/SREM
    report both 0 and 1. Checked by lincheck's set model: an SADD/SREM's
    reply (1 changed, 0 not) and SMEMBERS's members, recorded sorted and
    joined by single spaces ("" for the empty set, which is the missing
    key)."""

    def __init__(self, nkeys=3, nmembers=8):
        self.keys = ["s%d" % i for i in range(nkeys)]
        self.members = ["m%d" % i for i in range(nmembers)]

    @staticmethod
    def is_read(f):
        return f == "smembers"

    def pick_op(self, rng, key):
        x = rng.random()
        if x < 0.4:
            return "smembers", ("SMEMBERS", key), None, None
        m = rng.choice(self.members)
        if x < 0.75:
            return "sadd", ("SADD", key, m), m, None
        return "srem", ("SREM", key, m), m, None

    @staticmethod
    def final_op(key):
        return "smembers", ("SMEMBERS", key)

    @staticmethod
    def result(f, reply):
        if f == "smembers":
            return " ".join(sorted(_text(m) for m in reply))
        return int(reply)


class Queue:
    """A work queue (README.md "queue"): producers LPUSH unique items
    "p<client>-<n>" to one of the keys q0..q2, consumers BRPOP all of them
    with a short timeout (0.5-1 s), in a loop; half the clients are each.
    An LPUSH is recorded as {:f :lpush, :key "q1", :value "p3-17"} with the
    list's length as its ok value; a BRPOP as {:f :brpop, :key "q0 q1 q2"}
    with "<key> <item>" (or nil, the timeout's null reply) as its result.
    BRPOP changes the queue, so its errors are classified as a write's. The
    final reads are LRANGE 0 -1, recorded as the items head first, joined by
    single spaces; checks.queue checks the whole."""

    def __init__(self, nkeys=3):
        self.keys = ["q%d" % i for i in range(nkeys)]

    def for_client(self, idx):
        return _QueueClient(self.keys, idx, producer=(idx % 2 == 0))

    @staticmethod
    def is_read(f):
        return f == "lrange"

    @staticmethod
    def final_op(key):
        return "lrange", ("LRANGE", key, 0, -1)

    @staticmethod
    def remaining(finals):
        """{key: [items, head first]} from the final reads' results."""
        return {k: (v.split() if v else []) for k, v in finals.items()}

    @staticmethod
    def result(f, reply):
        if f == "lrange":
            return " ".join(_text(x) for x in reply)
        if f == "brpop":
            return None if reply is None else "%s %s" % (_text(reply[0]), _text(reply[1]))
        return int(reply)


class _QueueClient(Queue):
    """One client's view of Queue: a producer or a consumer."""

    def __init__(self, keys, idx, producer):
        self.keys, self.idx, self.producer = keys, idx, producer
        self._n = 0

    def pick_op(self, rng, key):
        if self.producer:
            self._n += 1
            item = "p%d-%d" % (self.idx, self._n)
            return "lpush", ("LPUSH", key, item), item, None
        timeout = rng.choice(("0.5", "0.75", "1"))
        return "brpop", ("BRPOP",) + tuple(self.keys) + (timeout,), None, None

    def op_key(self, key):
        """The key recorded for an operation: a BRPOP waits on all of them."""
        return key if self.producer else " ".join(self.keys)

    def think(self, rng):
        """Producers pause 0-40 ms between pushes so consumers keep up and
        often wait on empty queues (a blocked BRPOP served by a later LPUSH);
        consumers go straight back to BRPOP."""
        return rng.uniform(0, 0.04) if self.producer else 0.0


class Evicting:
    """A cache under eviction (README.md "evict"): SET of unique values
    ("S<n>;" padded to about 200 bytes) and GET on keys e0..e15, with
    maxmemory at a third of what they would take and allkeys-lru, so the
    leader keeps evicting. Recorded as Registers' put and get; an eviction
    is a delete the cluster made, which lincheck must be told about: each
    node's keyspace notifications (`K$e`: "set" and "evicted" per key, in
    the order its log applies them) are recorded by a KeyEvents subscriber,
    and evictions() turns them into del operations with sound windows."""

    MAXMEMORY = 10 * (56 + 3 + 200)  # 10 x (KV_ACCT_KEY + key + value): 10 of the 16 keys fit
    SETUP = (("CONFIG", "SET", "notify-keyspace-events", "K$e"),
             ("CONFIG", "SET", "maxmemory-policy", "allkeys-lru"),
             ("CONFIG", "SET", "maxmemory", str(MAXMEMORY)))

    def __init__(self, nkeys=16, size=200):
        self.keys = ["e%d" % i for i in range(nkeys)]
        self.size = size
        self._lock = threading.Lock()
        self._n = 0

    def _unique(self):
        with self._lock:
            self._n += 1
            v = "S%d;" % self._n
        return v + "x" * max(0, self.size - len(v))

    @staticmethod
    def is_read(f):
        return f == "get"

    def pick_op(self, rng, key):
        if rng.random() < 0.5:
            return "get", ("GET", key), None, None
        v = self._unique()
        return "put", ("SET", key, v), v, None

    @staticmethod
    def think(rng):
        """0-10 ms between operations: fewer, so lincheck's search over the
        evictions' windows stays short."""
        return rng.uniform(0, 0.01)

    @staticmethod
    def final_op(key):
        return "get", ("GET", key)

    result = staticmethod(Registers.result)


class KeyEvents(threading.Thread):
    """One node's keyspace notifications for the workload's keys
    (PSUBSCRIBE __keyspace@0__:*), each recorded with the monotonic time it
    arrived: events is [(t_ns, key, event)]. A node applies the log in
    order and publishes at apply, so the stream is its log's order of
    changes; if the connection breaks (the node was killed), broken is set
    and the stream is not used (its gap would hide changes; stream_gap).
    nid: the node's id (set by the harness)."""

    def __init__(self, host, port):
        super().__init__(name="events-%s" % host, daemon=True)
        self.events, self.broken = [], None
        self.stop = threading.Event()
        self.c = redis.Connection(host=host, port=port, socket_timeout=5, socket_connect_timeout=2)
        self.c.connect()
        self.c.send_command("PSUBSCRIBE", "__keyspace@0__:*")
        reply = self.c.read_response()
        assert reply[0] in (b"psubscribe", "psubscribe"), reply

    def run(self):
        try:
            while not self.stop.is_set():
                if not self.c.can_read(timeout=0.1):
                    continue
                msg = self.c.read_response()
                t = time.monotonic_ns()
                if msg[0] in (b"pmessage", "pmessage"):
                    key = _text(msg[2]).split(":", 1)[1]
                    self.events.append((t, key, _text(msg[3])))
        except Exception as e:  # a killed node: this stream has a gap from here on
            self.broken = "%s: %s" % (type(e).__name__, e)
        finally:
            self.c.disconnect()


def stream_gap(broken, node_output):
    """Why one node's KeyEvents stream may lack changes its node applied (a
    reason), or None if the stream is whole. node_output: everything the
    node printed in the run (cluster.Node.log_text(): a "=== start" line
    before each start). A stream has a gap if
      - its connection broke (the node was killed: what it applied between
        the break and a new subscription is never seen);
      - the node started more than once (a restart applies again the entries
        after its last state commit, published to no one or twice);
      - the node installed a snapshot (server/pubsub.c: the entries the
        snapshot covers publish nothing there).
    Nothing else skips a change: a node publishes at apply, in log order,
    and a partition cuts only node-to-node traffic, never the subscriber's
    connection from 127.0.0.1 (README "Partitions")."""
    if broken:
        return "its connection broke (%s)" % broken
    starts = sum(1 for line in node_output.splitlines() if line.startswith("=== start "))
    if starts != 1:
        return "its node started %d times" % starts
    installs = installed_indexes(node_output)
    if installs:
        return "its node installed a snapshot (index %s)" % ", ".join(str(i) for i in installs)
    return None


def whole_streams(streams, barrier):
    """streams: {node id: (events, broken, node output)}, one per KeyEvents
    subscriber; barrier: the (key, event) every node published at one log
    position after the run (scenarios._barrier). Returns (whole, gaps):
    whole, the events of each stream without a gap (stream_gap) up to the
    barrier, by node id in order (all cover the same prefix of the log, so
    they must be identical); gaps, {node id: reason} of the others. A
    stream the barrier never reached is not whole: it may end early."""
    whole, gaps = [], {}
    for nid in sorted(streams):
        events, broken, output = streams[nid]
        gap = stream_gap(broken, output)
        cut = next((i for i, e in enumerate(events) if (e[1], e[2]) == barrier), None)
        if not gap and cut is None:
            gap = "the barrier never arrived"
        if gap:
            gaps[nid] = gap
        else:
            whole.append(events[:cut])
    return whole, gaps


def key_sequences(events):
    """{key: ["set", "evicted", ...]} of one stream."""
    out = {}
    for _, k, ev in events:
        out.setdefault(k, []).append(ev)
    return out


def evictions(streams, ops, keys=None):
    """The evictions the whole streams (whole_streams: no gap, cut at the
    same log position) show, as (key, t_lo, t_hi) windows in the history's
    monotonic ns, and the problems found (streams that disagree).

    Soundness. The eviction's effect is the commit of its entry, which no
    node applies before it happens: t_hi, the earliest arrival of its
    "evicted" event on any node, is after it. If m "set" events of key k
    precede the eviction in a stream, m SET entries of k were committed
    before it, each proposed for a distinct SET operation (the workload
    never repeats a value) after that operation was invoked: so at least m
    SET invocations of k precede the eviction, and t_lo, the m-th earliest
    invocation of a SET of k in the history, is before it. A SET recorded
    as fail did not happen (workload.classify: the same premise lincheck
    works on), so it is left out; unknown (info) ones are counted, which
    can only make t_lo earlier. The window [t_lo, t_hi] therefore holds the
    true effect; lincheck may place the delete anywhere in it.

    keys: only these (the harness writes keys of its own, __liveness__)."""
    problems = []
    if not streams:
        return [], ["no node's keyspace notifications covered the whole run"]
    if keys is not None:
        keys = set(keys)
        streams = [[e for e in s if e[1] in keys] for s in streams]
    seqs = [key_sequences(s) for s in streams]
    for other in seqs[1:]:
        if other != seqs[0]:
            bad = sorted(k for k in set(other) | set(seqs[0]) if other.get(k) != seqs[0].get(k))
            problems.append("nodes' keyspace events differ for keys %s" % bad[:5])
            return [], problems
    invokes = {}
    for o in ops:
        if o.f == "put" and o.type != FAIL:
            invokes.setdefault(o.key, []).append(o.t_invoke)
    for v in invokes.values():
        v.sort()
    # the j-th eviction of k in every stream: its count of sets before, and
    # its earliest arrival
    per_stream = []
    for s in streams:
        sets, evs = {}, {}
        for t, k, ev in s:
            if ev == "set":
                sets[k] = sets.get(k, 0) + 1
            elif ev == "evicted":
                evs.setdefault(k, []).append((sets.get(k, 0), t))
        per_stream.append(evs)
    out = []
    for k, lst in per_stream[0].items():
        for j, (m, t) in enumerate(lst):
            t_hi = min(ps[k][j][1] for ps in per_stream)
            inv = invokes.get(k, [])
            if m < 1 or m > len(inv):
                problems.append("key %s evicted after %d sets, but %d SETs were invoked" % (k, m, len(inv)))
                continue
            out.append((k, inv[m - 1], t_hi))
    return out, problems


def add_evictions(hist, windows):
    """Each window becomes a del of its own process (ok, result 1: the key
    existed), its invoke and completion at the window's ends."""
    for k, lo, hi in windows:
        hist.add_op(hist.new_process(), "del", k, lo, hi, 1)


CAS_SCRIPT = ("if redis.call('GET',KEYS[1])==ARGV[1] then redis.call('SET',KEYS[1],ARGV[2]) "
              "return 1 else return 0 end")


class Scripted:
    """A register per key x0..x2, changed by a Lua compare-and-set (EVAL of
    CAS_SCRIPT: SET to new when GET equals old; 1 swapped, 0 not) and by
    plain SETs, read by GET. Recorded as lincheck's :cas with the value
    expected in :old ({:f :cas, :key "x1", :old "S3;", :value "C9;"}), so
    lincheck's register model checks the scripts: a script is one log entry
    run at apply on every node, and its GET and SET are atomic. Every
    written value is unique; each client aims its swaps at the last value it
    saw of the key (its reads and its own writes), so many succeed and many
    do not. The script goes by EVAL half the time and by EVALSHA the other
    half (the body is cached by the first EVAL, and the cache is replicated
    state, so EVALSHA finds it on every node; a NOSCRIPT would be a
    failure, recorded as fail)."""

    def __init__(self, nkeys=3):
        self.keys = ["x%d" % i for i in range(nkeys)]
        self._lock = threading.Lock()
        self._n = 0
        import hashlib
        self.sha = hashlib.sha1(CAS_SCRIPT.encode()).hexdigest()

    def _unique(self, tag):
        with self._lock:
            self._n += 1
            return "%s%d;" % (tag, self._n)

    def for_client(self, idx):
        return _ScriptedClient(self)

    @staticmethod
    def is_read(f):
        return f == "get"

    @staticmethod
    def final_op(key):
        return "get", ("GET", key)

    @staticmethod
    def result(f, reply):
        if f == "get":
            return _text(reply)
        if f == "put":
            assert reply in (b"OK", True), reply
            return None
        assert reply in (0, 1), reply
        return int(reply)


class _ScriptedClient(Scripted):
    """One client's view of Scripted: remembers the last value it saw of
    each key, the value its next swap expects."""

    def __init__(self, shared):
        self.shared, self.keys, self.sha = shared, shared.keys, shared.sha
        self.last = {}
        self.cur = None

    def pick_op(self, rng, key):
        x = rng.random()
        self.cur = key
        if x < 0.35:
            return "get", ("GET", key), None, None
        if x < 0.5:
            v = self.shared._unique("S")
            self.cur = (key, v)
            return "put", ("SET", key, v), v, None
        old = self.last.get(key, "S0;")
        new = self.shared._unique("C")
        self.cur = (key, new)
        via = "eval" if rng.random() < 0.5 else "evalsha"
        if via == "eval":
            args = ("EVAL", CAS_SCRIPT, 1, key, old, new)
        else:
            args = ("EVALSHA", self.sha, 1, key, old, new)
        return "cas", args, new, {"old": old, "via": via}

    def result(self, f, reply):
        out = Scripted.result(f, reply)
        if f == "get":
            if out is not None:
                self.last[self.cur] = out
        elif f == "put" or out == 1:
            self.last[self.cur[0]] = self.cur[1]
        return out


def start_clients(n, cl, hist, workload, seed, timeout):
    stop = threading.Event()
    errors = []
    clients = [Client(i, cl, hist, workload, (seed * 1000003 + i) & 0xFFFFFFFF, stop, timeout, errors)
               for i in range(n)]
    for c in clients:
        c.start()
    return clients, stop, errors


def stop_clients(clients, stop, timeout):
    stop.set()
    deadline = time.monotonic() + timeout
    for c in clients:
        c.join(max(0.1, deadline - time.monotonic()))
    stuck = [c.name for c in clients if c.is_alive()]
    if stuck:
        raise RuntimeError("clients did not stop: %s" % stuck)
