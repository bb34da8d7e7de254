#!/usr/bin/python3
"""Differential runner: sends every script of redis-tests/scripts/ to a
redis-server and a raftkv-server and compares the replies byte for byte.

  /usr/bin/python3 diff_scripts.py [--proto 2|3] [--cluster] [--verbose] [--strict] [SCRIPT...]
  /usr/bin/python3 diff_scripts.py --redis-vs-redis [--proto 2|3] [SCRIPT...]

A script whose @requires names a command RaftKV's COMMAND LIST lacks is
skipped (and said so) unless --strict. --redis-vs-redis puts a second
redis-server in RaftKV's place: every script must pass that way, which shows
its annotations cover redis-server's own nondeterminism (a #! raftkv-says
line is then compared by shape).

With --proto 3 each script's connection starts with HELLO 3. With --cluster
the RaftKV side is the leader of a 3-node cluster (every write replicated
and committed by a majority before its reply) instead of a single server. Exit status 0
when every reply matches (or differs only where a #! annotation says so), 1
otherwise. #! known-bug lines are compared and reported as warnings.
"""
import argparse
import glob
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def approx_equal(a, b, tol):
    if a.kind != b.kind:
        return False
    if a.is_aggregate():
        return len(a.value) == len(b.value) and all(approx_equal(x, y, tol) for x, y in zip(a.value, b.value))
    if a.kind == ":":
        return abs(int(a.value) - int(b.value)) <= tol
    return a.raw == b.raw


def compare(notes, a, b):
    """True when the two replies agree under the line's annotations."""
    if "raftkv-says" in notes and compat.redis_vs_redis():
        return a.shape() == b.shape()
    if "raftkv-says" in notes:  # a deliberate difference, RaftKV's reply pinned
        want = compat.unescape(notes["raftkv-says"])
        if want.endswith(b"..."):  # a prefix
            return b.raw.startswith(want[:-3])
        return b.raw == want + b"\r\n"
    if "differs" in notes:
        return a.kind == b.kind
    if "ignore-value" in notes:
        return a.shape() == b.shape()
    if "approx" in notes:
        return approx_equal(a, b, int(notes["approx"] or "1"))
    if "unordered-pairs" in notes:
        return compat.canonical(a, True) == compat.canonical(b, True)
    if "unordered" in notes:
        return compat.canonical(a) == compat.canonical(b)
    return a.raw == b.raw


def show(raw, limit=600):
    s = repr(raw)
    return s if len(s) <= limit else s[:limit] + "...(%d bytes)" % len(raw)


class Pair:
    """One connection to each server, in the same protocol."""

    def __init__(self, servers, proto):
        self.servers = servers
        self.proto = proto
        self.conns = None
        self.connect()

    def connect(self):
        self.close()
        self.conns = [compat.Conn(s.host, s.port) for s in self.servers]
        hello = []
        if self.proto == 3:
            hello = [c.call("HELLO", "3") for c in self.conns]
            # HELLO's map holds the server's version and the client id.
            if hello[0].shape() != hello[1].shape():
                raise AssertionError("HELLO 3 shapes differ: %s vs %s" % (show(hello[0].raw), show(hello[1].raw)))
        return hello

    def close(self):
        for c in self.conns or []:
            c.close()
        self.conns = None

    def exchange(self, wire, n):
        """Sends wire to both servers and reads n replies from each."""
        out = []
        for c in self.conns:
            c.send(wire)
            out.append([c.read() for _ in range(n)])
        return out

    def settle(self, wire, n, replies, deadline_s=10.0):
        """#! settle: RaftKV's side sent again, alone, until its replies equal
        redis-server's or the deadline passes (an expiry that reaches RaftKV
        through a replicated entry, whose time a loaded machine stretches).
        Returns RaftKV's last replies."""
        mine = replies[1]
        end = time.monotonic() + deadline_s
        while [r.raw for r in mine] != [r.raw for r in replies[0]] and time.monotonic() < end:
            time.sleep(0.02)
            self.conns[1].send(wire)
            mine = [self.conns[1].read() for _ in range(n)]
        return mine

    def scan_all(self, extra):
        out = []
        for c in self.conns:
            cursor, keys, shapes, rounds = b"0", set(), set(), 0
            while True:
                r = c.call(b"SCAN", cursor, *extra)
                if r.kind != "*" or len(r.value) != 2:
                    return None, r
                shapes.add((r.value[0].kind, r.value[1].kind))
                cursor = r.value[0].value
                keys.update(x.value for x in r.value[1].value)
                rounds += 1
                if cursor == b"0":
                    break
                if rounds > 100000:
                    raise AssertionError("SCAN did not end after 100000 calls")
            out.append((keys, shapes))
        return out, None


