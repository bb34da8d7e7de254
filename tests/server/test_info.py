"""INFO as monitoring tools read it, and ROLE, on one node: which sections
each argument selects, commandstats / errorstats / latencystats after known
commands and errors, the error totals of stats, persistence, replication
and ROLE. Where Redis has the same thing, the test asks a reference
redis-server 7.0 the same questions and compares (RaftKV's own "Raft"
section aside)."""
import re

import pytest

import conftest
from conftest import IS_RAFTKV, wait_until

REDIS_BIN = "/usr/bin/redis-server"


class RefRedis(conftest.Server):
    """A plain redis-server beside the server under test."""

    def argv(self):
        return [REDIS_BIN, "--port", str(self.port), "--bind", self.host, "--dir", self.dir,
                "--save", "", "--appendonly", "no", "--daemonize", "no"]


@pytest.fixture
def reference():
    s = RefRedis()
    try:
        yield s.start()
    finally:
        s.cleanup()


def text(reply):
    return reply.decode() if isinstance(reply, bytes) else str(reply)


def headers(reply):
    return [line[2:] for line in text(reply).split("\r\n") if line.startswith("# ")]


def fields(reply):
    """name -> value of the lines of an INFO reply, in order."""
    d = {}
    for line in text(reply).split("\r\n"):
        if line and not line.startswith("#"):
            k, _, v = line.partition(":")
            d[k] = v
    return d


def kv(value):
    """'calls=1,usec=2' -> {'calls': '1', 'usec': '2'}"""
    return dict(p.split("=", 1) for p in value.split(","))


def without_raft(names):
    return [n for n in names if n != "Raft"]


SELECTIONS = [(), ("default",), ("all",), ("everything",), ("ALL",), ("Default",),
              ("server", "clients"), ("keyspace", "server"), ("default", "commandstats"),
              ("latencystats", "errorstats"), ("modules",), ("cluster",), ("commandstats",),
              ("no-such-section",), ("commandstats", "no-such"), ("all", "default"),
              ("replication", "REPLICATION"), ("persistence", "stats", "cpu")]


def test_section_selection_is_redis_s(server, reference):
    ours, ref = server.raw(), reference.raw()
    for args in SELECTIONS:
        got = headers(ours.call("INFO", *args))
        want = headers(ref.call("INFO", *args))
        assert without_raft(got) == want, (args, got, want)
    if IS_RAFTKV:  # RaftKV's section comes with the default ones and with all
        for args in [(), ("default",), ("all",), ("everything",), ("raft",)]:
            assert headers(ours.call("INFO", *args))[-1] == "Raft", args
        assert "Raft" not in headers(ours.call("INFO", "commandstats"))
        assert headers(ours.call("INFO", "modules")) == ["Modules"]
        assert ours.call("INFO", "modules") == b"# Modules\r\n"
        cl = fields(ours.call("INFO", "cluster"))
        assert cl["cluster_enabled"] == "0"  # standalone, as redis_mode says
        # the Raft numbers again, under names redis_exporter exports
        assert cl["cluster_raft_is_leader"] == "1" and cl["cluster_raft_peers"] == "0"
        assert all(k == "cluster_enabled" or k.startswith("cluster_raft_") for k in cl)


# Known commands and known errors, sent the same way to both servers.
SCRIPT = [
    ("SET", "a", "1"),
    ("SET", "s", "x"),
    ("GET", "a"),
    ("GET",),  # arity: rejected
    ("INCR", "s"),  # not an integer: failed (on RaftKV when its entry applies)
    ("INCR", "a"),
    ("LPUSH", "s", "v"),  # WRONGTYPE: failed
    ("NOSUCHCOMMAND", "x"),  # unknown: an error, no cmdstat
    ("MULTI",),
    ("NOSUCHEITHER",),
    ("EXEC",),  # EXECABORT
    ("CONFIG", "GET", "maxclients"),
]


def run_script(conn):
    conn.call("CONFIG", "RESETSTAT")
    for cmd in SCRIPT:
        conn.call(*cmd)


