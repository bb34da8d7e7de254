"""The peer handshake (server/peerauth.h) against real nodes: the cluster
secret never shows, knowing it is not enough without the handshake, a
recorded handshake cannot be replayed, failures get one generic error and
are rate-limited per address, node ids are parsed strictly.

The tests play a peer from their own loopback address (127.0.0.x, one per
test), so the failures they cause never count against 127.0.0.1, which the
real peers use."""
import hashlib
import hmac
import os
import socket
import struct
import time

import pytest

from conftest import wait_until

REFUSED = b"-ERR peer hello refused\r\n"


def secret_for_test():
    return "Sx-%s-%s" % (os.getpid(), os.urandom(8).hex())


def frame(*fields):
    out = b""
    for f in fields:
        b = f if isinstance(f, bytes) else str(f).encode()
        out += struct.pack(">I", len(b)) + b
    return out


def proof(secret, who, cluster_id, client_id, server_id, cnonce, snonce):
    label = "raftkv-server" if who == "server" else "raftkv-client"
    msg = frame(label, cluster_id, client_id, server_id, cnonce, snonce)
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(b), b)
    return out


class Conn:
    """A raw connection from a chosen source address, with a reader for the
    few reply shapes the handshake has."""

    def __init__(self, node, source):
        self.s = socket.create_connection(("127.0.0.1", node.port), timeout=10,
                                          source_address=(source, 0))
        self.buf = b""

    def close(self):
        self.s.close()

    def _fill(self):
        chunk = self.s.recv(65536)
        if not chunk:
            raise EOFError("closed")
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln + b"\r\n"

    def reply(self):
        """An error/status line as bytes, an integer, a bulk as bytes, or a
        list of those."""
        ln = self.line()
        t, body = ln[:1], ln[1:-2]
        if t in (b"+", b"-"):
            return ln
        if t == b":":
            return int(body)
        if t == b"$":
            n = int(body)
            while len(self.buf) < n + 2:
                self._fill()
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v
        if t == b"*":
            return [self.reply() for _ in range(int(body))]
        raise AssertionError("unexpected reply %r" % ln)

    def call(self, *args):
        self.s.sendall(cmd(*args))
        return self.reply()

    def closed(self, timeout=10):
        """True once the server closed the connection (EOF)."""
        self.s.settimeout(timeout)
        try:
            while True:
                if not self.s.recv(65536):
                    return True
        except OSError:
            return False


def cluster_id(node):
    with node.client() as r:
        return r.config_get("cluster-id")["cluster-id"]


def handshake(node, source, secret, cid, client_id=2, server_id=1):
    """A full, correct handshake as node client_id; returns the connection
    and the transcript (hello command, auth command)."""
    c = Conn(node, source)
    cn = os.urandom(32).hex()
    hello = cmd("RAFT.HELLO", cid, client_id, cn)
    c.s.sendall(hello)
    rep = c.reply()
    assert isinstance(rep, list), rep
    sid, sn, sp = rep
    assert sid == server_id
    sn = sn.decode()
    # mutual: the node proves itself first
    assert sp.decode() == proof(secret, "server", cid, client_id, server_id, cn, sn)
    auth = cmd("RAFT.AUTH", proof(secret, "client", cid, client_id, server_id, cn, sn))
    c.s.sendall(auth)
    assert c.reply() == b"+OK\r\n"
    return c, (hello, auth, sp.decode())


@pytest.fixture
def secret_cluster(make_cluster):
    secret = secret_for_test()
    c = make_cluster(3, args=["--loglevel", "debug"], secrets={1: secret, 2: secret, 3: secret})
    c.leader()
    return c, secret