class Report:
    def __init__(self):
        self.compared = 0
        self.failures = []
        self.warnings = []
        self.annotated = 0

    def check(self, script, step, notes, a, b):
        self.compared += 1
        if any(k in notes for k in ("differs", "raftkv-says", "ignore-value", "unordered", "unordered-pairs", "approx")):
            self.annotated += 1
        ok = compare(notes, a, b)
        where = "%s:%d: %s" % (os.path.basename(script), step.lineno, step.text)
        if "known-bug" in notes:
            if ok:
                self.warnings.append("%s\n    known-bug now matches (remove the annotation): %s" % (where, show(a.raw)))
            else:
                self.warnings.append("%s\n    KNOWN BUG (%s)\n    redis:  %s\n    raftkv: %s" %
                                     (where, notes["known-bug"], show(a.raw), show(b.raw)))
            return
        if not ok:
            self.failures.append("%s\n    redis:  %s\n    raftkv: %s" % (where, show(a.raw), show(b.raw)))


def missing_commands(path, have):
    """The commands a script's @requires names that are not in have."""
    need = [w for s in compat.parse_script(path) if s.op == "requires" for w in s.payload]
    return [w.decode() for w in need if w not in have]


def run_script(path, servers, proto, report, verbose):
    steps = [s for s in compat.parse_script(path) if s.op != "requires"]
    pair = Pair(servers, proto)
    try:
        flush = pair.exchange(compat.encode("FLUSHALL"), 1)
        if flush[0][0].raw != flush[1][0].raw:
            raise AssertionError("FLUSHALL differs: %r %r" % (flush[0][0].raw, flush[1][0].raw))
        for step in steps:
            notes = compat.parse_note(step.note)
            if ("only-resp2" in notes and proto != 2) or ("only-resp3" in notes and proto != 3):
                continue
            if step.op == "reconnect":
                pair.connect()
                continue
            if step.op == "sleep":
                time.sleep(step.payload)
                continue
            if verbose:
                print("  %s:%d %s" % (os.path.basename(path), step.lineno, step.text))
            if step.op == "scan":
                res, bad = pair.scan_all(step.payload)
                report.compared += 1
                where = "%s:%d: %s" % (os.path.basename(path), step.lineno, step.text)
                if bad is not None:
                    report.failures.append("%s\n    SCAN answered %s" % (where, show(bad.raw)))
                elif res[0] != res[1]:
                    report.failures.append("%s\n    redis keys:  %s\n    raftkv keys: %s" %
                                           (where, sorted(res[0][0]), sorted(res[1][0])))
                continue
            subs = step.payload if step.op == "pipeline" else [step]
            wire = b"".join(s.wire() for s in subs)
            n = sum(s.nreplies() for s in subs)
            try:
                replies = pair.exchange(wire, n)
                if step.op == "cmd" and "settle" in notes:
                    replies[1] = pair.settle(wire, n, replies)
            except (EOFError, OSError) as e:
                report.failures.append("%s:%d: %s\n    connection lost: %s" %
                                       (os.path.basename(path), step.lineno, step.text, e))
                pair.connect()
                continue
            k = 0
            for s in subs:
                sn = compat.parse_note(s.note)
                for _ in range(s.nreplies()):
                    report.check(path, s, sn, replies[0][k], replies[1][k])
                    k += 1
                if s.op == "cmd" and s.payload[0].upper() == b"QUIT":
                    pair.connect()
    finally:
        pair.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--proto", type=int, choices=(2, 3), default=2)
    ap.add_argument("--cluster", action="store_true", help="RaftKV side: the leader of a 3-node cluster")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--redis-vs-redis", action="store_true",
                    help="a second redis-server in RaftKV's place (self-check of the scripts' annotations)")
    ap.add_argument("--strict", action="store_true",
                    help="run a script even when RaftKV lacks a command its @requires names (and fail)")
    ap.add_argument("scripts", nargs="*")
    opts = ap.parse_args()
    scripts = opts.scripts or sorted(glob.glob(os.path.join(HERE, "scripts", "*.txt")))
    if not scripts:
        print("no scripts")
        return 1
    if opts.redis_vs_redis:
        if opts.cluster:
            ap.error("--redis-vs-redis and --cluster")
        os.environ["COMPAT_REDIS_VS_REDIS"] = "1"
    t0 = time.monotonic()
    redis_srv = compat.start_redis()
    if opts.cluster:
        # A generous election timeout: a leader change in the middle of a
        # script would answer -MOVED, which is not what is compared here,
        # and under ASan the 512 MB SETRANGE of 10_edge.txt stalls all three
        # nodes' event loops for 1.5-2 s at once.
        raftkv_srv = compat.start_raftkv_cluster(3, ["--follower-mode", "redirect"], election_timeout=3000,
                                                 heartbeat=100, request_timeout=15000)
        leader = raftkv_srv.leader()
    else:
        raftkv_srv = compat.start_raftkv()
    report = Report()
    skipped = []
    try:
        have = compat.command_names(raftkv_srv.host, raftkv_srv.port)
        for path in scripts:
            lacks = [] if opts.strict else missing_commands(path, have)
            if lacks:
                skipped.append(os.path.basename(path))
                print("%-28s SKIPPED: raftkv-server lacks %s (@requires; --strict runs it)" %
                      (os.path.basename(path), " ".join(lacks)))
                continue
            before = (report.compared, len(report.failures))
            run_script(path, [redis_srv, raftkv_srv], opts.proto, report, opts.verbose)
            print("%-28s %4d replies compared, %d failing" %
                  (os.path.basename(path), report.compared - before[0], len(report.failures) - before[1]))
            if not raftkv_srv.alive():
                report.failures.append("raftkv-server died during %s:\n%s" % (path, raftkv_srv.log()))
                break
            if opts.cluster and raftkv_srv.leader() is not leader:
                report.failures.append("the leader changed during %s" % path)
                break
    finally:
        san = raftkv_srv.sanitizer_report()
        bad = raftkv_srv.stop()
        redis_srv.stop()
    # a node must exit 0 (LeakSanitizer reports at exit)
    if not opts.cluster:
        bad = [] if bad == 0 else [1]
    if bad and compat.only_known_leak(raftkv_srv.log()):
        report.warnings.append("KNOWN BUG (README: LMDB spill list leaked per big write): raftkv-server "
                               "exited %s with only that LeakSanitizer report" % bad)
    elif bad:
        report.failures.append("raftkv-server (nodes %s) did not stop cleanly:\n%s" % (bad, raftkv_srv.log()))
    if san:
        report.failures.append("sanitizer report in raftkv-server's output:\n" + san)
    for w in report.warnings:
        print("WARNING " + w)
    for f in report.failures:
        print("FAIL " + f)
    print("RESP%d%s: %d scripts (%d skipped), %d replies compared (%d with a value annotation), %d warnings, "
          "%d failures, %.1fs" %
          (opts.proto, " (3-node cluster)" if opts.cluster else " (redis vs redis)" if opts.redis_vs_redis else "",
           len(scripts), len(skipped), report.compared, report.annotated, len(report.warnings), len(report.failures),
           time.monotonic() - t0))
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
