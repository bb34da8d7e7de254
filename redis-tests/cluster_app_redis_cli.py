#!/usr/bin/python3
"""The application of compat_redis_cli_cluster (run by cluster_failover.py):
every write and read is one `redis-cli -c -h <follower>` invocation, which
follows -MOVED to the leader. The leader is killed (and later restarted)
while the writes go on; an invocation whose output is not the expected
reply counts as an error and is retried, at most MAX_ATTEMPTS times per
operation. Bounds asserted: at most MAX_ERRORS failed invocations in all,
every operation succeeded, every acknowledged write reads back.

  /usr/bin/python3 cluster_app_redis_cli.py HOST:PORT
"""
import collections
import select
import subprocess
import sys
import time

REDIS_CLI = "/usr/bin/redis-cli"
MAX_ATTEMPTS = 40  # per operation, RETRY_S apart: ~8 s, several election timeouts
RETRY_S = 0.2
MAX_ERRORS = 30  # failed invocations over the whole run
BEFORE, AFTER_KILL, AFTER_RESTART = 100, 100, 50


class App:
    def __init__(self, hostport):
        self.host, self.port = hostport.rsplit(":", 1)
        self.errors = 0
        self.kinds = collections.Counter()
        self.worst = 1  # most attempts one operation needed
        self.acked = 0
        self.first_err = self.last_err = None

    def cli(self, *args):
        p = subprocess.run([REDIS_CLI, "-c", "-h", self.host, "-p", self.port] + list(args),
                           capture_output=True, timeout=30)
        return (p.stdout + p.stderr).decode("utf-8", "replace").strip()

    def op(self, want, *args):
        for attempt in range(1, MAX_ATTEMPTS + 1):
            out = self.cli(*args)
            if out == want:
                self.worst = max(self.worst, attempt)
                return
            self.errors += 1
            now = time.monotonic()
            self.first_err = self.first_err or now
            self.last_err = now
            kind = out.split(":")[0].split(" ")[0:2]
            self.kinds[" ".join(kind)] += 1
            print("  retry %d of %s: %r" % (attempt, " ".join(args), out[:200]), flush=True)
            time.sleep(RETRY_S)
        raise AssertionError("%s still failing after %d attempts" % (" ".join(args), MAX_ATTEMPTS))

    def write_next(self):
        i = self.acked
        self.op("OK", "SET", "k:%d" % i, "v:%d" % i)
        self.acked = i + 1
        if i % 5 == 4:  # read an earlier acknowledged write back
            j = (i * 7919) % self.acked
            self.op("v:%d" % j, "GET", "k:%d" % j)


def wait_line(app, word, then_writes):
    """Keeps writing until the controller says `word`, then writes
    then_writes more."""
    while True:
        r, _, _ = select.select([sys.stdin], [], [], 0)
        if r:
            line = sys.stdin.readline()
            if not line:
                raise AssertionError("controller went away")
            if line.split()[:1] == [word]:
                break
        app.write_next()
    for _ in range(then_writes):
        app.write_next()


def main():
    app = App(sys.argv[1])
    t0 = time.monotonic()
    for _ in range(BEFORE):
        app.write_next()
    print("KILL", flush=True)
    wait_line(app, "KILLED", AFTER_KILL)
    print("RESTART", flush=True)
    wait_line(app, "RESTARTED", AFTER_RESTART)
    # every acknowledged write, read back through redis-cli -c
    for i in range(0, app.acked, 97):
        app.op("v:%d" % i, "GET", "k:%d" % i)
    keys = ["k:%d" % i for i in range(app.acked)]
    out = app.cli("MGET", *keys).split("\n")
    assert out == ["v:%d" % i for i in range(app.acked)], "MGET of the acknowledged writes: %r" % out[:20]
    window = (app.last_err - app.first_err) if app.first_err else 0.0
    print("redis-cli -c: %d writes acknowledged, %d failed invocations (%s), at most %d attempts for one "
          "operation, errors within %.2fs, %.1fs" %
          (app.acked, app.errors, dict(app.kinds), app.worst, window, time.monotonic() - t0), flush=True)
    print("ACKED %d" % app.acked, flush=True)
    assert app.errors <= MAX_ERRORS, "%d errors > %d" % (app.errors, MAX_ERRORS)
    assert window <= 10.0, "errors over %.1fs" % window
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print("FAIL: %s" % e, flush=True)
        sys.exit(1)
