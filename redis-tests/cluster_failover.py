#!/usr/bin/python3
"""A cluster-aware client surviving a leader kill -9.

Starts a 3-node RaftKV cluster in follower-mode redirect and runs a client
program (the application) against it; the application drives the failover
through a line protocol on its stdout/stdin:

  app prints "KILL"        this script kill -9s the leader (by pid) and
                           answers "KILLED <node id>"
  app prints "RESTART"     this script restarts the killed node (same port
                           and data dir), waits until every node agrees on
                           one leader and answers "RESTARTED"
  app prints "ACKED <n>"   the app wrote k:0 .. k:<n-1> (value v:<i>) and
                           got OK for each; this script reads them all back
                           from the leader and from every node
  any other line           printed

The application keeps writing while a kill happens, counts the errors it
saw and the retries it needed, asserts its bounds and exits 0 on success.
This script fails when the app fails, never asks for both steps, a node
dies or reports a sanitizer error, or a node does not stop cleanly.

  /usr/bin/python3 cluster_failover.py [--timeout SEC] [--env K=V] -- CMD ARG...

In CMD, {seeds} becomes "host:port,host:port,host:port" (every node),
{follower} "host:port" of a follower (never the node killed first) and
{leader} "host:port" of the leader.
"""
import argparse
import os
import queue
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat  # noqa: E402


def read_lines(stream, q):
    for line in iter(stream.readline, b""):
        q.put(line.decode("utf-8", "replace").rstrip("\n"))
    q.put(None)


def follow_app(app, timeout, on_line):
    """Hands each line the application prints to on_line(line) until it
    closes its output, within timeout seconds (AssertionError past it);
    returns its exit status. The application is killed if it still runs."""
    lines = queue.Queue()
    threading.Thread(target=read_lines, args=(app.stdout, lines), daemon=True).start()
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("the application did not finish in %ds" % timeout)
            try:
                line = lines.get(timeout=min(left, 1.0))
            except queue.Empty:
                continue
            if line is None:
                break
            on_line(line)
        return app.wait(timeout=max(1, deadline - time.monotonic()))
    finally:
        if app.poll() is None:
            os.kill(app.pid, 9)
            app.wait()


def check_acked(cluster, n):
    """Every acknowledged write k:i = v:i is on the leader and, once applied,
    on every node."""
    keys = ["k:%d" % i for i in range(n)]
    want = [("v:%d" % i).encode() for i in range(n)]
    ld = cluster.leader()
    for nd in [ld] + [x for x in cluster.nodes if x is not ld]:
        def has_all():
            c = compat.Conn(nd.host, nd.port, timeout=10)
            try:
                c.call("READONLY")  # this node's own state: shows it caught up
                for i in range(0, n, 500):
                    r = c.call("MGET", *keys[i:i + 500])
                    got = [x.value for x in r.value]
                    if got != want[i:i + 500]:
                        return False
                return True
            finally:
                c.close()
        compat.wait_until(has_all, 30, "node %d to hold all %d acknowledged writes" % (nd.id, n), interval=0.1)


def run(cmd, timeout, env):
    t0 = time.monotonic()
    cluster = compat.start_raftkv_cluster(3, ["--follower-mode", "redirect"])
    ok, steps, killed, acked = False, [], None, None
    try:
        ld = cluster.leader()
        fl = [n for n in cluster.nodes if n is not ld][0]
        subst = {"{seeds}": ",".join("%s:%d" % (n.host, n.port) for n in cluster.nodes),
                 "{follower}": "%s:%d" % (fl.host, fl.port),
                 "{leader}": "%s:%d" % (ld.host, ld.port)}
        argv = []
        for a in cmd:
            for k, v in subst.items():
                a = a.replace(k, v)
            argv.append(a)
        print("cluster up in %.1fs: leader node %d (port %d), follower node %d (port %d)" %
              (time.monotonic() - t0, ld.id, ld.port, fl.id, fl.port), flush=True)
        app = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                               preexec_fn=compat._die_with_parent)

        def on_line(line):
            nonlocal killed, acked
            word = line.split()
            if word[:1] == ["KILL"]:
                victim = cluster.leader()
                t = time.monotonic()
                victim.kill()
                killed = victim
                steps.append("KILL")
                print("  [controller] kill -9 leader node %d (pid %d)" % (victim.id, victim.proc.pid), flush=True)
                app.stdin.write(b"KILLED %d\n" % victim.id)
                app.stdin.flush()
                nl = cluster.leader()
                print("  [controller] new leader node %d after %.2fs" % (nl.id, time.monotonic() - t), flush=True)
            elif word[:1] == ["RESTART"]:
                if killed is None:
                    raise AssertionError("RESTART before KILL")
                killed.start()
                cluster.leader()
                steps.append("RESTART")
                print("  [controller] node %d restarted (pid %d)" % (killed.id, killed.proc.pid), flush=True)
                app.stdin.write(b"RESTARTED\n")
                app.stdin.flush()
            else:
                if word[:1] == ["ACKED"]:
                    acked = int(word[1])
                print(line, flush=True)

        rc = follow_app(app, timeout, on_line)
        if rc != 0:
            raise AssertionError("the application failed (rc=%d)" % rc)
        if steps != ["KILL", "RESTART"]:
            raise AssertionError("the application asked for %s, not KILL then RESTART" % steps)
        if acked is None:
            raise AssertionError("the application never reported ACKED")
        dead = [n.id for n in cluster.nodes if not n.alive()]
        if dead:
            raise AssertionError("nodes died: %s\n%s" % (dead, cluster.log()))
        check_acked(cluster, acked)
        print("all %d acknowledged writes are on every node" % acked)
        ok = True
    except AssertionError as e:
        print("FAIL: %s" % e)
    finally:
        san = cluster.sanitizer_report()
        bad = cluster.stop()
    if san:
        print("FAIL: sanitizer report:\n" + san)
        ok = False
    if bad:
        print("FAIL: nodes %s did not stop cleanly:\n%s" % (bad, cluster.log()))
        ok = False
    print("%s in %.1fs" % ("ok" if ok else "FAILED", time.monotonic() - t0))
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    opts = ap.parse_args()
    cmd = opts.cmd[1:] if opts.cmd[:1] == ["--"] else opts.cmd
    if not cmd:
        ap.print_help()
        return 2
    return run(cmd, opts.timeout, dict(os.environ))


if __name__ == "__main__":
    sys.exit(main())
