"""A follower that falls behind while connected (issue 22): the leader keeps
the log above its match index (up to raft-log-keep-bytes) instead of
truncating it to raft-log-keep entries, so the follower catches up from the
log, not by a snapshot."""
import time

from conftest import wait_until

KEEP = 100
# A long election timeout is also a long peer liveness timeout: the paused
# follower stays connected, as a slow one does.
ARGS = ["--raft-log-keep", str(KEEP), "--election-timeout", "5000"]


def raft_int(n, field):
    return int(n.raft()[field])


def match_of(ld, f):
    return int(ld.raft()["raft_peer%d" % f.id]["match"])


def test_a_connected_follower_that_falls_behind_catches_up_from_the_log(make_cluster):
    c = make_cluster(3, args=ARGS)
    ld = c.leader(timeout=30)
    f = [n for n in c.nodes if n is not ld][0]
    r = ld.client(socket_timeout=30)
    for i in range(300):
        r.set("warm:%d" % i, "v")
    wait_until(lambda: raft_int(f, "raft_applied_index") >= raft_int(ld, "raft_commit_index"), 30,
               "the follower to apply the warm-up")
    for rnd in range(2):
        before = match_of(ld, f)
        f.pause()
        try:
            # One write per append message: more than the leader's 256
            # appends in flight, so it must read the rest from its log.
            t0 = time.monotonic()
            for i in range(1500):
                r.set("k:%d:%d" % (rnd, i), "x" * 100)
                if time.monotonic() - t0 > 3.0:  # within the 5 s liveness timeout
                    break
            behind = raft_int(ld, "raft_commit_index") - match_of(ld, f)
            # Let log GC run (every cron pass) while the follower is behind.
            time.sleep(0.3)
        finally:
            f.resume()
        assert match_of(ld, f) >= before
        assert behind > 3 * KEEP, behind  # it really fell behind by more than raft-log-keep
        wait_until(lambda: raft_int(f, "raft_applied_index") >= raft_int(ld, "raft_commit_index"), 30,
                   "the follower to catch up")
    # Caught up from the log: no snapshot went to it ...
    assert raft_int(ld, "raft_snapshots_sent") == 0
    assert raft_int(f, "raft_snapshots_installed") == 0
    # ... and log GC still runs once it has caught up.
    wait_until(lambda: raft_int(ld, "raft_first_index") > raft_int(ld, "raft_commit_index") - 5 * KEEP,
               30, "the leader's log to be truncated")
    with f.client() as fr:
        fr.execute_command("READONLY")
        assert fr.get("k:1:0") == b"x" * 100
