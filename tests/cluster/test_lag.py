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


WINDOW = 4 << 20  # server/limits.h RAFTKV_INFLIGHT_BYTES
VALUE = 40000


def peer_field(ld, f, field):
    return int(ld.raft()["raft_peer%d" % f.id][field])


def test_a_paused_follower_costs_the_leader_a_bounded_send_buffer(make_cluster):
    """Writes keep committing through the other follower while one is paused:
    the leader sends the paused one at most its byte window (4 MB) of entries,
    so its send buffer for that follower stays a few MB while far more is
    written (on main it held everything written, up to the 128 MB queue)."""
    c = make_cluster(3, args=ARGS)
    ld = c.leader(timeout=30)
    f = [n for n in c.nodes if n is not ld][0]
    r = ld.client(socket_timeout=30)
    r.set("warm", "v")
    wait_until(lambda: raft_int(f, "raft_applied_index") >= raft_int(ld, "raft_commit_index"), 30,
               "the follower to apply the warm-up")
    value = "v" * VALUE
    written = max_buffer = max_inflight = 0
    f.pause()
    try:
        t0 = time.monotonic()
        # Within the 5 s liveness timeout, so the paused follower stays connected.
        while written < (48 << 20) and time.monotonic() - t0 < 3.5:
            p = r.pipeline(transaction=False)
            for i in range(25):
                p.set("big:%d" % (written // VALUE + i), value)
            p.execute()
            written += 25 * VALUE
            max_buffer = max(max_buffer, peer_field(ld, f, "buffer"))
            max_inflight = max(max_inflight, peer_field(ld, f, "inflight"))
        assert peer_field(ld, f, "connected") == 1
    finally:
        f.resume()
    print("written %d max_inflight %d max_buffer %d" % (written, max_inflight, max_buffer))
    # Far more was written than the window and the kernel's socket buffers hold ...
    assert written >= 6 * WINDOW, written
    # ... yet no more than the window (plus one entry) was in flight to it, and the
    # buffers for it (queue and connection, doubled as they grow) stayed within 3 windows.
    assert 0 < max_inflight <= WINDOW + VALUE + 100, max_inflight
    assert max_buffer <= 3 * WINDOW, max_buffer
    wait_until(lambda: raft_int(f, "raft_applied_index") >= raft_int(ld, "raft_commit_index"), 60,
               "the follower to catch up")
    assert raft_int(ld, "raft_snapshots_sent") == 0
