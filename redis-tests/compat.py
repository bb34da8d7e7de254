"""Shared harness of the compat_ tier: start redis-server and raftkv-server,
a raw RESP reader that keeps the exact reply bytes, and the script format.

  RAFTKV_SERVER   path to raftkv-server (set by CMake)
  REDIS_SERVER    path to redis-server (default /usr/bin/redis-server)
  COMPAT_REDIS_VS_REDIS=1
                  start_raftkv() starts a second redis-server instead (the
                  runners' --redis-vs-redis): a self-check that a script's
                  annotations cover all of redis-server's nondeterminism,
                  and a way to write tests before RaftKV has the commands

Every server runs on a free port in its own temp dir, is stopped by pid
(SIGTERM, then SIGKILL after a deadline) and its temp dir removed; every
wait is a poll with a deadline.

start_raftkv() starts a one-member server; start_raftkv_cluster(n) starts n
raftkv-server processes as one Raft cluster (each its own port and data dir
under one temp dir) and waits for a leader every node agrees on. The
differential runners take any object with host/port, so they run against
cluster.leader() unchanged.
"""
import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "pylib"))
import testproc  # noqa: E402  (tests/pylib)
from testproc import pick_port, pick_ports  # noqa: E402

HOST = "127.0.0.1"
REDIS_SERVER = os.environ.get("REDIS_SERVER", "/usr/bin/redis-server")
START_DEADLINE = float(os.environ.get("RAFTKV_START_DEADLINE", "30"))
STOP_DEADLINE = 15.0

_die_with_parent = testproc.die_with_parent  # cluster_failover.py uses it too


def wait_until(cond, timeout, what, interval=0.01):
    return testproc.wait_until(cond, timeout, what, interval)


_live = []


def _stop_all():
    for s in list(_live):
        s.stop()


atexit.register(_stop_all)
# A SIGTERM from ctest's timeout still stops the servers (atexit runs on exit).
signal.signal(signal.SIGTERM, lambda *_: (_stop_all(), os._exit(143)))


