"""TLS in a 3-node cluster (issue 20): clients that speak only TLS to every
node, through writes a follower forwards, and through a leader kill -9.
Certificates are made per module with the openssl CLI (tests/pylib)."""
import os
import shutil
import sys
import tempfile

import pytest
import redis

from conftest import wait_until

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import testproc  # noqa: E402  (tests/pylib)
import tlscerts  # noqa: E402


@pytest.fixture(scope="module")
def certs():
    d = tempfile.mkdtemp(prefix="raftkv-tls-")
    try:
        yield tlscerts.make_set(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def tls_args(certs, name="server"):
    return ["--tls-cert-file", certs[name]["cert"], "--tls-key-file", certs[name]["key"],
            "--tls-ca-cert-file", certs["ca"]["cert"]]


def tls_client(certs, port, **kw):
    kw.setdefault("socket_timeout", 10)
    return redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=certs["ca"]["cert"],
                       ssl_certfile=certs["client"]["cert"], ssl_keyfile=certs["client"]["key"],
                       ssl_cert_reqs="required", **kw)


def tls_role(certs, node):
    with tls_client(certs, node.tls_port) as c:
        return c.info("raft").get("raft_role")


def test_clients_use_tls_only_on_a_3_node_cluster(make_cluster, certs):
    cl = make_cluster(3, args=tls_args(certs), start=False)
    for nd, p in zip(cl.nodes, testproc.pick_ports(3)):
        nd.tls_port = p
        nd.extra = ["--tls-port", str(p)]
    cl.start()
    leader = cl.leader()
    followers = [n for n in cl.nodes if n is not leader]
    lc = tls_client(certs, leader.tls_port)
    assert lc.set("from-leader", "1")
    fc = tls_client(certs, followers[0].tls_port)
    assert fc.set("from-follower", "2")  # forwarded to the leader
    assert fc.incr("n") == 1
    for nd in cl.nodes:
        with tls_client(certs, nd.tls_port) as c:
            wait_until(lambda: c.get("from-follower") == b"2", what="node %d to apply" % nd.id)
            assert c.get("from-leader") == b"1"
    lc.close()

    leader.kill()
    alive = [n for n in cl.nodes if n.alive()]
    new = wait_until(lambda: next((n for n in alive if tls_role(certs, n) == "leader"), None),
                     timeout=30, what="a new leader")
    with tls_client(certs, new.tls_port) as c:
        wait_until(lambda: c.set("after-failover", "3"), what="a write on the new leader")
    for n in alive:
        with tls_client(certs, n.tls_port) as c:
            wait_until(lambda: c.get("after-failover") == b"3", what="node %d to apply" % n.id)
            assert c.get("n") == b"1"
    fc.close()


# ------------------------------------------------------------ tls-cluster yes


def tls_kw(certs, ca="ca"):
    return dict(ssl=True, ssl_ca_certs=certs[ca]["cert"], ssl_certfile=certs["client"]["cert"],
                ssl_keyfile=certs["client"]["key"], ssl_cert_reqs="required")


def tls_cluster(make_cluster, certs, extra=(), start=True):
    """Three nodes whose `cluster` ports are their tls-ports, peers over
    mutual TLS, no plain port: every client and peer speaks TLS."""
    return make_cluster(3, args=tls_args(certs) + ["--tls-cluster", "yes", "--port", "0"] + list(extra),
                        client_kw=tls_kw(certs), start=start)


def info(nd):
    return nd.raft()


def settled(c):
    """Every live node has applied what the leader has committed."""
    ld = c.leader()
    target = int(info(ld)["raft_commit_index"])
    for n in c.nodes:
        if n.alive():
            wait_until(lambda: int(info(n)["raft_applied_index"]) >= target, 60,
                       "node %d to apply %d" % (n.id, target))


