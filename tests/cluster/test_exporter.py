"""Debian's prometheus-redis-exporter (redis_exporter 1.45) scraping the
nodes of a 3-node cluster: the usual Redis metrics come out with the
values the nodes give. The exporter drops INFO fields it does not know
unless they are named db*, cmdstat_* or cluster_*: the Raft section's
raft_* fields do not appear, their cluster_raft_* copies in the Cluster
section do, as redis_cluster_raft_* gauges.
The exporter runs against the leader and a follower, each on a free port,
and is stopped by pid."""
import os
import re
import signal
import subprocess
import sys
import urllib.request

import pytest

from conftest import wait_until

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import testproc  # noqa: E402

EXPORTER = "/usr/bin/prometheus-redis-exporter"  # Debian's package (Makefile DEPS)


class Exporter:
    def __init__(self, node, logpath):
        self.port = testproc.pick_port()
        self.logpath = logpath
        with open(logpath, "ab") as log:
            self.proc = subprocess.Popen(
                [EXPORTER, "-redis.addr", "redis://127.0.0.1:%d" % node.port,
                 "-web.listen-address", "127.0.0.1:%d" % self.port, "-redis-only-metrics"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=testproc.die_with_parent)

    def metrics(self):
        url = "http://127.0.0.1:%d/metrics" % self.port
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.read().decode()

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


@pytest.fixture
def exporters():
    assert os.access(EXPORTER, os.X_OK), \
        "prometheus-redis-exporter is not installed (apt-get install prometheus-redis-exporter)"
    made = []
    yield made
    for e in made:
        e.stop()


def parse(text):
    """{(name, frozenset(labels)): value} of a Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        assert m, line
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def value(metrics, name, **labels):
    want = set(labels.items())
    found = [v for (n, ls), v in metrics.items() if n == name and want <= set(ls)]
    assert len(found) == 1, (name, labels, found)
    return found[0]


def labels_of(metrics, name):
    return [dict(ls) for (n, ls) in metrics if n == name]


def scrape(exp, ready):
    """The first scrape for which ready(metrics) holds."""
    def once():
        m = parse(exp.metrics())
        return m if ready(m) else None
    return wait_until(once, 30, "the exporter to scrape the node")


def test_exporter_scrapes_leader_and_follower(make_cluster, exporters, tmp_path):
    c = make_cluster(3)
    ld = c.leader()
    with ld.client() as r:
        for i in range(10):
            r.set("key:%d" % i, "v")
        r.get("key:0")
    wait_until(lambda: ld.client().info("replication").get("connected_slaves") == 2,
               what="the leader to list both followers")
    e = Exporter(ld, str(tmp_path / "exporter-leader.log"))
    exporters.append(e)
    # followers count while heard within the election timeout: a scrape on
    # a loaded machine may miss one, so wait for a scrape that has both
    m = scrape(e, lambda m: m.get(("redis_connected_slaves", frozenset())) == 2
               and m.get(("redis_cluster_raft_peers_heard", frozenset())) == 2)
    assert value(m, "redis_up") == 1
    assert value(m, "redis_instance_info", role="master")
    info = labels_of(m, "redis_instance_info")[0]
    assert info["redis_version"] == "7.0.15" and info["redis_mode"] == "standalone"
    assert value(m, "redis_connected_slaves") == 2
    assert value(m, "redis_connected_clients") >= 1
    assert value(m, "redis_commands_processed_total") >= 11
    assert value(m, "redis_db_keys", db="db0") == 10
    assert value(m, "redis_commands_total", cmd="set") == 10
    assert value(m, "redis_commands_duration_seconds_total", cmd="set") >= 0
    followers = {(d["slave_ip"], d["slave_port"], d["slave_state"])
                 for d in labels_of(m, "redis_connected_slave_offset_bytes")}
    assert followers == {("127.0.0.1", str(f.port), "online") for f in c.followers()}
    assert value(m, "redis_master_repl_offset") >= 10
    assert value(m, "redis_uptime_in_seconds") >= 0
    # the Raft numbers
    assert not any(n.startswith("redis_raft_") for n, _ in m)  # raft_*: dropped
    raft = sorted({n for n, _ in m if n.startswith("redis_cluster_raft_")})
    assert raft == sorted("redis_cluster_raft_" + k for k in (
        "node_id", "leader_id", "is_leader", "term", "commit_index", "applied_index",
        "first_index", "last_index", "snapshot_index", "log_bytes", "peers", "peers_heard"))
    assert value(m, "redis_cluster_raft_leader_id") == ld.id
    assert value(m, "redis_cluster_raft_node_id") == ld.id
    assert value(m, "redis_cluster_raft_is_leader") == 1
    assert value(m, "redis_cluster_raft_commit_index") >= 10
    assert value(m, "redis_cluster_raft_term") >= 1
    assert value(m, "redis_cluster_raft_peers") == 2
    assert value(m, "redis_cluster_raft_peers_heard") == 2
    assert value(m, "redis_cluster_enabled") == 0

    f = c.followers()[0]
    ef = Exporter(f, str(tmp_path / "exporter-follower.log"))
    exporters.append(ef)
    mf = scrape(ef, lambda m: any(n == "redis_master_link_up" and v == 1
                                  for (n, _), v in m.items()))
    assert value(mf, "redis_up") == 1
    assert value(mf, "redis_instance_info", role="slave")
    assert value(mf, "redis_master_link_up") == 1
    assert value(mf, "redis_connected_slaves") == 0
    assert value(mf, "redis_db_keys", db="db0") == 10
    assert value(mf, "redis_cluster_raft_leader_id") == ld.id
    assert value(mf, "redis_cluster_raft_is_leader") == 0
    assert value(mf, "redis_master_last_io_seconds_ago") <= 1
