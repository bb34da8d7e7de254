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