def test_commandstats_and_errorstats_match_redis(server, reference):
    ours, ref = server.raw(), reference.raw()
    run_script(ours)
    run_script(ref)
    got_cmd = fields(ours.call("INFO", "commandstats"))
    want_cmd = fields(ref.call("INFO", "commandstats"))
    for name in ("set", "get", "incr", "lpush", "config|get"):
        g, w = kv(got_cmd["cmdstat_" + name]), kv(want_cmd["cmdstat_" + name])
        assert list(g) == list(w) == ["calls", "usec", "usec_per_call", "rejected_calls",
                                      "failed_calls"]
        for k in ("calls", "rejected_calls", "failed_calls"):
            assert g[k] == w[k], (name, k, g, w)
        assert re.fullmatch(r"\d+\.\d\d", g["usec_per_call"]), g
    assert kv(got_cmd["cmdstat_get"])["rejected_calls"] == "1"
    assert kv(got_cmd["cmdstat_incr"])["failed_calls"] == "1"
    assert not any(k.startswith("cmdstat_nosuch") for k in got_cmd)
    got_err = fields(ours.call("INFO", "errorstats"))
    want_err = fields(ref.call("INFO", "errorstats"))
    assert got_err == want_err
    assert got_err["errorstat_WRONGTYPE"] == "count=1"
    assert got_err["errorstat_EXECABORT"] == "count=1"
    got_stats = fields(ours.call("INFO", "stats"))
    want_stats = fields(ref.call("INFO", "stats"))
    for k in ("total_error_replies", "unexpected_error_replies"):
        assert got_stats[k] == want_stats[k], k
    assert got_stats["total_error_replies"] == str(
        sum(int(kv(v)["count"]) for v in got_err.values()))


def test_latencystats_fields(server):
    c = server.raw()
    c.call("CONFIG", "RESETSTAT")
    for i in range(50):
        c.call("SET", "k%d" % i, "v")
        c.call("GET", "k%d" % i)
    lat = fields(c.call("INFO", "latencystats"))
    for name in ("set", "get"):
        v = kv(lat["latency_percentiles_usec_" + name])
        assert list(v) == ["p50", "p99", "p99.9"]
        p = [float(v[k]) for k in ("p50", "p99", "p99.9")]
        assert all(re.fullmatch(r"\d+\.\d{3}", v[k]) for k in v)
        assert p[0] <= p[1] <= p[2]
    assert "latency_percentiles_usec_hset" not in lat  # never called
    assert "Latencystats" not in headers(c.call("INFO"))
    assert "Latencystats" in headers(c.call("INFO", "all"))


def test_eventloop_pass_distribution(make_server):
    """INFO stats counts the event loop's passes by how long they kept it
    busy: a DEBUG SLEEP of 60 ms is one pass over 10 ms, in the 100 ms
    bucket, and the longest, its time counted as the command's step, and
    the log line breaks it down; CONFIG RESETSTAT clears them."""
    server = make_server("--enable-debug-command", "yes")
    c = server.raw()
    c.call("CONFIG", "RESETSTAT")
    for i in range(20):
        c.call("SET", "p%d" % i, "v")
    st = fields(c.call("INFO", "stats"))
    assert int(st["eventloop_passes"]) >= 20
    hist = kv(st["eventloop_pass_ms_hist"])
    assert list(hist) == ["le1", "le2", "le5", "le10", "le25", "le50", "le100", "le250", "gt250"]
    assert sum(int(v) for v in hist.values()) == int(st["eventloop_passes"])
    # From here only the sleep's pass may be slow: the SETs' log fsyncs,
    # slow on a busy disk, are counted before it and cleared.
    c.call("CONFIG", "RESETSTAT")
    before = 0
    c.call("DEBUG", "SLEEP", "0.06")
    st = fields(c.call("INFO", "stats"))
    hist = kv(st["eventloop_pass_ms_hist"])
    assert int(st["eventloop_passes_over_10ms"]) >= before + 1
    assert int(hist["le100"]) >= 1
    assert int(st["eventloop_pass_max_usec"]) >= 60000
    # where the slow passes went: the sleep is a command's, run from the
    # client's read callback or the pending commands
    slow = kv(st["eventloop_slow_pass_usec"])
    assert list(slow) == ["io", "commands", "raft", "flush", "apply", "log_write", "log_fsync",
                          "cron", "other"]
    assert int(slow["io"]) + int(slow["commands"]) >= 60000
    assert int(slow["apply"]) < 60000 and int(slow["log_fsync"]) < 60000
    assert re.search(r"passes over 10 ms in the last [\d.]+ s \(longest [\d.]+ ms: I/O [\d.]+, "
                     r"pending commands [\d.]+, raft [\d.]+", server.log())  # the first is logged
    c.call("CONFIG", "RESETSTAT")
    st = fields(c.call("INFO", "stats"))
    assert int(st["eventloop_passes_over_10ms"]) == 0
    assert int(st["eventloop_pass_max_usec"]) < 60000
    assert set(kv(st["eventloop_slow_pass_usec"]).values()) == {"0"}