def test_tls_cluster_replicates_forwards_fails_over_and_installs_snapshots(make_cluster, certs):
    c = tls_cluster(make_cluster, certs, extra=["--raft-log-keep", "10"])
    ld = c.leader()
    for n in c.nodes:  # no plain-text port at all
        with pytest.raises(redis.ConnectionError):
            redis.Redis(host="127.0.0.1", port=n.port, socket_timeout=2).ping()
    f = [n for n in c.nodes if n is not ld]
    with ld.client() as r:
        assert r.set("via-leader", "1")
    with f[0].client() as r:
        assert r.set("via-follower", "2")  # forwarded over the proxy's TLS connection
        assert r.incr("ctr") == 1
    settled(c)
    for n in c.nodes:
        with n.client() as r:
            r.execute_command("READONLY")
            assert r.get("via-follower") == b"2" and r.get("via-leader") == b"1"

    ld.kill()
    new = c.leader(among=f, timeout=30)
    with new.client() as r:
        wait_until(lambda: r.set("after-failover", "3"), what="a write on the new leader")
    other = [n for n in f if n is not new][0]
    with other.client() as r:
        assert r.incr("ctr") == 2  # forwarded to the new leader
    ld.start()
    settled(c)

    # A wiped follower gets the state by snapshot chunks over TLS.
    victim = [n for n in c.nodes if n is not c.leader()][0]
    victim.kill()
    shutil.rmtree(victim.dir)
    ld = c.leader(among=[n for n in c.nodes if n is not victim])
    with ld.client() as r:
        for i in range(200):
            r.set("pad:%d" % i, "x" * 100)
    wait_until(lambda: int(info(ld)["raft_first_index"]) > 1, 60, "the leader's log to be truncated")
    victim.start()
    wait_until(lambda: "Installed snapshot" in victim.log(), 120, "the wiped follower to install a snapshot")
    settled(c)
    with victim.client() as r:
        r.execute_command("READONLY")
        assert r.get("pad:199") == b"x" * 100
        assert r.get("after-failover") == b"3" and r.get("ctr") == b"2"


def peer_line(nd, pid):
    """INFO raft's raft_peer<pid> fields as a dict."""
    v = nd.raft()["raft_peer%d" % pid]
    return v if isinstance(v, dict) else dict(kv.split("=", 1) for kv in str(v).split(","))


def test_a_node_with_a_certificate_from_another_ca_cannot_join(make_cluster, certs):
    """Node 3's certificate is from another CA: nodes 1 and 2 refuse its
    handshakes both ways (their transports fail to verify it, and their TLS
    port refuses its client certificate), so it never gets an entry, its
    elections never reach them (their term stays put), it never leads, and
    1 and 2 keep serving."""
    c = tls_cluster(make_cluster, certs, start=False)
    stranger = c.node(3)
    stranger.extra = ["--tls-cert-file", certs["other"]["cert"], "--tls-key-file", certs["other"]["key"]]
    stranger.client_kw = {"ssl_ca_certs": certs["otherca"]["cert"]}
    for n in c.nodes:
        n.start()
    good = [c.node(1), c.node(2)]
    ld = c.leader(among=good)
    term = int(info(ld)["raft_term"])
    # The stranger's own attempts were refused by the others' TLS ports ...
    wait_until(lambda: "alert unknown ca" in stranger.log() or "connection closed" in stranger.log(),
               30, "the stranger's handshakes to be refused")
    # ... and it has tried to get elected, in vain.
    wait_until(lambda: info(stranger)["raft_role"] == "candidate", 30, "the stranger to campaign")
    for i in range(50):
        with ld.client() as r:
            assert r.set("k%d" % i, i)
    for n in good:
        assert int(info(n)["raft_term"]) == term
        assert peer_line(n, 3)["connected"] in (0, "0")
    st = info(stranger)
    assert st["raft_role"] != "leader"
    assert int(st["raft_applied_index"]) == 0
    assert all(peer_line(stranger, p)["connected"] in (0, "0") for p in (1, 2))


