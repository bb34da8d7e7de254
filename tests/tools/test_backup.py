"""BGSAVE/SAVE backups of a running RaftKV node and --restore-from: a
backup taken while writes run holds one applied index's key space (the
writes form a prefix, a MULTI's two counters agree), and a new node or a
new 3-node cluster started from it has exactly that key space and takes
writes."""
import os
import shutil
import subprocess
import tempfile
import threading

import pytest
import redis

import compat
from compat import info, wait_until
from rdbdata import assert_same_keyspace, client, fill, keyspace


@pytest.fixture(scope="module")
def workdir():
    d = tempfile.mkdtemp(prefix="backup-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def read_info(d):
    out = {}
    with open(os.path.join(d, "backup.info")) as f:
        for line in f:
            k, _, v = line.strip().partition(" ")
            out[k] = v
    return out


def wait_backup_done(node):
    def done():
        p = info(node.host, node.port, "persistence")
        return p["rdb_bgsave_in_progress"] == "0" and p
    return wait_until(done, 60, "the backup to end")


class Writer(threading.Thread):
    """SET seq:<i> <i> one at a time, and a MULTI that increments a and b
    together; acked counts the SETs answered."""

    def __init__(self, srv):
        super().__init__(daemon=True)
        self.r = client(srv)
        self.stop_flag = threading.Event()
        self.acked = 0
        self.error = None

    def run(self):
        try:
            while not self.stop_flag.is_set():
                self.r.set("seq:%d" % self.acked, str(self.acked))
                self.acked += 1
                p = self.r.pipeline(transaction=True)
                p.incr("a")
                p.incr("b")
                p.execute()
        except Exception as e:  # reported by the test
            self.error = e

    def stop(self):
        self.stop_flag.set()
        self.join(30)
        assert not self.is_alive()
        if self.error:
            raise self.error


@pytest.fixture(scope="module")
def backup(workdir):
    """A node with the data set and a writer running; BGSAVE in the middle.
    Returns (backup dir copy, backup.info, the node's static key space,
    SETs acked before BGSAVE was sent)."""
    node = compat.Server("raftkv").start()
    try:
        fill(node, with_streams=False)
        static = keyspace(node)
        w = Writer(node)
        w.start()
        wait_until(lambda: w.acked >= 200 or w.error, 60, "200 writes")
        before = w.acked
        assert client(node).bgsave()
        p = wait_backup_done(node)
        wait_until(lambda: w.acked >= before + 200 or w.error, 60, "200 more writes")
        w.stop()
        assert p["rdb_last_bgsave_status"] == "ok", p
        src = os.path.join(node.dir, "backup")
        assert sorted(os.listdir(src)) == ["backup.info", "data.mdb"], os.listdir(src)
        assert not os.path.exists(src + ".tmp")
        meta = read_info(src)
        assert int(p["backup_last_applied_index"]) == int(meta["applied-index"]), (p, meta)
        dst = os.path.join(workdir, "backup1")
        shutil.copytree(src, dst)
        yield dst, meta, static, before, w.acked
    finally:
        node.stop()


def check_restored(srv, static, before, total):
    """The key space is the static data, a prefix seq:0..m-1 of the writes
    with m >= the SETs acked before BGSAVE, and a == b."""
    ks = keyspace(srv)
    seq = {k: v for k, v in ks.items() if k[1].startswith(b"seq:")}
    rest = {k: v for k, v in ks.items() if not k[1].startswith(b"seq:") and k[1] not in (b"a", b"b")}
    assert_same_keyspace(static, rest, "restored static data")
    m = len(seq)
    print("restored: %d of %d writes (%d acked before BGSAVE), %d keys" % (m, total, before, len(ks)))
    assert before <= m <= total, (before, m, total)
    for i in range(m):
        assert seq.get((0, b"seq:%d" % i), (None, None))[1] == str(i).encode(), "seq:%d missing: not a prefix" % i
    c = client(srv)
    a, b = c.get("a"), c.get("b")
    assert a == b, "MULTI's two counters differ in the backup: %r %r" % (a, b)
    return m


def test_format_of_backup_info(backup):
    _, meta, _, _, _ = backup
    assert meta["format"] == "raftkv-backup-1"
    assert int(meta["applied-index"]) > 0 and int(meta["tau"]) > 0
    assert meta["node-id"] == "1"


def test_restore_into_a_new_node(backup):
    d, meta, static, before, total = backup
    with compat.Server("raftkv", ["--restore-from", d]) as node:
        check_restored(node, static, before, total)
        r = info(node.host, node.port, "raft")
        assert int(r["raft_snapshot_index"]) == int(meta["applied-index"]), r
        c = client(node)
        assert c.set("after-restore", "1") and c.get("after-restore") == b"1"
        assert "Restored the backup" in node.log()


def test_restore_into_a_new_3_node_cluster(backup):
    d, meta, static, before, total = backup
    cl = compat.start_raftkv_cluster(3, extra_args=["--restore-from", d])
    try:
        ms = {check_restored(n, static, before, total) for n in cl.nodes}
        assert len(ms) == 1, ms
        ld = cl.leader()
        client(ld).set("after-restore", "yes")
        for n in cl.nodes:
            wait_until(lambda: client(n).get("after-restore") == b"yes", 30,
                       "node %d to see the write" % n.id, interval=0.05)
    finally:
        cl.stop()


def test_restore_refuses_a_directory_with_data(backup, workdir):
    d = backup[0]
    datadir = os.path.join(workdir, "used-data")
    with compat.Server("raftkv") as node:
        client(node).set("x", "1")
        node.proc.terminate()
        node.proc.wait(30)
        # The state file is as large as its map (64 GB) and sparse: cp keeps
        # the holes, where shutil.copytree would write every zero.
        subprocess.run(["cp", "-a", "--sparse=always", node.dir, datadir], check=True, timeout=60)
    p = subprocess.run([os.environ["RAFTKV_SERVER"], "--port", str(compat.pick_port()), "--bind", "127.0.0.1",
                        "--dir", datadir, "--restore-from", d], capture_output=True, timeout=60)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    assert p.returncode != 0, out
    assert "already holds a node's data" in out, out


def test_restore_refuses_a_directory_that_is_no_backup(workdir):
    empty = tempfile.mkdtemp(dir=workdir)
    datadir = tempfile.mkdtemp(dir=workdir)
    p = subprocess.run([os.environ["RAFTKV_SERVER"], "--port", str(compat.pick_port()), "--bind", "127.0.0.1",
                        "--dir", datadir, "--restore-from", empty], capture_output=True, timeout=60)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    assert p.returncode != 0, out
    assert "not a RaftKV backup directory" in out, out


def test_save_blocks_until_written_and_lastsave_moves(workdir):
    target = os.path.join(workdir, "custom-backup")
    with compat.Server("raftkv", ["--backup-dir", target]) as node:
        c = client(node)
        c.set("k", "v")
        assert c.save()
        assert sorted(os.listdir(target)) == ["backup.info", "data.mdb"]
        assert int(read_info(target)["applied-index"]) > 0
        p = info(node.host, node.port, "persistence")
        assert p["rdb_bgsave_in_progress"] == "0" and p["rdb_last_bgsave_status"] == "ok"
        assert abs(c.lastsave().timestamp() - int(p["rdb_last_save_time"])) < 2
        c.set("k2", "v2")
        assert c.save()  # replaces the previous backup
        assert sorted(os.listdir(target)) == ["backup.info", "data.mdb"]
        assert not os.path.exists(target + ".old") and not os.path.exists(target + ".tmp")
        with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
            c.execute_command("SAVE", "now")
        assert c.execute_command("BGSAVE", "SCHEDULE") in (b"Background saving started", b"Background saving scheduled", "Background saving started", "Background saving scheduled", True)
        wait_backup_done(node)
