"""A RaftKV cluster of real raftkv-server processes on loopback, for the
cluster tier. Each node gets its own port and data dir; every process is
stopped by pid at teardown and the temp dir removed. Waits poll with a
deadline. A sanitizer report in any node's output fails the test."""
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import redis

SERVER_BIN = os.environ.get("RAFTKV_SERVER")
SECRET = "test-secret"
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def _die_with_parent():
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def wait_until(cond, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            v = cond()
            if v:
                return v
        except (redis.RedisError, OSError) as e:
            last = e
        time.sleep(0.02)
    raise AssertionError("timed out waiting for %s (last error: %r)" % (what, last))


def free_ports(n):
    """n ports that are free now, from one range the kernel does not hand out
    for outgoing connections (below ip_local_port_range)."""
    ports = []
    rng = __import__("random").Random(os.getpid() ^ int(time.time() * 1000))
    while len(ports) < n:
        p = rng.randrange(20000, 31999)
        if p in ports:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
            ports.append(p)
        except OSError:
            pass
        finally:
            s.close()
    return ports


class Node:
    def __init__(self, cluster, nid, port):
        self.cluster, self.id, self.port = cluster, nid, port
        self.dir = os.path.join(cluster.root, "n%d" % nid)
        self.logpath = os.path.join(cluster.root, "n%d.out" % nid)
        self.proc = None
        self.extra = []

    def argv(self):
        return [SERVER_BIN, "--node-id", str(self.id), "--cluster", self.cluster.spec,
                "--cluster-secret", self.cluster.secret_for(self.id), "--bind", "127.0.0.1",
                "--dir", self.dir, "--election-timeout", "500", "--heartbeat-interval", "50",
                "--raft-request-timeout", "2000"] + self.cluster.args + self.extra

    def start(self):
        with open(self.logpath, "ab") as log:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         preexec_fn=_die_with_parent)
        wait_until(lambda: self.alive() and self.ping(), what="node %d to answer" % self.id)
        return self

    def ping(self):
        with self.client() as r:
            return r.ping()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)

    def stop(self):
        if not self.alive():
            return self.proc.returncode if self.proc else None
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)
            return None

    def pause(self):
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def client(self, **kw):
        kw.setdefault("socket_timeout", 10)
        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    def raft(self):
        with self.client() as r:  # closed at once: polling must not pile up connections
            return r.info("raft")

    def role(self):
        return self.raft().get("raft_role")

    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


class Cluster:
    def __init__(self, n, args=(), secrets=None):
        assert SERVER_BIN, "RAFTKV_SERVER must point at raftkv-server"
        self.root = tempfile.mkdtemp(prefix="raftkv-cluster-")
        self.args = list(args)
        self.secrets = secrets or {}
        ports = free_ports(n)
        self.nodes = [Node(self, i + 1, ports[i]) for i in range(n)]
        self.spec = ",".join("%d=127.0.0.1:%d" % (nd.id, nd.port) for nd in self.nodes)

    def secret_for(self, nid):
        return self.secrets.get(nid, SECRET)

    def start(self):
        for nd in self.nodes:
            nd.start()
        return self

    def node(self, nid):
        return self.nodes[nid - 1]

    def leader(self, among=None, timeout=20.0):
        """The one node that says it leads, once every live node agrees."""
        cands = among or [n for n in self.nodes if n.alive()]

        def find():
            leaders = [n for n in cands if n.role() == "leader"]
            if len(leaders) != 1:
                return None
            lid = leaders[0].id
            if all(int(n.raft()["raft_leader_id"]) == lid for n in cands):
                return leaders[0]
            return None
        return wait_until(find, timeout, "a leader all nodes agree on")

    def followers(self):
        ld = self.leader()
        return [n for n in self.nodes if n is not ld and n.alive()]

    def cleanup(self):
        problems = []
        for nd in self.nodes:
            if nd.proc is not None and nd.proc.poll() is None:
                try:
                    os.kill(nd.proc.pid, signal.SIGCONT)
                except OSError:
                    pass
                rc = nd.stop()
                if rc != 0:
                    problems.append("node %d did not stop cleanly (rc=%s)" % (nd.id, rc))
            text = nd.log()
            for mark in SANITIZER_MARKS:
                i = text.find(mark)
                if i >= 0:
                    problems.append("node %d sanitizer report:\n%s" % (nd.id, text[max(0, i - 200):i + 5000]))
                    break
        shutil.rmtree(self.root, ignore_errors=True)
        return problems


@pytest.fixture
def make_cluster():
    made = []

    def make(n=3, args=(), secrets=None, start=True):
        c = Cluster(n, args, secrets)
        made.append(c)
        return c.start() if start else c

    yield make
    problems = []
    for c in made:
        problems += c.cleanup()
    if problems:
        pytest.fail("\n".join(problems))
