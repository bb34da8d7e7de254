"""Applying an entry depends on the state and the entry alone (DESIGN.md,
"Determinism and trust"): every runtime CONFIG key is changed on one
follower, a random workload of the string and key commands runs through
the leader and that follower, with strings grown past the follower's
proto-max-bulk-len by APPEND, SETRANGE and SETBIT, and then every node must
hold the same key space at one applied index."""
import os
import random
import sys


from test_snapshot import assert_same_keyspace

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "redis-tests"))
import diff_random  # noqa: E402  (redis-tests/diff_random.py: the random command generator)

# A value other than the default for every runtime key, each within what
# keeps the test's own clients working.
CHANGED = {
    "protected-mode": "no",
    "tcp-keepalive": "1",
    "timeout": "3600",
    "maxclients": "64",
    "proto-max-bulk-len": "1mb",
    "client-query-buffer-limit": "64mb",
    "client-output-buffer-limit": "normal 64mb 32mb 10",
    "lmdb-high-water": "99",
    "raft-request-timeout": "3000",
    "raft-log-keep": "10",
    "raft-log-keep-bytes": "1mb",
    "raft-snapshot-max-rate": "10mb",
    "follower-mode": "redirect",
    "read-mode": "lease",
    "loglevel": "verbose",
    "slowlog-log-slower-than": "0",
    "slowlog-max-len": "5",
    "latency-monitor-threshold": "1",
    "tracking-table-max-keys": "10",
    # The leader proposes the promotion of a caught-up learner; on a
    # follower it does nothing, and a promotion is an entry like any other.
    "learner-auto-promote": "5",
    "backup-dir": "/nonexistent/raftkv-backup",  # where BGSAVE writes: nothing applied reads it
    # TLS (server/tls.h): how clients connect, never what is applied. These
    # nodes have no tls-port, so any value is accepted (as in Redis).
    "tls-cert-file": "/nonexistent/node.crt",
    "tls-key-file": "/nonexistent/node.key",
    "tls-ca-cert-file": "/nonexistent/ca.crt",
    "tls-ca-cert-dir": "/nonexistent/ca",
    "tls-client-cert-file": "/nonexistent/client.crt",
    "tls-client-key-file": "/nonexistent/client.key",
    "tls-dh-params-file": "/nonexistent/dh.pem",
    "tls-auth-clients": "optional",
    "tls-protocols": "TLSv1.3",
    "tls-ciphers": "HIGH",
    "tls-ciphersuites": "TLS_AES_256_GCM_SHA384",
    "tls-prefer-server-ciphers": "yes",
    "tls-session-caching": "no",
    "tls-session-cache-size": "10",
    "tls-session-cache-timeout": "10",
    # Cluster-wide, set through the log (this follower is in redirect mode by
    # then, so it answers -MOVED; the leader sets it below): it changes what
    # every node publishes, never what any node stores.
    "notify-keyspace-events": "KEA",
    # The default user's password (ACL users are state: server/acl.h).
    "requirepass": "determinism-pw",
    "script-instruction-budget": "1000000",
    "script-max-memory": "16mb",
    # Fixed facts today (CONFIG SET accepts only their one value); once one
    # becomes a real setting it is changed here too.
    "save": "900 1",
    "appendonly": "no",
    # Cluster-wide, set through the log like notify-keyspace-events (the
    # follower answers -MOVED in redirect mode by then).
    "maxmemory": "100mb",
    "maxmemory-policy": "allkeys-lru",
    "maxmemory-samples": "7",
    "lfu-log-factor": "3",
    "lfu-decay-time": "2",
}


def runtime_keys(r):
    """The keys CONFIG SET accepts: each set to its own current value."""
    cur = r.config_get("*")
    keys = []
    for k, v in sorted(cur.items()):
        try:
            r.config_set(k, v)
            keys.append(k)
        except Exception:  # immutable: refused
            pass
    return keys


def test_no_runtime_setting_on_one_node_changes_what_it_applies(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    f = c.followers()[0]
    with f.client() as r:
        keys = runtime_keys(r)
        unknown = [k for k in keys if k not in CHANGED]
        assert not unknown, "runtime CONFIG keys this test does not change yet: %r" % unknown
        assert len(keys) >= 10
        changed = 0
        for k in keys:
            try:
                r.config_set(k, CHANGED[k])
                changed += 1
            except Exception:
                assert k in ("save", "appendonly", "maxmemory", "maxmemory-policy",
                             "maxmemory-samples", "lfu-log-factor", "lfu-decay-time",
                             "notify-keyspace-events", "requirepass",
                             "script-instruction-budget", "script-max-memory"), k
        assert changed >= 14
    with ld.client() as r:
        r.config_set("notify-keyspace-events", CHANGED["notify-keyspace-events"])
        r.config_set("requirepass", CHANGED["requirepass"])
    for n in c.nodes:
        n.password = CHANGED["requirepass"]
    with ld.client() as r:
        for k in ("script-instruction-budget", "script-max-memory"):
            r.config_set(k, CHANGED[k])
    with f.client() as r:
        assert r.config_get("proto-max-bulk-len")["proto-max-bulk-len"] == str(1 << 20)

    rng = random.Random(20261205)
    lr, fr = ld.client(), f.client()
    for step in range(3000):
        cmd = diff_random.gen_command(rng, list(diff_random.FAMILIES))
        target = fr if rng.random() < 0.3 else lr
        try:
            target.execute_command(*cmd)
        except Exception:  # errors and -MOVED are replies too; only the state matters here
            pass
        if step % 500 == 0:  # strings past the follower's 1 MB proto-max-bulk-len
            big = b"big%d" % step
            lr.execute_command("SETRANGE", big, 1100000 + step, b"x")
            lr.execute_command("APPEND", big, b"y" * 1000)
            lr.execute_command("SETBIT", b"bits%d" % step, 9000000 + step, 1)
    # one collection of each type for sure (the random keys end as whatever came last)
    for i, r in enumerate((lr,)):  # the follower redirects writes now
        r.hset("det:h%d" % i, mapping={"a": "1", "b": "2"})
        r.rpush("det:l%d" % i, "x", "y")
        r.sadd("det:s%d" % i, "p", "q")
        r.zadd("det:z%d" % i, {"m": 1.5, "n": -2})
        r.execute_command("SPOP", "det:s%d" % i)  # random at apply: the same on every node
    lr.close()
    fr.close()
    ref = assert_same_keyspace(c)
    assert any(len(v[0][1] or b"") > (1 << 20) for v in ref.values() if v[0][0] == b"string")
    assert {v[0][0] for v in ref.values()} >= {b"string", b"hash", b"list", b"set", b"zset"}
