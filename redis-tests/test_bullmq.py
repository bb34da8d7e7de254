#!/usr/bin/python3
"""BullMQ itself (npm's bullmq@5: Lua scripts, streams for its events,
BZPOPMIN for its worker's wait) on a 3-node RaftKV cluster in proxy mode,
through a leader kill -9: node/bullmq_app.js adds jobs with a Queue,
processes them with a Worker and counts completions with QueueEvents (XREAD
BLOCK), all through a follower; this script kill -9s the leader when the
app says KILL. Passes when every job was processed exactly once, completed,
and its completion event seen, and no node reported a sanitizer error.

The package is installed, when missing, into COMPAT_NODE_DIR/bullmq (the
build dir; never global, never in the repository) under a lock."""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_failover  # noqa: E402
import compat  # noqa: E402
import run_node  # noqa: E402

PACKAGES = ["bullmq@5"]
APP_TIMEOUT = 150


def main():
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        print("FAIL: node or npm not found")
        return 1
    prefix = os.path.join(os.environ.get("COMPAT_NODE_DIR") or os.path.join(os.getcwd(), "compat-node"), "bullmq")
    if not run_node.ensure_packages(prefix, PACKAGES):
        return 1
    env = dict(os.environ, NODE_PATH=os.path.join(prefix, "node_modules"))
    app_js = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node", "bullmq_app.js")
    t0 = time.monotonic()
    cluster = compat.start_raftkv_cluster(3, ["--follower-mode", "proxy"])
    ok, result, killed = False, None, False
    try:
        ld = cluster.leader()
        fl = [n for n in cluster.nodes if n is not ld][0]
        print("cluster up: leader node %d, the app on follower node %d" % (ld.id, fl.id), flush=True)
        app = subprocess.Popen([node, app_js, "%s:%d" % (fl.host, fl.port)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                               preexec_fn=compat._die_with_parent)

        def on_line(line):
            nonlocal killed, result
            if line == "KILL":
                victim = cluster.leader()
                if victim is fl:
                    raise AssertionError("the app's follower became the leader before the kill")
                victim.kill()
                killed = True
                print("  [controller] kill -9 leader node %d" % victim.id, flush=True)
                app.stdin.write(b"KILLED\n")
                app.stdin.flush()
                print("  [controller] new leader node %d" % cluster.leader().id, flush=True)
            else:
                if line.startswith("RESULT "):
                    result = json.loads(line[7:])
                print(line, flush=True)

        rc = cluster_failover.follow_app(app, APP_TIMEOUT, on_line)
        if not killed:
            raise AssertionError("the application never asked for the kill")
        if rc != 0 or not result:
            raise AssertionError("the application failed (rc=%d): %r" % (rc, result))
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
        print("FAIL: nodes %s did not stop cleanly" % bad)
        ok = False
    print("%s in %.1fs" % ("ok" if ok else "FAILED", time.monotonic() - t0))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
