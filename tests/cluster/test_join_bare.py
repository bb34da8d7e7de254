"""A new node that knows no cluster (issue 18): started with 'join yes', the
cluster secret, the cluster id and only its own address ('cluster' naming
itself), it takes the handshake of whichever node proves the secret, learns
that node's address from its RAFT.HELLO and answers it there; once the
change adding it (with the cluster's address book) is applied, the book
decides. A node with a wrong secret or cluster id is never brought in."""
import os

import testproc
from conftest import SECRET, Node, wait_until
from test_peerauth import REFUSED, Conn, cluster_id, handshake, proof
from test_tls_cluster import certs, tls_args, tls_kw  # noqa: F401  (certs: a fixture)


class BareJoinNode(Node):
    """'join yes' with only its own address."""

    def __init__(self, cluster, nid, port, cluster_id, secret=None):
        super().__init__(cluster, nid, port)
        self.secret = secret
        self.extra = ["--join", "yes", "--cluster-id", cluster_id]

    def argv(self):
        a = super().argv()
        a[a.index("--cluster") + 1] = "%d=127.0.0.1:%d" % (self.id, self.port)
        if self.secret:
            a[a.index("--cluster-secret") + 1] = self.secret
        return a


def start_bare(c, nid, cid, secret=None):
    nd = BareJoinNode(c, nid, testproc.pick_ports(1)[0], cid, secret)
    c.nodes.append(nd)
    return nd.start()


def members(nd):
    return {row[0]: (row[1].decode(), row[2].decode())
            for row in nd.client().execute_command("RAFT.MEMBERS")}


def applied(nd):
    return int(nd.raft()["raft_applied_index"])


