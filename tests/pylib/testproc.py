"""What every Python harness of the test tiers needs to run real server
processes: polling with a deadline, ports, the child that dies with its test,
the server's output, and sanitizer reports in it. Shared by
tests/server/conftest.py, tests/cluster/conftest.py, tests/fault/cluster.py
and redis-tests/compat.py (each puts this folder on sys.path)."""
import ctypes
import os
import random
import signal
import socket
import time

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")

_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent():
    """preexec_fn: if the test process dies (ctest timeout, kill -9), the
    server gets SIGKILL instead of living on. PR_SET_PDEATHSIG fires when
    the *thread* that forked the child exits: start servers from the main
    thread."""
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def wait_until(cond, timeout, what="condition", interval=0.01, retry_on=(), error=AssertionError):
    """Polls cond() until it returns a true value (and returns it); the
    exceptions in retry_on count as "not yet". Past the deadline raises
    error, naming what was awaited and the last retried exception."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = cond()
            if v:
                return v
        except retry_on as e:  # an empty tuple catches nothing
            last = e
        if time.monotonic() > deadline:
            raise error("timed out after %.1fs waiting for %s%s" %
                        (timeout, what, " (last error: %r)" % last if last else ""))
        time.sleep(interval)


def port_is_free(port, host="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def pick_port(host="127.0.0.1"):
    """A free port below the ephemeral range (so outgoing client sockets never
    hold it), randomised per process so parallel test processes rarely meet;
    a collision is caught when the server fails to bind and start retries."""
    rng = random.Random(os.getpid() * 7919 + time.monotonic_ns())
    for _ in range(1000):
        port = rng.randrange(20000, 32000)
        if port_is_free(port, host):
            return port
    raise RuntimeError("no free port found")


def pick_ports(n, host="127.0.0.1"):
    ports = []
    while len(ports) < n:
        p = pick_port(host)
        if p not in ports:
            ports.append(p)
    return ports


def answers_ping(host, port):
    """True when an inline PING gets +PONG (or -NOAUTH: up, but a password
    is configured)."""
    try:
        s = socket.create_connection((host, port), timeout=1)
    except OSError:
        return False
    try:
        s.settimeout(2)
        s.sendall(b"PING\r\n")
        data = b""
        while not data.endswith(b"\r\n"):
            chunk = s.recv(256)
            if not chunk:
                return False
            data += chunk
        return data.startswith(b"+PONG") or data.startswith(b"-NOAUTH")
    except OSError:
        return False
    finally:
        s.close()


def read_text(path, offset=0, tail=None, missing=""):
    """A server's output file as text from byte offset on (only its last
    `tail` bytes when given); `missing` when it cannot be read."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return missing
    if tail is not None:
        data = data[-tail:]
    return data.decode("utf-8", "replace")


def sanitizer_excerpt(text, after=5000):
    """The first sanitizer report in text, with some context; "" if none."""
    for mark in SANITIZER_MARKS:
        i = text.find(mark)
        if i >= 0:
            return text[max(0, i - 200):i + after]
    return ""