class Server:
    """kind is 'redis' or 'raftkv'. host, port, pid are public."""

    def __init__(self, kind, extra_args=()):
        assert kind in ("redis", "raftkv")
        if kind == "raftkv" and not os.environ.get("RAFTKV_SERVER"):
            raise RuntimeError("RAFTKV_SERVER is not set (path to raftkv-server)")
        self.kind = kind
        self.host = HOST
        self.port = None
        self.proc = None
        self.extra = [str(a) for a in extra_args]
        self.root = tempfile.mkdtemp(prefix="compat-%s-" % kind)
        self.dir = os.path.join(self.root, "data")
        os.mkdir(self.dir)
        self.logpath = os.path.join(self.root, "server.log")

    def argv(self):
        if self.kind == "redis":
            return [REDIS_SERVER, "--save", "", "--appendonly", "no", "--port", str(self.port),
                    "--bind", HOST, "--daemonize", "no", "--dir", self.dir] + self.extra
        return [os.environ["RAFTKV_SERVER"], "--port", str(self.port), "--bind", HOST, "--dir", self.dir] + self.extra

    def _answers_ping(self):
        return testproc.answers_ping(HOST, self.port)

    def start(self):
        for _ in range(8):
            self.port = pick_port()
            log = open(self.logpath, "ab")
            if self not in _live:
                _live.append(self)  # from here on, stop() cleans up
            try:
                self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, cwd=self.root,
                                             start_new_session=True, preexec_fn=_die_with_parent)
            except OSError:
                self.stop()
                raise
            finally:
                log.close()
            deadline = time.monotonic() + START_DEADLINE
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break  # port clash, most likely: try another port
                if self._answers_ping():
                    return self
                time.sleep(0.01)
            else:
                self.stop()
                raise AssertionError("%s did not answer PING in %.0fs:\n%s" % (self.kind, START_DEADLINE, self.log()))
        self.stop()
        raise AssertionError("%s exited at start:\n%s" % (self.kind, self.log()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM by pid, wait with a deadline, SIGKILL; removes the temp dir.
        Returns the exit status (None if it had to be killed)."""
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                os.kill(self.proc.pid, signal.SIGTERM)
                try:
                    rc = self.proc.wait(timeout=STOP_DEADLINE)
                except subprocess.TimeoutExpired:
                    os.kill(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(timeout=STOP_DEADLINE)
            else:
                rc = self.proc.returncode
        if self in _live:
            _live.remove(self)
        self.saved_log = self.log()
        shutil.rmtree(self.root, ignore_errors=True)
        return rc

    def log(self):
        return testproc.read_text(self.logpath, tail=8000, missing=getattr(self, "saved_log", ""))

    def sanitizer_report(self):
        text = self.log()
        return text if testproc.sanitizer_excerpt(text) else None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def start_redis():
    return Server("redis").start()


def redis_vs_redis():
    return os.environ.get("COMPAT_REDIS_VS_REDIS", "") not in ("", "0")


def start_raftkv(extra_args=()):
    if redis_vs_redis():
        return Server("redis").start()
    return Server("raftkv", extra_args).start()


def command_names(host, port):
    """The lower-case names a server lists in COMMAND LIST."""
    c = Conn(host, port)
    try:
        r = c.call("COMMAND", "LIST")
    finally:
        c.close()
    if r.kind != "*":
        raise AssertionError("COMMAND LIST answered %r" % r.raw)
    return {x.value.lower() for x in r.value}


# ------------------------------------------------------------- RESP reader


class Reply:
    """One reply: raw holds its exact bytes; kind is its type byte ('+',
    '-', ':', '$', '*', '%', '~', '>', '_', ',', '#', '(', '=', '!', '|');
    value is bytes for scalars (None for nil) and a list of Reply for
    aggregates (a map's keys and values interleaved)."""

    __slots__ = ("raw", "kind", "value")

    def __init__(self, raw, kind, value):
        self.raw, self.kind, self.value = raw, kind, value

    def is_aggregate(self):
        return self.kind in "*%~>|" and self.value is not None

    def shape(self):
        """Type tree without scalar contents (for ignore-value)."""
        if self.is_aggregate():
            return (self.kind, tuple(x.shape() for x in self.value))
        return (self.kind, self.value is None)

    def __repr__(self):
        return repr(self.raw)


def canonical(r, pairs=False):
    """A reply with every aggregate sorted (#! unordered in the scripts,
    unordered replies in diff_random.py). A map is sorted by its key/value
    pairs; with pairs (#! unordered-pairs) so is a flat array of an even
    number of scalars (HGETALL, HSCAN's fields and values, ZRANGE ...
    WITHSCORES in RESP2), so a field stays with its value."""
    if r.is_aggregate():
        flat = all(not x.is_aggregate() for x in r.value) and len(r.value) % 2 == 0
        if r.kind == "%" or (pairs and flat and r.kind in "*~"):
            items = [(canonical(r.value[i], pairs), canonical(r.value[i + 1], pairs))
                     for i in range(0, len(r.value), 2)]
            return (r.kind, tuple(sorted(items)))
        return (r.kind, tuple(sorted(canonical(x, pairs) for x in r.value)))
    return (r.kind, r.value if r.value is not None else b"\0nil")


class Conn:
    def __init__(self, host, port, timeout=20.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise EOFError("server closed the connection")
        if self.pos:
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += chunk

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                out = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return out
            self._fill()

    def _exact(self, n):
        while len(self.buf) - self.pos < n:
            self._fill()
        out = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return out

    def read(self):
        return self._read(None)

    def _read(self, parts):
        line = self._line()
        raw = [line + b"\r\n"]
        kind = chr(line[0]) if line else "?"
        rest = line[1:]
        if kind in "$!=":
            n = int(rest)
            if n < 0:
                return Reply(b"".join(raw), kind, None)
            data = self._exact(n + 2)
            raw.append(data)
            return Reply(b"".join(raw), kind, data[:-2])
        if kind in "*%~>|":
            n = int(rest)
            if n < 0:
                return Reply(b"".join(raw), kind, None)
            count = n * 2 if kind in "%|" else n
            items = [self._read(parts) for _ in range(count)]
            raw.extend(x.raw for x in items)
            if kind == "|":  # an attribute precedes the real reply
                real = self._read(parts)
                raw.append(real.raw)
                return Reply(b"".join(raw), real.kind, real.value)
            return Reply(b"".join(raw), kind, items)
        if kind == "_":
            return Reply(b"".join(raw), kind, None)
        if kind in "+-:,#(":
            return Reply(b"".join(raw), kind, rest)
        raise AssertionError("unparseable reply line %r" % line)

    def call(self, *args):
        self.send(encode(*args))
        return self.read()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a).encode()
        elif isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


# ---------------------------------------------------------- script format


class ScriptError(Exception):
    pass


def split_args(text):
    """Splits one script line into (args, annotation). Arguments are
    separated by blanks; "double quotes" take the escapes \\n \\r \\t \\\\
    \\" and \\xHH (any byte, e.g. \\x00); 'single quotes' are literal (\\'
    for a quote). An unquoted word beginning with #! starts the annotation,
    which runs to the end of the line. Returns bytes arguments."""
    args = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t":
            i += 1
        if i >= n:
            return args, None
        if text.startswith("#!", i):
            return args, text[i + 2:].strip()
        cur = bytearray()
        while i < n and text[i] not in " \t":
            c = text[i]
            if c == '"':
                i += 1
                while True:
                    if i >= n:
                        raise ScriptError("unbalanced double quote")
                    c = text[i]
                    if c == '"':
                        i += 1
                        break
                    if c == "\\" and i + 1 < n:
                        e = text[i + 1]
                        if e == "x" and i + 3 < n:
                            cur.append(int(text[i + 2:i + 4], 16))
                            i += 4
                            continue
                        cur += {"n": b"\n", "r": b"\r", "t": b"\t", "0": b"\0"}.get(e, e.encode())
                        i += 2
                        continue
                    cur += c.encode()
                    i += 1
            elif c == "'":
                i += 1
                while True:
                    if i >= n:
                        raise ScriptError("unbalanced single quote")
                    c = text[i]
                    if c == "\\" and i + 1 < n and text[i + 1] == "'":
                        cur += b"'"
                        i += 2
                        continue
                    if c == "'":
                        i += 1
                        break
                    cur += c.encode()
                    i += 1
            else:
                cur += c.encode()
                i += 1
        args.append(bytes(cur))


def unescape(text):
    """The bytes of a double-quoted-style escaped string (no quotes)."""
    args, _ = split_args('"' + text.replace('"', '\\"') + '"')
    return args[0]


class Step:
    """One unit of a script: a command, raw bytes, a pipeline, a scan.
    op: 'cmd' (payload=args), 'inline' (payload=the text sent as is plus
    CRLF), 'raw' (payload=(bytes, number of replies)), 'pipeline'
    (payload=list of Step), 'scan' (payload=extra SCAN args), 'sleep'
    (payload=seconds). note: the #! annotation or None."""

    def __init__(self, op, payload, note, lineno, text):
        self.op, self.payload, self.note, self.lineno, self.text = op, payload, note, lineno, text

    def wire(self):
        if self.op == "cmd":
            return encode(*self.payload)
        if self.op == "inline":
            return self.payload + b"\r\n"
        if self.op == "raw":
            return self.payload[0]
        raise AssertionError(self.op)

    def nreplies(self):
        return self.payload[1] if self.op == "raw" else 1


ANNOTATIONS = ("differs", "raftkv-says", "unordered", "unordered-pairs", "ignore-value", "known-bug", "only-resp2",
               "only-resp3", "approx", "settle")


def parse_note(note):
    """'differs: reason' -> {'differs': 'reason'}. Several annotations are
    each introduced by #! (e.g. '#! only-resp3 #! differs: id')."""
    if note is None:
        return {}
    out = {}
    for part in note.split("#!"):
        part = part.strip()
        if not part:
            continue
        key, _, reason = part.partition(":")
        key = key.strip()
        if key not in ANNOTATIONS:
            raise ScriptError("unknown annotation %r (known: %s)" % (key, ", ".join(ANNOTATIONS)))
        out[key] = reason.strip()
    return out


def parse_script(path):
    """Script lines: a command in inline syntax (see split_args), or a
    directive:
      @inline TEXT        TEXT is sent as an inline command, verbatim
      @raw N "BYTES"      BYTES (escapes allowed) sent as is; N replies read
      @pipeline ... @end  the lines between are written at once, then all
                          replies are read and compared one by one
      @scan [MATCH p] [COUNT n] [TYPE t]
                          a full SCAN iteration on each server; the union
                          of keys is compared, and each cursor's reply shape
      @sleep SECONDS      both servers wait (expiry tests)
      @reconnect          new connections (after QUIT or a protocol error)
      @requires CMD...    the script needs these commands: the runner
                          skips it (and says so) when RaftKV's COMMAND LIST
                          lacks one, unless --strict
    Blank lines and lines starting with # are skipped; a trailing #! ...
    annotates the line (see README.md)."""
    steps = []
    pipe = None
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for lineno, line in enumerate(lines, 1):
        text = line.strip()
        if not text or (text.startswith("#") and not text.startswith("#!")):
            continue
        try:
            if text.startswith("@inline "):
                body = text[len("@inline "):]
                note = None
                k = body.find(" #!")
                if k >= 0:
                    body, note = body[:k], body[k + 3:].strip()
                step = Step("inline", body.encode(), note, lineno, text)
            elif text.startswith("@raw "):
                args, note = split_args(text[len("@raw "):])
                if len(args) != 2:
                    raise ScriptError("@raw N \"BYTES\"")
                step = Step("raw", (args[1], int(args[0])), note, lineno, text)
            elif text == "@pipeline":
                if pipe is not None:
                    raise ScriptError("nested @pipeline")
                pipe = Step("pipeline", [], None, lineno, text)
                continue
            elif text == "@end":
                if pipe is None:
                    raise ScriptError("@end without @pipeline")
                steps.append(pipe)
                pipe = None
                continue
            elif text.startswith("@scan"):
                args, note = split_args(text[len("@scan"):])
                step = Step("scan", args, note, lineno, text)
            elif text.startswith("@requires "):
                step = Step("requires", [w.lower().encode() for w in text.split()[1:]], None, lineno, text)
            elif text == "@reconnect":
                step = Step("reconnect", None, None, lineno, text)
            elif text.startswith("@sleep "):
                step = Step("sleep", float(text.split()[1]), None, lineno, text)
            elif text.startswith("@"):
                raise ScriptError("unknown directive")
            else:
                args, note = split_args(text)
                if not args:
                    raise ScriptError("no command")
                step = Step("cmd", args, note, lineno, text)
            parse_note(step.note)
        except (ScriptError, ValueError) as e:
            raise ScriptError("%s:%d: %s: %s" % (path, lineno, e, text))
        if pipe is not None:
            if step.op not in ("cmd", "inline", "raw"):
                raise ScriptError("%s:%d: only commands inside @pipeline" % (path, lineno))
            pipe.payload.append(step)
        else:
            steps.append(step)
    if pipe is not None:
        raise ScriptError("%s: @pipeline without @end" % path)
    return steps


# ------------------------------------------------------------- a cluster

CLUSTER_SECRET = "compat-secret"


def info(host, port, section=None, timeout=2.0):
    """INFO [section] as a dict (one short connection)."""
    c = Conn(host, port, timeout=timeout)
    try:
        r = c.call("INFO", section) if section else c.call("INFO")
    finally:
        c.close()
    if r.kind not in "$=" or r.value is None:
        raise AssertionError("INFO answered %r" % r.raw)
    out = {}
    text = r.value.decode("utf-8", "replace")
    if r.kind == "=":
        text = text[4:]  # verbatim "txt:"
    for line in text.split("\r\n"):
        if ":" in line and not line.startswith("#"):
            k, _, v = line.partition(":")
            out[k] = v
    return out


class ClusterNode:
    """One member: host, port, id, pid are public. start() may be called
    again after kill() (same port, same data dir)."""

    def __init__(self, cluster, nid, port):
        self.cluster, self.id, self.host, self.port = cluster, nid, HOST, port
        self.kind = "raftkv"
        self.dir = os.path.join(cluster.root, "n%d" % nid)
        self.logpath = os.path.join(cluster.root, "n%d.log" % nid)
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def argv(self):
        c = self.cluster
        return [os.environ["RAFTKV_SERVER"], "--node-id", str(self.id), "--cluster", c.spec,
                "--cluster-secret", CLUSTER_SECRET, "--bind", HOST, "--port", str(self.port),
                "--dir", self.dir, "--election-timeout", str(c.election_timeout),
                "--heartbeat-interval", str(c.heartbeat), "--raft-request-timeout",
                str(c.request_timeout)] + c.extra

    def start(self, wait=True):
        log = open(self.logpath, "ab")
        try:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=self.cluster.root,
                                         start_new_session=True, preexec_fn=_die_with_parent)
        finally:
            log.close()
        if wait:
            wait_until(lambda: self._check_alive() and Server._answers_ping(self), START_DEADLINE,
                       "node %d to answer PING" % self.id)
        return self

    def _check_alive(self):
        if not self.alive():
            raise AssertionError("node %d exited (rc=%s):\n%s" % (self.id, self.proc.returncode, self.log()))
        return True

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL by pid (kill -9), reaped."""
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=STOP_DEADLINE)

    def pause(self):
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self):
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                os.kill(self.proc.pid, signal.SIGCONT)
                os.kill(self.proc.pid, signal.SIGTERM)
                try:
                    rc = self.proc.wait(timeout=STOP_DEADLINE)
                except subprocess.TimeoutExpired:
                    os.kill(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(timeout=STOP_DEADLINE)
            else:
                rc = self.proc.returncode
        return rc

    def raft(self):
        return info(self.host, self.port, "raft")

    def log(self):
        return testproc.read_text(self.logpath, tail=8000)

    def sanitizer_report(self):
        text = self.log()
        return text if testproc.sanitizer_excerpt(text) else None


class RaftkvCluster:
    """n raftkv-server nodes on loopback. host/port/alive()/log()/
    sanitizer_report() describe the leader found by start() (so a cluster
    can stand in for a Server in the differential runners); stop() stops
    every node by pid and removes the temp dir."""

    kind = "raftkv"

    def __init__(self, n=3, extra_args=(), election_timeout=500, heartbeat=50, request_timeout=2000):
        if not os.environ.get("RAFTKV_SERVER"):
            raise RuntimeError("RAFTKV_SERVER is not set (path to raftkv-server)")
        self.root = tempfile.mkdtemp(prefix="compat-cluster-")
        self.extra = [str(a) for a in extra_args]
        self.election_timeout, self.heartbeat, self.request_timeout = election_timeout, heartbeat, request_timeout
        self.nodes = [ClusterNode(self, i + 1, p) for i, p in enumerate(pick_ports(n))]
        self.spec = ",".join("%d=%s:%d" % (nd.id, HOST, nd.port) for nd in self.nodes)
        self.host, self.port = HOST, None
        self._leader = None

    def start(self):
        _live.append(self)
        for nd in self.nodes:
            nd.start(wait=False)
        for nd in self.nodes:
            wait_until(lambda: nd._check_alive() and Server._answers_ping(nd), START_DEADLINE,
                       "node %d to answer PING" % nd.id)
        self._leader = self.leader()
        self.port = self._leader.port
        return self

    def node(self, nid):
        return self.nodes[nid - 1]

    def leader(self, timeout=30.0):
        """The one live node that says it leads, once every live node agrees."""
        def find():
            live = [n for n in self.nodes if n.alive()]
            try:
                views = [(n, n.raft()) for n in live]
            except (OSError, EOFError, AssertionError):
                return None
            leaders = [n for n, v in views if v.get("raft_role") == "leader"]
            if len(leaders) != 1:
                return None
            if all(v.get("raft_leader_id") == str(leaders[0].id) for _, v in views):
                return leaders[0]
            return None
        return wait_until(find, timeout, "a leader all live nodes agree on", interval=0.02)

    def followers(self):
        ld = self.leader()
        return [n for n in self.nodes if n is not ld and n.alive()]

    # A Server look-alike (the leader found at start).
    def alive(self):
        return all(n.alive() for n in self.nodes)

    def log(self):
        if not os.path.isdir(self.root):
            return getattr(self, "saved_log", "")
        return "\n".join("--- node %d (port %d)%s\n%s" % (n.id, n.port, "" if n.alive() else " DEAD", n.log())
                         for n in self.nodes)

    def sanitizer_report(self):
        reps = [r for r in (n.sanitizer_report() for n in self.nodes) if r]
        return "\n".join(reps) if reps else None

    def stop(self):
        """Stops every node by pid; returns the list of nodes that did not
        exit 0 (empty when all stopped cleanly)."""
        bad = []
        for n in self.nodes:
            was_alive = n.alive()
            rc = n.stop()
            if was_alive and rc != 0:
                bad.append(n.id)
        if self in _live:
            _live.remove(self)
        self.saved_log = self.log()
        shutil.rmtree(self.root, ignore_errors=True)
        return bad

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def start_raftkv_cluster(n=3, extra_args=(), **kw):
    """n nodes (follower-mode and more in extra_args), started, a leader
    elected; stop() with .stop()."""
    c = RaftkvCluster(n, extra_args, **kw)
    try:
        return c.start()
    except BaseException:
        c.stop()
        raise


# A known bug (redis-tests/README.md "Known bugs"): every state write
# transaction in which LMDB spilled dirty pages (a value of hundreds of MB)
# leaks its 1 MB spill list (mdb_midl_alloc), reported by LeakSanitizer at
# exit. A stop that failed for that alone is a warning, not a failure.
def only_known_leak(log_text):
    if "ERROR: LeakSanitizer" not in log_text or "ERROR: AddressSanitizer:" in log_text:
        return False
    if "runtime error:" in log_text:
        return False
    blocks = log_text.split("leak of ")[1:]
    return bool(blocks) and all("in mdb_midl_alloc" in b.split("\n\n")[0] for b in blocks)


# ---------------------------------------------------------------- scenarios

def logs_agree(name, redis_log, raftkv_log):
    """True when two sides' step logs are equal; otherwise prints FAIL name
    and the two logs side by side, differing steps marked !!."""
    if redis_log == raftkv_log:
        return True
    print("FAIL %s" % name)
    for i in range(max(len(redis_log), len(raftkv_log))):
        x = redis_log[i] if i < len(redis_log) else None
        y = raftkv_log[i] if i < len(raftkv_log) else None
        mark = "  " if x == y else "!!"
        print("%s redis:  %r\n%s raftkv: %r" % (mark, x, mark, y))
    return False


def flushall(port):
    c = Conn("127.0.0.1", port)
    c.call("FLUSHALL")
    c.close()


def scenario_main(scenarios, run_scenario, reset=flushall, cluster=False, after=None,
                  after_cluster=None):
    """The command line of the scenario runners (diff_watch.py,
    diff_tracking.py, diff_acl.py): --redis-vs-redis, -k TEXT (only
    scenarios whose name holds it) and, when cluster is true, --cluster.
    Starts redis-server and RaftKV (one node; with --cluster, when
    after_cluster is None, the leader of 3 nodes), resets both with
    reset(port) before each (name, conns, steps) scenario, runs
    run_scenario(name, conns, steps, redis_port, raftkv_port) -> bool, then
    after(raftkv_port) -> bool when given (not with --redis-vs-redis or -k);
    RaftKV's sanitizer report fails the run. With --cluster and
    after_cluster, the scenarios run on one node and after_cluster() -> bool
    runs last, on its own cluster. Returns the exit status."""
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--redis-vs-redis", action="store_true")
    if cluster:
        ap.add_argument("--cluster", action="store_true")
    ap.add_argument("-k", default=None, help="only scenarios whose name contains this")
    args = ap.parse_args()
    with_cluster = cluster and args.cluster
    if args.redis_vs_redis:
        os.environ["COMPAT_REDIS_VS_REDIS"] = "1"
    t0 = time.time()
    ok = True
    r = start_redis()
    k = None
    try:
        if with_cluster and after_cluster is None and not redis_vs_redis():
            k = start_raftkv_cluster(3)
        else:
            k = start_raftkv()
        for name, conns, steps in scenarios:
            if args.k and args.k not in name:
                continue
            reset(r.port)
            reset(k.port)
            good = run_scenario(name, conns, steps, r.port, k.port)
            ok &= good
            if good:
                print("ok %s" % name)
        if after and not args.redis_vs_redis and not args.k:
            ok &= after(k.port)
    finally:
        r.stop()
        if k:
            k.stop()
            rep = k.sanitizer_report() if hasattr(k, "sanitizer_report") else None
            if rep:
                print("FAIL sanitizer report:\n%s" % rep)
                ok = False
    if with_cluster and after_cluster and not args.redis_vs_redis:
        ok &= after_cluster()
    print("%s in %.1f s" % ("PASS" if ok else "FAIL", time.time() - t0))
    return 0 if ok else 1
