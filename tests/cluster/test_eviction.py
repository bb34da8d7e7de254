"""maxmemory decided once, applied identically on every node (storage/
kvevict.c, server/evict.c): for each of the eight policies, a write load
of ten times maxmemory through the leader; the eviction policies never
answer -OOM and bring the accounted size back under maxmemory, volatile-*
never evict a key without an expiry, volatile-ttl evicts the nearest
expiries first, noeviction answers -OOM while DEL and reads work; after
each, every node holds the same key space at one applied index. While
the load runs, the accounted size stays within the README's bound: with
one connection pipelining P writes of b accounted bytes, maxmemory + 2 P b
(what the writes in flight when the leader last looked, and those applied
before its eviction entry, can add)."""
import redis

from conftest import wait_until
from test_snapshot import assert_same_keyspace

N = 2000            # keys written per policy
VALUE = b"v" * 100  # ~170 accounted bytes a key
MAXMEM = N * 170 // 10
PERSISTENT = 40     # keys without an expiry, for volatile-*
PIPELINE = 100
KEY_BYTES = 56 + len(b"k:1999") + len(VALUE)  # KV_ACCT_KEY + key + value: the largest of a load
OVERSHOOT = 2 * PIPELINE * KEY_BYTES  # README "Memory and eviction": the bound


def accounted(r):
    return int(r.info("memory")["raftkv_accounted_memory"])


def evicted(r):
    return int(r.info("stats")["evicted_keys"])


def load(r, prefix, n, ex=None, ttl_base=1000, peak=None):
    """Writes n keys in pipelines of PIPELINE; returns the error replies.
    peak: a list that gets the largest accounted size seen between
    pipelines."""
    errors = []
    for start in range(0, n, PIPELINE):
        p = r.pipeline(transaction=False)
        for i in range(start, min(n, start + PIPELINE)):
            if ex:
                p.set(b"%s:%d" % (prefix, i), VALUE, ex=ttl_base + i)
            else:
                p.set(b"%s:%d" % (prefix, i), VALUE)
        errors += [x for x in p.execute(raise_on_error=False) if isinstance(x, Exception)]
        if peak is not None:
            peak[0] = max(peak[0], accounted(r))
    return errors


def test_every_policy_keeps_the_cluster_within_maxmemory_and_identical(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    r = ld.client(socket_timeout=30)
    f = c.followers()[0]
    fr = f.client(socket_timeout=30)

    # Cluster-wide: set on a follower (forwarded), in force on every node.
    assert fr.config_set("maxmemory-samples", "8")
    for n in c.nodes:
        with n.client() as nr:
            wait_until(lambda: nr.config_get("maxmemory-samples")["maxmemory-samples"] == "8",
                       what="maxmemory-samples on node %d" % n.id)
    assert fr.config_get("maxmemory")["maxmemory"] == "0"

    for policy in ("allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru",
                   "volatile-lfu", "volatile-random", "volatile-ttl", "noeviction"):
        r.config_set("maxmemory", "0")
        r.flushall()
        assert accounted(r) == 0
        r.config_set("maxmemory-policy", policy)
        before = evicted(r)
        volatile = policy.startswith("volatile")
        if volatile:
            assert load(r, b"keep", PERSISTENT) == []
        r.config_set("maxmemory", str(MAXMEM))
        if policy == "noeviction":
            assert load(r, b"k", N // 20) == []
            assert load(r, b"k", N)  # past maxmemory: -OOM
            with pytest_raises_oom():
                r.set("one-more", "x")
            assert r.get(b"k:0") == VALUE  # reads work
            assert r.delete(b"k:0") == 1   # and DEL
            assert evicted(r) == before
        else:
            peak = [0]
            errors = load(r, b"k", N, ex=volatile, peak=peak)
            assert errors == [], "%s: %r" % (policy, errors[:3])
            print("%s: peak %d accounted bytes, maxmemory %d, bound %d" % (policy, peak[0], MAXMEM,
                                                                          MAXMEM + OVERSHOOT))
            assert peak[0] <= MAXMEM + OVERSHOOT, "%s: %d over maxmemory, bound %d" % (
                policy, peak[0] - MAXMEM, OVERSHOOT)
            wait_until(lambda: accounted(r) <= MAXMEM, timeout=20,
                       what="%s back under maxmemory" % policy)
            assert evicted(r) > before
            assert r.dbsize() < N
            if volatile:
                keep = r.mget([b"keep:%d" % i for i in range(PERSISTENT)])
                assert all(v == VALUE for v in keep), "%s evicted a key without a TTL" % policy
            if policy == "volatile-ttl":
                alive = [i for i in range(N) if r.exists(b"k:%d" % i)]
                assert alive and alive == list(range(alive[0], N)), \
                    "volatile-ttl left %d..%d with holes" % (alive[0], alive[-1])
        assert_same_keyspace(c)
    # Evictions counted from the state: the same on every node.
    counts = set()
    for n in c.nodes:
        with n.client() as nr:
            counts.add(evicted(nr))
    assert len(counts) == 1
    r.close()
    fr.close()


class pytest_raises_oom:
    def __enter__(self):
        return self

    def __exit__(self, t, e, tb):
        assert t is not None and issubclass(t, redis.exceptions.ResponseError), "no -OOM"
        assert str(e).endswith("command not allowed when used memory > 'maxmemory'."), str(e)
        return True


def test_a_leader_killed_while_evicting_leaves_every_node_the_same(make_cluster):
    """kill -9 of the leader in the middle of an eviction load: the new
    leader goes on evicting; no key is evicted on one node and kept on
    another, the restarted node included."""
    c = make_cluster(3)
    ld = c.leader()
    with ld.client(socket_timeout=30) as r:
        r.config_set("maxmemory-policy", "allkeys-lru")
        r.config_set("maxmemory", str(MAXMEM))
        assert load(r, b"a", N) == []
        assert evicted(r) > 0
    ld.kill()
    nl = c.leader()
    with nl.client(socket_timeout=30) as r:
        assert load(r, b"b", N) == []
        wait_until(lambda: accounted(r) <= MAXMEM, timeout=20, what="back under maxmemory")
    assert_same_keyspace(c)
    ld.start()
    assert_same_keyspace(c)