def test_the_cluster_secret_is_never_shown(secret_cluster):
    c, secret = secret_cluster
    n1 = c.node(1)
    for nd in c.nodes:
        with nd.client() as r:
            assert r.config_get("cluster-secret") == {}
            assert r.config_get("*secret*") == {}
            everything = r.config_get("*")
            assert "cluster-secret" not in everything
            assert all(secret not in v for v in everything.values())
            # requirepass is shown, as Redis shows it
            assert r.config_get("requirepass") == {"requirepass": ""}
        raw = Conn(nd, "127.0.0.1")
        for words in (["INFO", "everything"], ["INFO"], ["CLIENT", "LIST"], ["CLIENT", "INFO"]):
            text = raw.call(*words)
            assert isinstance(text, bytes) and text and secret.encode() not in text, words
        raw.close()
    # a failed handshake that carries the secret as its nonce is not logged with it
    x = Conn(n1, "127.0.0.30")
    assert x.call("RAFT.HELLO", cluster_id(n1), 2, secret) == REFUSED
    x.close()
    ld = c.leader()
    assert ld.client().set("k", "v")
    for nd in c.nodes:
        assert secret not in nd.log()
        assert "Refused a peer handshake" in nd.log() or nd is not n1


def test_knowing_the_secret_is_not_enough_to_become_a_peer(secret_cluster):
    c, secret = secret_cluster
    ld = c.leader()
    cid = cluster_id(ld)
    other = 1 if ld.id != 1 else 2  # a member's id that is not the leader's own
    # the old hello, secret in hand: refused and closed
    x = Conn(ld, "127.0.0.31")
    assert x.call("RAFT.HELLO", cid, other, secret) == REFUSED
    assert x.closed()
    # no hello: no raft messages, no proof
    x = Conn(ld, "127.0.0.31")
    assert x.call("RAFT.MSG", b"\x01\x02").startswith(b"-ERR RAFT.MSG needs a RAFT.HELLO")
    x = Conn(ld, "127.0.0.31")
    assert x.call("RAFT.AUTH", "0" * 64) == REFUSED
    assert x.closed()
    # a hello without RAFT.AUTH is not a peer either
    x = Conn(ld, "127.0.0.31")
    assert isinstance(x.call("RAFT.HELLO", cid, other, os.urandom(32).hex()), list)
    assert x.call("RAFT.MSG", b"\x01\x02").startswith(b"-ERR RAFT.MSG needs a RAFT.HELLO")
    x.close()
    # the cluster is unharmed and nobody left
    assert ld.client().set("after", "1")
    assert all(nd.alive() for nd in c.nodes)


def test_a_real_handshake_authenticates_and_its_replay_does_not(secret_cluster):
    c, secret = secret_cluster
    n1 = c.node(1)
    cid = cluster_id(n1)
    conn, (hello, auth, server_proof) = handshake(n1, "127.0.0.32", secret, cid)
    conn.close()
    # the same bytes again: the node draws a new nonce, the old proof is worthless
    r = Conn(n1, "127.0.0.32")
    r.s.sendall(hello)
    rep = r.reply()
    assert isinstance(rep, list) and rep[2].decode() != server_proof
    r.s.sendall(auth)
    assert r.reply() == REFUSED
    assert r.closed()
    # reflection: the node's own proof, sent back as ours
    r = Conn(n1, "127.0.0.32")
    rep = r.call("RAFT.HELLO", cid, 2, os.urandom(32).hex())
    assert r.call("RAFT.AUTH", rep[2]) == REFUSED
    r.close()


def test_a_wrong_proof_gets_one_generic_error_and_is_rate_limited(secret_cluster):
    c, secret = secret_cluster
    n1 = c.node(1)
    cid = cluster_id(n1)
    src = "127.0.0.33"
    bad = [
        lambda x: x.call("RAFT.HELLO", "not-the-cluster", 2, os.urandom(32).hex()),
        lambda x: x.call("RAFT.HELLO", cid, 2, "g" * 64),
        lambda x: x.call("RAFT.HELLO", cid, 2, "short"),
        lambda x: (x.call("RAFT.HELLO", cid, 2, os.urandom(32).hex()),
                   x.call("RAFT.AUTH", "f" * 64))[1],
        lambda x: (x.call("RAFT.HELLO", cid, 2, os.urandom(32).hex()),
                   x.call("RAFT.AUTH", proof("wrong", "client", cid, 2, 1, "a", "b")))[1],
    ]
    for attempt in bad:  # every failure: the same words, and the connection closes
        x = Conn(n1, src)
        assert attempt(x) == REFUSED
        assert x.closed()
    wait_until(lambda: "5 failed peer handshakes from %s" % src in n1.log(),
               what="the block to be logged")
    # blocked: even a right hello is refused at once, with the same words
    x = Conn(n1, src)
    t0 = time.monotonic()
    assert x.call("RAFT.HELLO", cid, 2, os.urandom(32).hex()) == REFUSED
    assert time.monotonic() - t0 < 2
    assert x.closed()
    # other addresses, the real peers among them, are not
    handshake(n1, "127.0.0.34", secret, cid)[0].close()
    ld = c.leader()
    assert ld.client().set("still", "ok")
    for nd in c.nodes:
        wait_until(lambda: nd.client().get("still") == b"ok", what="replication")