def test_peer_handshake_needs_tls_with_a_verified_certificate(make_cluster, certs):
    """With tls-cluster yes, RAFT.HELLO is refused on a plain connection and
    on a TLS connection without a certificate; with one it is answered."""
    c = tls_cluster(make_cluster, certs, extra=["--tls-auth-clients", "optional"], start=False)
    plain = testproc.pick_ports(3)
    for n, p in zip(c.nodes, plain):
        n.extra = ["--port", str(p)]
        n.plain_port = p
    c.start()
    n = c.node(1)
    with redis.Redis(host="127.0.0.1", port=n.plain_port, socket_timeout=5) as r:
        assert r.ping()  # a plain client is served ...
        with pytest.raises(redis.ResponseError, match="peer hello refused"):
            r.execute_command("RAFT.HELLO", _cluster_id(n), "2", "0" * 64)
    nocert = dict(tls_kw(certs))
    del nocert["ssl_certfile"], nocert["ssl_keyfile"]
    with redis.Redis(host="127.0.0.1", port=n.port, socket_timeout=5, **nocert) as r:
        assert r.ping()
        with pytest.raises(redis.ResponseError, match="peer hello refused"):
            r.execute_command("RAFT.HELLO", _cluster_id(n), "2", "0" * 64)
    with n.client() as r:
        got = r.execute_command("RAFT.HELLO", _cluster_id(n), "2", "0" * 64)
        assert isinstance(got, list) and got[0] == 1
    c.leader()  # the cluster still works


def _cluster_id(n):
    with n.client() as r:
        return r.config_get("cluster-id")["cluster-id"]


def test_peers_show_tls_client_cert_file_on_their_own_connections(make_cluster, certs):
    """Each node's tls-cert-file is for serverAuth only, which OpenSSL
    refuses as a client certificate (checked first, so the test can fail);
    tls-client-cert-file (clientAuth only; node 1's key encrypted, unlocked
    by tls-client-key-file-pass) is what the nodes show on their connections
    to each other: the cluster elects, forwards and replicates."""
    d = certs["dir"]
    srv = tlscerts.issue(d, certs["ca"], "srvonly", cn="127.0.0.1", server_only=True)
    cli = tlscerts.issue(d, certs["ca"], "peercli", client=True)
    enc = tlscerts.issue(d, certs["ca"], "peercli-enc", client=True, passphrase="peer pass")
    # Alone, the serverAuth-only certificate does not get a client in.
    c = tls_cluster(make_cluster, certs, start=False)
    n1 = c.node(1)
    n1.start()
    bad = redis.Redis(host="127.0.0.1", port=n1.port, socket_timeout=5, ssl=True,
                      ssl_ca_certs=certs["ca"]["cert"], ssl_certfile=srv["cert"],
                      ssl_keyfile=srv["key"], ssl_cert_reqs="required")
    with pytest.raises(redis.ConnectionError):
        bad.ping()
    n1.kill()
    for n in c.nodes:
        key = enc if n.id == 1 else cli
        n.extra = ["--tls-cert-file", srv["cert"], "--tls-key-file", srv["key"],
                   "--tls-client-cert-file", key["cert"], "--tls-client-key-file", key["key"]]
        if n.id == 1:
            n.extra += ["--tls-client-key-file-pass", "peer pass"]
    c.start()
    ld = c.leader()
    f = [n for n in c.nodes if n is not ld]
    for i, n in enumerate(f):
        with n.client() as r:
            assert r.set("fwd%d" % i, str(i))  # forwarded over the follower's own connection
    settled(c)
    for n in c.nodes:
        with n.client() as r:
            r.execute_command("READONLY")
            assert r.mget("fwd0", "fwd1") == [b"0", b"1"]
            got = r.config_get("tls-client-*")
            assert got["tls-client-cert-file"] == n.extra[5]
            assert "tls-client-key-file-pass" not in got  # a secret, never shown
    # A client certificate file that does not load is refused, the old kept.
    with ld.client() as r:
        with pytest.raises(redis.ResponseError, match="Unable to update TLS configuration"):
            r.config_set("tls-client-cert-file", certs["ca"]["key"])
        assert r.config_get("tls-client-cert-file")["tls-client-cert-file"] == ld.extra[5]
        assert r.set("after-refusal", "1")
