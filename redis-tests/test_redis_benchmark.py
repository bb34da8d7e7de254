"""redis-benchmark (7.0) against raftkv-server: its default list, every row
of which must run clean.

redis-benchmark exits at the first error reply ("Error from server: ..."),
so the default list is run one test at a time (-t NAME), in the default
order, each to the end, and the test prints every row with its result:
against one node, and against a 3-node cluster through the leader and
through a follower (default follower mode, proxy: the follower forwards
each write to the leader and serves reads by ReadIndex). Then the whole
default list (no -t) with -P 16 against one node. After a row-by-row run
the keys the rows leave behind are checked (every INCR and every push
applied once, every pop removed what a push added). The row-by-row run and
its checks also run against redis-server 7.0, so the expected state is
Redis's own."""
import re
import subprocess

import pytest
import redis

import compat

REDIS_BENCHMARK = "/usr/bin/redis-benchmark"

# redis-benchmark 7.0's default test list, in its order (-t names).
DEFAULT_TESTS = ["ping_inline", "ping_mbulk", "set", "get", "incr", "lpush", "rpush", "lpop", "rpop", "sadd",
                 "hset", "spop", "zadd", "zpopmin", "lrange_100", "lrange_300", "lrange_500", "lrange_600", "mset"]
# The rows redis-benchmark prints for the default list (no -t), in order.
DEFAULT_ROWS = ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "LPUSH", "RPUSH", "LPOP", "RPOP", "SADD", "HSET",
                "SPOP", "ZADD", "ZPOPMIN", "LPUSH (needed to benchmark LRANGE)", "LRANGE_100 (first 100 elements)",
                "LRANGE_300 (first 300 elements)", "LRANGE_500 (first 500 elements)",
                "LRANGE_600 (first 600 elements)", "MSET (10 keys)"]
N = 2000          # requests per row against one node
N_CLUSTER = 1000  # per row against a cluster (each write is a Raft round)
ROW = re.compile(r"(?:^|\r|\n)([A-Z_0-9]+(?: \([^)]*\))?): ([0-9.]+|inf) requests per second")


def bench(host, port, n, *args):
    cmd = [REDIS_BENCHMARK, "-h", host, "-p", str(port), "-n", str(n), "-c", "20", "-q"] + list(args)
    p = subprocess.run(cmd, capture_output=True, timeout=240)
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


def run_rows(host, port, n):
    """Each row of the default list on its own; asserts that every one ran
    clean, and that the keys left behind are what n requests a row leave."""
    rows, bad = [], []
    for test in DEFAULT_TESTS:
        rc, out = bench(host, port, n, "-t", test)
        results = ROW.findall(out)
        errors = re.findall(r"Error from server: (.*)", out)
        if rc == 0 and results and not errors:
            rows.append("%-12s ran: %s" % (test, ", ".join("%s %s rps" % r for r in results)))
        else:
            rows.append("%-12s FAILED rc=%d: %s" % (test, rc, errors[0].strip() if errors else out[-500:]))
            bad.append(test)
    print("\n%s:%d, -n %d\n%s" % (host, port, n, "\n".join(rows)))
    assert not bad, "rows that did not run clean: %s\n%s" % (bad, "\n".join(rows))
    r = redis.Redis(host=host, port=port, socket_timeout=30)
    try:
        assert int(r.get("counter:__rand_int__")) == n  # every INCR applied once
        # LPUSH n + RPUSH n, then LPOP n + RPOP n: empty, the key deleted;
        # then each LRANGE row pushes n more first.
        assert r.llen("mylist") == 4 * n
        # values are redis-benchmark's payload: -d 3 random bytes a run
        assert [len(v) for v in r.lrange("mylist", 0, 1) + r.lrange("mylist", -1, -1)] == [3, 3, 3]
        assert r.hkeys("myhash") == [b"element:__rand_int__"]
        assert r.hstrlen("myhash", "element:__rand_int__") == 3
        assert r.exists("myset", "myzset") == 0  # SADD one member, SPOP n times; ZADD then ZPOPMIN
        assert len(r.get("key:__rand_int__")) == 3  # MSET's key
        assert sorted(r.keys()) == [b"counter:__rand_int__", b"key:__rand_int__", b"myhash", b"mylist"]
    finally:
        r.close()


@pytest.mark.parametrize("kind", ["raftkv", "redis"])
def test_default_list_row_by_row(request, kind):
    srv = request.getfixturevalue("raftkv" if kind == "raftkv" else "redis_ref")
    run_rows(srv.host, srv.port, N)


@pytest.fixture
def cluster():
    c = compat.start_raftkv_cluster(3)
    yield c
    san = c.sanitizer_report()
    bad = c.stop()
    assert san is None, "sanitizer report:\n" + san
    assert not bad, "nodes %s did not stop cleanly:\n%s" % (bad, c.log())


def every_node_applied(cluster, n):
    """Each node's own state (READONLY) reaches what the rows left on the
    leader: every write replicated and applied once everywhere."""
    def state(node):
        c = redis.Redis(host=node.host, port=node.port, socket_timeout=10)
        try:
            c.execute_command("READONLY")
            return c.get("counter:__rand_int__"), c.llen("mylist"), c.hlen("myhash"), c.dbsize()
        finally:
            c.close()
    want = (b"%d" % n, 4 * n, 1, 4)
    for node in cluster.nodes:
        compat.wait_until(lambda: state(node) == want, 30, "node %d to apply every row's writes" % node.id)


def test_default_list_row_by_row_cluster_leader(cluster):
    ld = cluster.leader()
    run_rows(ld.host, ld.port, N_CLUSTER)
    assert cluster.leader() is ld, "the leader changed during the run"
    every_node_applied(cluster, N_CLUSTER)


def test_default_list_row_by_row_cluster_follower(cluster):
    ld = cluster.leader()
    f = cluster.followers()[0]
    run_rows(f.host, f.port, N_CLUSTER)
    assert cluster.leader() is ld, "the leader changed during the run"
    every_node_applied(cluster, N_CLUSTER)


def test_default_list_pipelined(raftkv):
    rc, out = bench(raftkv.host, raftkv.port, N, "-P", "16")
    assert rc == 0, out[-2000:]
    assert "Error" not in out, out[-2000:]
    rows = [name for name, _ in ROW.findall(out)]
    print("\n-P 16: " + ", ".join(rows))
    assert rows == DEFAULT_ROWS, out[-2000:]
