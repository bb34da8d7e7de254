"""Black-box harness for the single-node server.

The same tests run against raftkv-server or a real redis-server, which is how
the tests themselves are checked: every test passes against redis-server.

  RAFTKV_SERVER       path to the server binary
  RAFTKV_SERVER_KIND  redis | raftkv  (default: raftkv when RAFTKV_SERVER is
                      set, else redis with /usr/bin/redis-server)

Each test gets its own server process on its own port and temp dir; at
teardown the server is stopped by pid (SIGTERM, then SIGKILL after a
deadline), and a server that died during a test it did not kill itself fails
that test.

What the suite assumes of raftkv-server (redis-server's names and behaviour):
  argv      raftkv-server [file.conf] --port P --bind 127.0.0.1 --dir D [...]
            (the command line wins over the file; a quoted value with spaces
            in the file; one argv word may hold several words of a value)
  keys      port, bind, dir, requirepass, maxclients, proto-max-bulk-len
            (bytes or 2mb units, CONFIG GET answers in bytes), loglevel
            (debug|verbose|notice|warning, CONFIG SET at run time), logfile,
            client-output-buffer-limit "normal <hard> <soft> <secs>";
            CONFIG GET save / appendonly / port / dir / maxclients
  ready     answers an inline PING with +PONG (or -NOAUTH) once it serves
  stop      SIGTERM and SHUTDOWN exit 0 with every acknowledged write kept;
            after SIGKILL a restart on the same dir and port has them all
Known, deliberate differences (marked per kind in the tests): SELECT 1 is an
error on RaftKV (one database); CLIENT SETINFO exists only on RaftKV (Redis
7.2 command, redis-server here is 7.0).
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest
import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import testproc  # noqa: E402  (tests/pylib)
from testproc import pick_port  # noqa: E402

SERVER_BIN = os.environ.get("RAFTKV_SERVER") or ""
KIND = os.environ.get("RAFTKV_SERVER_KIND") or ("raftkv" if SERVER_BIN else "redis")
if KIND not in ("redis", "raftkv"):
    raise RuntimeError("RAFTKV_SERVER_KIND must be redis or raftkv, not %r" % KIND)
if KIND == "redis" and not SERVER_BIN:
    SERVER_BIN = "/usr/bin/redis-server"
if KIND == "raftkv" and not SERVER_BIN:
    raise RuntimeError("RAFTKV_SERVER_KIND=raftkv needs RAFTKV_SERVER=<path to raftkv-server>")

IS_REDIS = KIND == "redis"
IS_RAFTKV = KIND == "raftkv"

HOST = "127.0.0.1"
# Sanitizer builds start and answer more slowly; deadlines, not sleeps.
START_DEADLINE = float(os.environ.get("RAFTKV_START_DEADLINE", "30"))
STOP_DEADLINE = 15.0


def wait_until(cond, timeout=10.0, interval=0.01, what="condition"):
    """Polls cond() until it returns a true value or the deadline passes."""
    return testproc.wait_until(cond, timeout, what, interval)


# --------------------------------------------------------------- RESP client


class Status(str):
    """A simple string reply (+...)."""


class Error(str):
    """An error reply (-... or RESP3 !...)."""


class Double(float):
    """A RESP3 double (,...)."""


class Verbatim(bytes):
    fmt = b""


class Push(list):
    pass


class RSet(list):
    pass


class Map(dict):
    pass


class Raw:
    """A raw socket to the server that writes bytes and parses RESP2/RESP3
    replies, keeping the exact bytes of each reply when asked."""

    def __init__(self, host, port, timeout=10.0, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self._rec = None

    # -- io
    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise EOFError("server closed the connection")
        self.buf += chunk

    def _take(self, n):
        out = bytes(self.buf[:n])
        del self.buf[:n]
        if self._rec is not None:
            self._rec.append(out)
        return out

    def read_line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                return self._take(i + 2)[:-2]
            self._fill()

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        return self._take(n)

    # -- replies
    def read_reply(self):
        line = self.read_line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return Status(rest.decode("utf-8", "replace"))
        if t == b"-":
            return Error(rest.decode("utf-8", "replace"))
        if t == b":":
            return int(rest)
        if t == b"(":
            return int(rest)
        if t == b",":
            return Double(float(rest))
        if t == b"#":
            return rest == b"t"
        if t == b"_":
            return None
        if t in (b"$", b"!", b"="):
            n = int(rest)
            if n < 0:
                return None
            data = self.read_exact(n + 2)[:-2]
            if t == b"!":
                return Error(data.decode("utf-8", "replace"))
            if t == b"=":
                v = Verbatim(data[4:])
                v.fmt = data[:3]
                return v
            return data
        if t in (b"*", b"~", b">"):
            n = int(rest)
            if n < 0:
                return None
            items = [self.read_reply() for _ in range(n)]
            return {b"*": list, b"~": RSet, b">": Push}[t](items)
        if t == b"%":
            n = int(rest)
            m = Map()
            for _ in range(n):
                k = self.read_reply()
                if isinstance(k, list):
                    k = tuple(k)
                m[k] = self.read_reply()
            return m
        raise AssertionError("unparseable reply line %r" % line)

    def read_reply_raw(self):
        """The exact bytes of the next whole reply."""
        self._rec = []
        try:
            self.read_reply()
            return b"".join(self._rec)
        finally:
            self._rec = None

    def call(self, *args):
        self.send(encode(*args))
        return self.read_reply()

    def call_raw(self, *args):
        self.send(encode(*args))
        return self.read_reply_raw()

    def expect_closed(self, timeout=10.0):
        """Reads until EOF (or reset) within the deadline; returns whatever
        unread bytes came before it."""
        deadline = time.monotonic() + timeout
        data = bytes(self.buf)
        self.buf = bytearray()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("connection still open after %.1fs; got %r" % (timeout, data[:200]))
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 16)
            except ConnectionResetError:
                return data
            except socket.timeout:
                continue
            if not chunk:
                return data
            data += chunk

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


# ------------------------------------------------------------------- server


class Server:
    """One server process. host, port, pid, dir (its data dir) are public;
    it unpacks as (host, port, pid, dir)."""

    def __init__(self, args=(), conf=None):
        self.host = HOST
        self.port = None
        self.proc = None
        self.args = [str(a) for a in args]
        self.root = tempfile.mkdtemp(prefix="raftkv-srv-")
        self.dir = os.path.join(self.root, "data")
        os.mkdir(self.dir)
        self.conf = None
        if conf is not None:  # a redis.conf-syntax file, passed first
            self.conf = os.path.join(self.root, "server.conf")
            with open(self.conf, "w") as f:
                f.write(conf)
        self.logpath = os.path.join(self.root, "server.log")
        self._clients = []
        self._raws = []
        self.expect_dead = False

    def __iter__(self):
        return iter((self.host, self.port, self.pid, self.dir))

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def argv(self):
        a = [SERVER_BIN] + ([self.conf] if self.conf else [])
        a += ["--port", str(self.port), "--bind", self.host, "--dir", self.dir]
        if IS_REDIS:
            a += ["--save", "", "--appendonly", "yes", "--appendfsync", "always", "--daemonize", "no"]
        return a + self.args

    def _spawn(self):
        log = open(self.logpath, "ab")
        try:
            self.proc = subprocess.Popen(
                self.argv(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.root, start_new_session=True, preexec_fn=testproc.die_with_parent)
        finally:
            log.close()
        deadline = time.monotonic() + START_DEADLINE
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if self.ready():
                return True
            time.sleep(0.01)
        self.kill()
        raise AssertionError("server did not answer PING within %.0fs; log:\n%s" % (START_DEADLINE, self.log()))

    def ready(self):
        """The server serves (polled at start)."""
        return testproc.answers_ping(self.host, self.port)

    def start(self):
        """Starts on a fresh port; retries on a port clash."""
        for _ in range(8):
            self.port = pick_port()
            if self._spawn():
                return self
        raise AssertionError("server exited at start (rc=%s); log:\n%s" % (self.proc.returncode, self.log()))

    def restart(self):
        """Starts again on the same port and dir (after stop() or kill())."""
        assert self.proc is None or self.proc.poll() is not None, "server still running"
        deadline = time.monotonic() + START_DEADLINE
        while True:
            if self._spawn():
                self.expect_dead = False
                return self
            if time.monotonic() > deadline:
                raise AssertionError("server did not restart (rc=%s); log:\n%s" % (self.proc.returncode, self.log()))
            time.sleep(0.1)  # port still held by the previous process

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL by pid and reap."""
        self.expect_dead = True
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
        self._close_clients()
        if self.proc is not None:
            self.proc.wait(timeout=STOP_DEADLINE)

    def stop(self):
        """SIGTERM by pid, wait with a deadline, then SIGKILL. Returns the
        exit status of a graceful stop, or None if it had to be killed."""
        self.expect_dead = True
        self._close_clients()
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            return self.proc.returncode
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout=STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=STOP_DEADLINE)
            return None

    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read()[-8000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def client(self, **kw):
        kw.setdefault("socket_timeout", 30)
        c = redis.Redis(host=self.host, port=self.port, **kw)
        self._clients.append(c)
        return c

    def raw(self, **kw):
        r = Raw(self.host, self.port, **kw)
        self._raws.append(r)
        return r

    def _close_clients(self):
        for c in self._clients:
            try:
                c.connection_pool.disconnect()
            except Exception:
                pass
        for r in self._raws:
            r.close()
        self._clients, self._raws = [], []

    def cleanup(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def make_server():
    """make_server(*args, conf=None) starts a server with extra '--key value'
    args, and with conf (text) as its config file when given; cls (a Server
    subclass, given its own keyword arguments) starts another kind."""
    servers = []

    def make(*args, conf=None, cls=None, **kw):
        s = (cls or Server)(args, conf=conf, **kw)
        servers.append(s)
        return s.start()

    yield make
    died = []
    for s in servers:
        if not s.expect_dead and not s.alive():
            died.append("server pid %s exited (rc=%s) during the test; log:\n%s"
                        % (s.pid, s.proc.returncode, s.log()))
        if s.alive():
            rc = s.stop()
            if IS_RAFTKV and rc != 0:
                died.append("server pid %s did not stop cleanly on SIGTERM (rc=%s); log:\n%s"
                            % (s.pid, rc, s.log()))
        report = sanitizer_report(s.logpath)
        if report:
            died.append("sanitizer report from server pid %s:\n%s" % (s.pid, report))
        s.cleanup()
    if died:
        pytest.fail("\n".join(died))


def sanitizer_report(path):
    """The sanitizer output in a server's stderr, across its restarts."""
    return testproc.sanitizer_excerpt(testproc.read_text(path), after=6000)


@pytest.fixture
def server(make_server):
    """A fresh server: (host, port, pid, dir) plus helpers."""
    return make_server()


@pytest.fixture
def r(server):
    """A redis-py client (bytes replies) to a fresh server."""
    return server.client()


@pytest.fixture
def raw(server):
    return server.raw()