def test_a_bare_node_joins_votes_and_restarts(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    cid = ld.raft()["raft_cluster_id"]
    r = ld.client()
    keys = {"k:%d" % i: "v%d" % i for i in range(200)}
    for k, v in keys.items():
        r.set(k, v)

    # Wrong secret, then wrong cluster id: ADDNODE answers (a learner does
    # not count for the commit), but the node is never reached: its proof
    # (wrong secret) or its refusal (wrong cluster id) ends every attempt,
    # so it stays at applied index 0 and the leader's match for it at 0.
    bad = [start_bare(c, 4, cid, secret="not-the-secret"),
           start_bare(c, 5, "0" * 16)]
    for nd in bad:
        assert nd.raft()["raft_member"] == "none"
        assert r.execute_command("RAFT.ADDNODE", nd.id, "127.0.0.1:%d" % nd.port) == b"OK"
    # every node connects to the learners it added: wait for two failed
    # attempts of the leader's to each before judging
    wait_until(lambda: all(ld.log().count("peer %d (127.0.0.1:%d): RAFT.HELLO refused"
                                          % (nd.id, nd.port)) >= 2 for nd in bad),
               15, "the leader's handshakes with the bad nodes to fail twice")
    for nd in bad:
        assert applied(nd) == 0 and nd.raft()["raft_member"] == "none"
        assert [row[4] for row in r.execute_command("RAFT.MEMBERS") if row[0] == nd.id] == [0]
        assert "join: node" not in nd.log()  # it learned no address
        assert r.execute_command("RAFT.REMOVENODE", nd.id) == b"OK"
        nd.stop()
    c.nodes = c.nodes[:3]

    # The good one: its own address only.
    n6 = start_bare(c, 6, cid)
    info = n6.raft()
    assert info["raft_member"] == "none" and info["raft_voters"] == ""
    assert r.execute_command("RAFT.ADDNODE", 6, "127.0.0.1:%d" % n6.port) == b"OK"
    wait_until(lambda: applied(n6) >= int(ld.raft()["raft_commit_index"]), 20,
               "node 6 to catch up")
    assert "join: node %d is at 127.0.0.1:%d" % (ld.id, ld.port) in n6.log()
    assert n6.raft()["raft_member"] == "learner"
    # it follows the cluster's book now: every member, at the book's address
    want = {nd.id: "127.0.0.1:%d" % nd.port for nd in c.nodes}
    wait_until(lambda: members_addr(n6) == want, 10,
               "node 6 to know every member's address")
    r6 = n6.client()
    r6.execute_command("READONLY")
    assert {k: r6.get(k).decode() for k in keys} == {k: r.get(k).decode() for k in keys} == keys
    assert r.execute_command("RAFT.PROMOTE", 6) == b"OK"
    wait_until(lambda: n6.raft()["raft_member"] == "voter", 10, "node 6 to vote")

    # A leader change with node 6's vote needed: 3 of the 4 voters left.
    ld.kill()
    rest = [nd for nd in c.nodes if nd is not ld]
    new = c.leader(among=rest)
    assert new is not ld
    rn = new.client()
    rn.set("after", "kill")
    wait_until(lambda: r6.get("after") == b"kill", 10, "node 6 to read a write of the new leader")
    ld.start()
    wait_until(lambda: applied(ld) >= int(new.raft()["raft_commit_index"]), 20,
               "the old leader to catch up")

    # Node 6 restarted with the same bare configuration starts from its
    # stored book: a voter that knows every member, none learned again.
    n6.stop()
    log_before = len(n6.log())
    n6.start()
    wait_until(lambda: n6.raft()["raft_member"] == "voter" and
               int(n6.raft()["raft_leader_id"]) == c.leader().id, 15, "node 6 back as a voter")
    assert "join: node" not in n6.log()[log_before:]
    rn = c.leader().client()
    rn.set("after", "restart")
    r6 = n6.client()
    r6.execute_command("READONLY")
    wait_until(lambda: r6.get("after") == b"restart", 10, "node 6 to serve reads again")
    assert r6.get("k:7") == b"v7"
    # and it leads: RAFT.TRANSFER to it
    assert rn.execute_command("RAFT.TRANSFER", 6) == b"OK"
    wait_until(lambda: n6.role() == "leader", 10, "node 6 to lead")
    n6.client().set("led", "by6")
    for nd in c.nodes:
        wait_until(lambda: int(nd.raft()["raft_leader_id"]) == 6, 10, "node %d to follow 6" % nd.id)


def test_a_bare_node_joins_a_tls_cluster(make_cluster, certs):  # noqa: F811
    """tls-cluster yes: the hello is taken only on a verified TLS connection,
    and the address it gives is the member's TLS port."""
    c = make_cluster(3, args=tls_args(certs) + ["--tls-cluster", "yes", "--port", "0"],
                     client_kw=tls_kw(certs))
    ld = c.leader()
    r = ld.client()
    r.set("t", "1")
    n4 = start_bare(c, 4, ld.raft()["raft_cluster_id"])
    assert r.execute_command("RAFT.ADDNODE", 4, "127.0.0.1:%d" % n4.port) == b"OK"
    wait_until(lambda: applied(n4) >= int(ld.raft()["raft_commit_index"]), 20,
               "node 4 to catch up")
    assert "join: node %d is at 127.0.0.1:%d" % (ld.id, ld.port) in n4.log()
    with n4.client() as r4:
        r4.execute_command("READONLY")
        assert r4.get("t") == b"1"


def test_members_still_refuse_unknown_ids_and_take_both_hello_forms(make_cluster):
    """The address in a hello is parsed strictly on every node; a member
    never takes a hello naming an id outside its configuration, address or
    not, and ignores the address of a member's (its book decides); the
    4-word form of an older version still works (test_peerauth's
    handshakes use it)."""
    c = make_cluster(3)
    n1 = c.node(1)
    cid = cluster_id(n1)
    x = Conn(n1, "127.0.0.3")
    try:
        # too many words: the arity error an older version gives any 5th
        assert x.call("RAFT.HELLO", cid, 2, os.urandom(32).hex(), "127.0.0.1:1", "x") == (
            b"-ERR wrong number of arguments for 'raft.hello' command\r\n")
        # an unknown id is refused with or without an address
        assert x.call("RAFT.HELLO", cid, 9, os.urandom(32).hex(), "127.0.0.1:1") == REFUSED
    finally:
        x.close()
    bads = ("127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:07", ":7", "a b:7",
            "127.0.0.1:7 ", "h" * 256 + ":7", "")
    for i, bad in enumerate(bads):  # one source address each: failures count per address
        x = Conn(n1, "127.0.1.%d" % (i + 1))
        try:
            assert x.call("RAFT.HELLO", cid, 2, os.urandom(32).hex(), bad) == REFUSED, bad
            assert x.closed()
        finally:
            x.close()
    # a member's well-formed 5-word hello completes; the address is not taken
    before = members_addr(n1)
    x = Conn(n1, "127.0.0.5")
    try:
        cn = os.urandom(32).hex()
        rep = x.call("RAFT.HELLO", cid, 2, cn, "127.0.0.9:1")
        sid, sn, sp = rep
        assert sid == 1 and sp.decode() == proof(SECRET, "server", cid, 2, 1, cn, sn.decode())
        assert x.call("RAFT.AUTH", proof(SECRET, "client", cid, 2, 1, cn, sn.decode())) == (
            b"+OK\r\n")
    finally:
        x.close()
    assert members_addr(n1) == before
    assert "join: node" not in n1.log()
    # and the 4-word form
    handshake(n1, "127.0.0.6", SECRET, cid)[0].close()


def members_addr(nd):
    return {i: a for i, (a, _) in members(nd).items()}
