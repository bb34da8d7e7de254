"""A RaftKV cluster of real raftkv-server processes on loopback, for the
cluster tier. Each node gets its own port and data dir; every process is
stopped by pid at teardown and the temp dir removed. Waits poll with a
deadline. A sanitizer report in any node's output fails the test."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile

import pytest
import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import testproc  # noqa: E402  (tests/pylib)

SERVER_BIN = os.environ.get("RAFTKV_SERVER")
SECRET = "test-secret"
# liblmdb's known leak (tests/lsan.supp) is not this project's.
LSAN_OPTIONS = "suppressions=" + os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                              "lsan.supp")


def wait_until(cond, timeout=20.0, what="condition"):
    """cond() until truthy; redis and socket errors count as "not yet"."""
    return testproc.wait_until(cond, timeout, what, interval=0.02,
                               retry_on=(redis.RedisError, OSError))


class Node:
    def __init__(self, cluster, nid, port):
        self.cluster, self.id, self.port = cluster, nid, port
        self.dir = os.path.join(cluster.root, "n%d" % nid)
        self.logpath = os.path.join(cluster.root, "n%d.out" % nid)
        self.proc = None
        self.extra = []
        self.password = None  # set when a test gives this node a requirepass
        self.client_kw = {}  # redis.Redis arguments of this node's own (TLS: its CA)

    def argv(self):
        return [SERVER_BIN, "--node-id", str(self.id), "--cluster", self.cluster.spec,
                "--cluster-secret", self.cluster.secret_for(self.id), "--bind", "127.0.0.1",
                "--dir", self.dir, "--election-timeout", "500", "--heartbeat-interval", "50",
                "--raft-request-timeout", "2000"] + self.cluster.args + self.extra

    def start(self):
        env = dict(os.environ, LSAN_OPTIONS=LSAN_OPTIONS)
        with open(self.logpath, "ab") as log:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=log, env=env,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         preexec_fn=testproc.die_with_parent)
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
        kw = dict(self.cluster.client_kw, **dict(self.client_kw, **kw))
        kw.setdefault("socket_timeout", 10)
        if self.password:
            kw.setdefault("password", self.password)
        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    def raft(self):
        with self.client() as r:  # closed at once: polling must not pile up connections
            return r.info("raft")

    def role(self):
        return self.raft().get("raft_role")

    def log(self):
        return testproc.read_text(self.logpath)


class Cluster:
    def __init__(self, n, args=(), secrets=None, client_kw=None):
        assert SERVER_BIN, "RAFTKV_SERVER must point at raftkv-server"
        self.root = tempfile.mkdtemp(prefix="raftkv-cluster-")
        self.args = list(args)
        self.secrets = secrets or {}
        self.client_kw = dict(client_kw or {})  # every client's redis.Redis arguments (TLS)
        ports = testproc.pick_ports(n)
        self.nodes = [Node(self, i + 1, ports[i]) for i in range(n)]
        self.spec = ",".join("%d=127.0.0.1:%d" % (nd.id, nd.port) for nd in self.nodes)

    def secret_for(self, nid):
        return self.secrets.get(nid, SECRET)

    def start(self):
        for nd in self.nodes:
            nd.start()
        if len(self.nodes) > 1:
            self.wait_links()
        return self

    def wait_links(self):
        """Until the leader hears from every other node. A voter campaigns
        soon after it starts, so the first leader may be elected before
        every follower's own link to it is up; a test that kills or pauses
        a node right away would otherwise leave a leader without a quorum
        until the rest connect."""
        ld = self.leader()

        def heard():
            with ld.client() as r:  # closed at once: tests may set maxclients 1
                return int(r.info("cluster")["cluster_raft_peers_heard"])
        want = len(self.nodes) - 1
        wait_until(lambda: heard() == want, what="the leader to hear from all %d peers" % want)

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
            report = testproc.sanitizer_excerpt(nd.log())
            if report:
                problems.append("node %d sanitizer report:\n%s" % (nd.id, report))
        if not os.environ.get("RAFTKV_TEST_KEEP"):  # set: keep the data dirs and logs
            shutil.rmtree(self.root, ignore_errors=True)
        return problems


@pytest.fixture
def make_cluster():
    made = []

    def make(n=3, args=(), secrets=None, start=True, client_kw=None):
        c = Cluster(n, args, secrets, client_kw)
        made.append(c)
        return c.start() if start else c

    yield make
    problems = []
    for c in made:
        problems += c.cleanup()
    if problems:
        pytest.fail("\n".join(problems))
