"""CLIENT KILL and CLIENT PAUSE on a 3-node cluster (server/clientcmd.h):
peer connections are never TYPE normal (the leader's are "master" on a
follower, the other members' "replica"), killing them costs nothing but a
reconnect, and a pause holds only the clients of the node it was sent to,
never the traffic between nodes. Every wait is on a condition with a
deadline; every server is stopped by pid."""
import socket
import time

from conftest import wait_until


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Raw:
    """A connection that sends commands and reads raw reply bytes."""

    def __init__(self, node):
        self.sock = socket.create_connection(("127.0.0.1", node.port), timeout=10)

    def send(self, *args):
        self.sock.sendall(encode(*args))

    def read(self, timeout=10.0):
        """Whatever arrives within timeout (b"" if nothing)."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65536)
        except socket.timeout:
            return b""

    def read_exact(self, n, timeout=10.0):
        data = b""
        deadline = time.monotonic() + timeout
        while len(data) < n and time.monotonic() < deadline:
            data += self.read(timeout=max(0.01, deadline - time.monotonic()))
        return data

    def call(self, *args):
        self.send(*args)
        return self.read()

    def closed(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(deadline - time.monotonic())
            try:
                if self.sock.recv(65536) == b"":
                    return True
            except (socket.timeout, ConnectionResetError):
                return True
        return False

    def close(self):
        self.sock.close()


def clients(node):
    """CLIENT LIST of node: {id: fields}."""
    with node.client() as r:
        text = r.execute_command("CLIENT", "LIST").decode()
    out = {}
    for line in text.strip().split("\n"):
        f = dict(kv.split("=", 1) for kv in line.split(" ") if "=" in kv)
        out[int(f["id"])] = f
    return out


def peer_ids(node):
    return {i for i, f in clients(node).items() if f["cmd"].startswith("raft.")}


def replicates(leader, follower, key):
    """A write through the leader becomes readable on the follower."""
    with leader.client() as r:
        r.set(key, "v")
    with follower.client() as r:
        return r.get(key) == b"v"


def test_peer_connections_are_master_or_replica_never_normal(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    f = c.followers()[0]
    wait_until(lambda: replicates(ld, f, "warm"), what="the cluster to replicate")
    for node in (ld, f):
        peers = peer_ids(node)
        assert peers, "node %d lists no peer connection" % node.id
        a, b = Raw(node), Raw(node)
        assert a.call("PING") == b"+PONG\r\n" and b.call("PING") == b"+PONG\r\n"
        admin = Raw(node)
        n = int(admin.call("CLIENT", "KILL", "TYPE", "normal")[1:])
        assert n >= 2 and a.closed() and b.closed()
        # every peer connection survived (a killed one would be gone: a
        # reconnect gets a new id)
        assert peers <= set(clients(node)), "TYPE normal killed a peer connection"
        assert admin.call("CLIENT", "KILL", "USER", "default", "ID", min(peers)) == b":0\r\n"
        admin.close()
    # on the leader every peer is a replica, none a master
    admin = Raw(ld)
    assert admin.call("CLIENT", "KILL", "TYPE", "master") == b":0\r\n"
    assert int(admin.call("CLIENT", "KILL", "TYPE", "replica")[1:]) >= 1
    admin.close()
    wait_until(lambda: replicates(ld, f, "after-replica-kill"), what="replication after the kill")
    # on a follower the leader's connections are the master
    admin = Raw(f)
    assert int(admin.call("CLIENT", "KILL", "TYPE", "master")[1:]) >= 1
    admin.close()
    wait_until(lambda: replicates(ld, f, "after-master-kill"), what="replication after the kill")
    assert c.leader() is ld


def test_pause_holds_only_the_node_it_was_sent_to(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    f, other = c.followers()
    wait_until(lambda: replicates(ld, f, "warm"), what="the cluster to replicate")
    # a follower paused for writes: its own writes wait, reads go on, the
    # leader and the other follower write as usual
    admin_f = Raw(f)
    assert admin_f.call("CLIENT", "PAUSE", "30000", "WRITE") == b"+OK\r\n"
    w = Raw(f)
    w.send("SET", "held", "1")
    assert Raw(other).call("SET", "free", "1") == b"+OK\r\n"
    assert Raw(ld).call("SET", "free2", "1") == b"+OK\r\n"
    assert Raw(f).call("GET", "free2") == b"$1\r\n1\r\n"
    assert w.read(timeout=0.3) == b""  # held: this bounded wait is the check
    assert admin_f.call("CLIENT", "UNPAUSE") == b"+OK\r\n"
    assert w.read() == b"+OK\r\n"
    # the leader paused for everything: its own clients wait, but what a
    # follower forwards (peer traffic) is not paused
    admin_l = Raw(ld)
    t0 = time.monotonic()
    assert admin_l.call("CLIENT", "PAUSE", "2000", "ALL") == b"+OK\r\n"
    lc = Raw(ld)
    lc.send("GET", "free")
    assert Raw(f).call("SET", "through-follower", "1") == b"+OK\r\n"
    assert time.monotonic() - t0 < 1.5
    assert lc.read(timeout=0.1) == b""
    assert lc.read() == b"$1\r\n1\r\n"
    assert time.monotonic() - t0 >= 1.9


def test_client_reply_through_a_follower(make_cluster):
    """Writes a follower forwards wait in reply slots of their own: SKIP and
    OFF drop exactly their replies, in order with the rest."""
    c = make_cluster(3)
    f = c.followers()[0]
    r = Raw(f)
    r.sock.sendall(encode("SET", "k", "1") + encode("CLIENT", "REPLY", "SKIP") + encode("INCR", "k") +
                   encode("INCR", "k") + encode("CLIENT", "REPLY", "OFF") + encode("INCR", "k") +
                   encode("GET", "k") + encode("CLIENT", "REPLY", "ON") + encode("GET", "k"))
    want = b"+OK\r\n:3\r\n+OK\r\n$1\r\n4\r\n"
    assert r.read_exact(len(want)) == want
    assert r.call("PING") == b"+PONG\r\n"  # nothing more came