def test_resetstat_clears_command_and_error_counts(server):
    c = server.raw()
    c.call("GET")
    c.call("SET", "x", "1")
    assert "cmdstat_set" in fields(c.call("INFO", "commandstats"))
    c.call("CONFIG", "RESETSTAT")
    cs = fields(c.call("INFO", "commandstats"))
    assert "cmdstat_set" not in cs and "cmdstat_get" not in cs
    assert fields(c.call("INFO", "errorstats")) == {}
    assert fields(c.call("INFO", "stats"))["total_error_replies"] == "0"


def test_persistence_fields(server):
    c = server.raw()
    p = fields(c.call("INFO", "persistence"))
    for k in ("loading", "async_loading", "rdb_changes_since_last_save", "rdb_bgsave_in_progress",
              "rdb_last_save_time", "rdb_last_bgsave_status", "aof_enabled",
              "aof_rewrite_in_progress", "aof_last_write_status"):
        assert k in p, k
    if not IS_RAFTKV:
        return
    assert p["aof_enabled"] == "1"  # the Raft log, fsynced before a write is answered
    c.call("SET", "k", "v")
    p = fields(c.call("INFO", "persistence"))
    assert int(p["raft_log_syncs"]) >= 1
    assert int(p["raft_log_last_sync_time"]) > 0
    # the state commits once writes pause: its durable index reaches the write
    applied = int(fields(c.call("INFO", "raft"))["raft_applied_index"])
    wait_until(lambda: int(fields(c.call("INFO", "persistence"))["raft_state_durable_index"])
               >= applied, what="the state to commit the write")
    p = fields(c.call("INFO", "persistence"))
    assert int(p["raft_state_commits"]) >= 1
    assert int(p["raft_state_last_commit_time"]) > 0
    assert p["rdb_changes_since_last_save"] == "0"
    # a clean stop committed everything: a restart counts no commit of its own
    assert server.stop() == 0
    server.restart()
    p = fields(server.raw().call("INFO", "persistence"))
    assert p["raft_state_commits"] == "0" and p["raft_state_last_commit_time"] == "0"
    assert int(p["raft_state_durable_index"]) >= applied


def test_replication_and_role_of_a_single_node(server, reference):
    ours, ref = server.raw(), reference.raw()
    ours.call("SET", "a", "1")
    got, want = fields(ours.call("INFO", "replication")), fields(ref.call("INFO", "replication"))
    assert list(got) == list(want)
    assert got["role"] == "master" and got["connected_slaves"] == "0"
    role = ours.call("ROLE")
    assert role[0] == b"master" and isinstance(role[1], int) and role[2] == []
    if IS_RAFTKV:  # offsets are log indexes: the SET is an entry
        assert role[1] >= 1 and int(got["master_repl_offset"]) == role[1]
    assert ref.call("ROLE") == [b"master", 0, []]
    assert ours.call("ROLE", "x") == ref.call("ROLE", "x")  # arity error, same text