def test_a_non_member_id_is_refused_without_blocking_the_address(secret_cluster):
    """A node started with 'join yes' says hello until it is added: its id is
    refused, but that guesses nothing and must not block its host (all the
    nodes of a host share it)."""
    c, secret = secret_cluster
    n1 = c.node(1)
    cid = cluster_id(n1)
    src = "127.0.0.37"
    for _ in range(8):
        x = Conn(n1, src)
        assert x.call("RAFT.HELLO", cid, 9, os.urandom(32).hex()) == REFUSED
        assert x.closed()
    handshake(n1, src, secret, cid)[0].close()
    assert "failed peer handshakes from %s" % src not in n1.log()


@pytest.mark.parametrize("bad_id", ["+2", " 2", "2 ", "02", "-18446744073709551614",
                                    "18446744073709551618", "2\x00", "0x2", "", "1", "4"])
def test_node_ids_are_parsed_strictly(secret_cluster, bad_id):
    c, secret = secret_cluster
    n1 = c.node(1)
    cid = cluster_id(n1)
    x = Conn(n1, "127.0.0.35")
    cn = os.urandom(32).hex()
    assert x.call("RAFT.HELLO", cid, bad_id.encode(), cn) == REFUSED
    assert x.closed()
    # the same hello with id 2 spelt plainly is answered
    handshake(n1, "127.0.0.36", secret, cid)[0].close()


def raft_msg(mtype, frm, to, term, log_term=0, index=0, commit=0, reject=0, hint=0, ctx=0):
    """A raft message in the codec's format (raft/codec.c, version 1), no
    entries and no snapshot."""
    return (struct.pack("<BBBB", 1, mtype, reject, 0) +
            struct.pack("<8Q", frm, to, term, log_term, index, commit, hint, ctx) +
            struct.pack("<I", 0))


def test_an_authenticated_peer_cannot_crash_the_leader(secret_cluster):
    """The reviewer's attack once past the handshake: an append response for
    an index beyond the leader's log made the leader exit. Now it, a
    malformed message and one claiming another sender are dropped and
    counted, and the cluster goes on."""
    c, secret = secret_cluster
    ld = c.leader()
    f = c.followers()[0]
    cid = cluster_id(ld)
    term = int(ld.raft()["raft_term"])

    def dropped():
        with ld.client() as r:
            return int(r.info("stats")["raft_peer_msgs_dropped"])
    before = dropped()
    conn, _ = handshake(ld, "127.0.0.33", secret, cid, client_id=f.id, server_id=ld.id)
    conn.s.sendall(cmd("RAFT.MSGQ",
                       raft_msg(2, f.id, ld.id, term, index=10 ** 12),  # APP_RESP past the log
                       b"\x01\x02\x03",                                 # malformed
                       raft_msg(2, 3 if f.id != 3 else 2, ld.id, term, index=1)))  # another sender
    assert conn.call("RAFT.MSG", raft_msg(8, f.id, ld.id, term, ctx=10 ** 12)) == b"+OK\r\n"
    wait_until(lambda: dropped() >= before + 3, 10, "the three messages to be counted as dropped")
    conn.close()
    assert ld.client().set("after", "1")
    assert all(nd.alive() for nd in c.nodes)
    assert c.leader() is ld
