"""Real raftkv-server nodes on 127.0.0.11, .12, ... inside the run's network
namespace, with what the faults need: kill -9 and restart, SIGSTOP/SIGCONT,
a per-node fake clock, and the observations the checks need (INFO raft,
the key space read locally with READONLY).

Every process is started from the main thread (PR_SET_PDEATHSIG fires when
the *thread* that forked the child exits, so a node started from a worker
thread would die with it), stopped by pid, and the data dirs live in one temp
dir that cleanup() removes. Waits poll with a deadline."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import redis

import powerfs

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import testproc  # noqa: E402  (tests/pylib)
import tlscerts  # noqa: E402

SERVER_BIN = os.environ.get("RAFTKV_SERVER")
FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
SECRET = "fault-secret"
PORT = 7379  # the same on every node: each has its own address
# With TLS between peers (Cluster(tls=True)), PORT in `cluster` is each node's
# tls-port (tls-cluster yes) and the clients of the harness use this plain one.
CLIENT_PORT_TLS = 7380
def host_of(nid):
    return "127.0.0.%d" % (10 + nid)


def parse_raft_info(text):
    """INFO raft text -> {field: str}, with the transfers in progress as
    lists of dicts: "out" (raft_snapshot_out:peer=..,index=..,bytes_sent=..,
    on a sender, one per peer) and "in" (raft_snapshot_in:from=..,index=..,
    bytes=.., on a receiver). Numbers in those dicts are ints or floats."""
    info = {"out": [], "in": []}
    for line in text.splitlines():
        if ":" not in line or line.startswith("#"):
            continue
        k, v = line.split(":", 1)
        if k in ("raft_snapshot_out", "raft_snapshot_in"):
            d = {}
            for item in v.split(","):
                kk, _, vv = item.partition("=")
                try:
                    d[kk] = int(vv)
                except ValueError:
                    d[kk] = float(vv)
            info["out" if k.endswith("out") else "in"].append(d)
        else:
            info[k] = v.strip()
    return info


def wait_until(cond, timeout, what):
    """cond() until it is truthy; redis and socket errors count as 'not yet'."""
    return testproc.wait_until(cond, timeout, what, interval=0.05,
                               retry_on=(redis.RedisError, OSError), error=TimeoutError)


class FakeClock:
    """A node's clock under libfaketime, changed at run time through
    FAKETIME_TIMESTAMP_FILE (re-read at every call: FAKETIME_NO_CACHE=1).

    libfaketime reports start + offset + (now - start) * rate, where start is
    when the process loaded it. Changing the rate alone would jump the clock
    by (now - start) * (old - new), so set_rate() moves the offset by the same
    amount and the clock stays continuous (to within the few ms between
    Popen and the library's start).

    mode "wall": FAKETIME_DONT_FAKE_MONOTONIC=1, only the wall clock is
    faked (an NTP step or slew): tau, expiry and TTLs move, the Raft ticks
    and the lease (CLOCK_MONOTONIC, and libevent's timers) do not.
    mode "all": CLOCK_MONOTONIC too, as a drifting oscillator would; libevent
    then runs the 10 ms tick at the faked rate (libfaketime also scales
    epoll_wait's timeout), so election and heartbeat timers drift with it.
    A backward jump in this mode would stall every timer until the faked
    monotonic clock caught up, which no real clock does: "all" nodes only
    get rate changes."""

    def __init__(self, path, mode):
        assert mode in ("wall", "all")
        self.path, self.mode = path, mode
        self.offset, self.rate = 0.0, 1.0
        self.now = time.monotonic  # the real clock (a test may put its own)
        self.started = self.now()
        self._write()

    def env(self):
        env = {"LD_PRELOAD": FAKETIME_LIB, "FAKETIME_TIMESTAMP_FILE": self.path,
               "FAKETIME_NO_CACHE": "1"}
        if self.mode == "wall":
            env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
        return env

    def process_started(self):
        """The node (re)started: libfaketime starts again from the file's
        offset; the rate's accumulated skew is gone, as after a reboot."""
        self.started = self.now()

    def skew(self):
        """Seconds this clock is ahead of the real one now."""
        return self.offset + (self.now() - self.started) * (self.rate - 1.0)

    def jump(self, seconds):
        assert self.mode == "wall", "a monotonic clock never jumps"
        self.offset += seconds
        self._write()

    def set_rate(self, rate):
        elapsed = self.now() - self.started
        self.offset += elapsed * (self.rate - rate)
        self.rate = rate
        self._write()

    def reset(self):
        """Back to real time: a jump for "wall" clocks; an "all" clock only
        gets its rate back (its accumulated skew stays, as it would)."""
        if self.mode == "wall":
            self.offset, self.rate = 0.0, 1.0
            self.started = self.now()
            self._write()
        else:
            self.set_rate(1.0)

    def _write(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write("%+.3f x%.4f\n" % (self.offset, self.rate))
        os.replace(tmp, self.path)  # never a half-written spec


class Node:
    def __init__(self, cluster, nid):
        self.cluster, self.id = cluster, nid
        self.host = host_of(nid)
        self.port = CLIENT_PORT_TLS if cluster.tls else PORT
        self.dir = os.path.join(cluster.root, "n%d" % nid)
        self.logpath = os.path.join(cluster.root, "n%d.out" % nid)
        self.proc = None
        self.paused = False
        self.clock = None
        self.fs = None
        if cluster.powerfs:
            # The mount is the node's disk (backed by n<i>.disk); the data
            # dir is made in it by the server, so its own name in the mount
            # must be made durable too.
            self.fs = powerfs.PowerFS(os.path.join(cluster.root, "n%d.disk" % nid), self.dir,
                                      logpath=os.path.join(cluster.root, "n%d.powerfs.out" % nid))
            self.dir = os.path.join(self.dir, "data")
        if cluster.clock_mode:
            self.clock = FakeClock(os.path.join(cluster.root, "n%d.clock" % nid), cluster.clock_mode)

    def __repr__(self):
        return "n%d" % self.id

    def argv(self):
        return [SERVER_BIN, "--node-id", str(self.id), "--cluster", self.cluster.spec,
                "--cluster-secret", SECRET, "--bind", self.host, "--port", str(self.port),
                "--dir", self.dir] + self.cluster.tls_args() + self.cluster.server_args

    def env(self):
        env = dict(os.environ)
        # A node that hangs gets SIGABRT from wait_up(); ASan then prints
        # where it was.
        asan = env.get("ASAN_OPTIONS", "")
        env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "handle_abort=1"
        if self.clock:
            env.update(self.clock.env())
            # ASan insists on being first in the link order; libfaketime is
            # preloaded before it, which is harmless here. But libfaketime's
            # constructor mallocs (dlsym's error path) before it is ready;
            # when that malloc is the first of its size class, ASan's
            # allocator, holding its lock, reads the clock for its
            # release-to-OS timer, that clock_gettime re-enters libfaketime's
            # initialisation, which mallocs again: a deadlock before main().
            # Whether it happens depends on the binary's earlier allocations
            # (a fresh clone in another directory hung at every start, this
            # checkout never). Without the release-to-OS timer ASan never
            # reads the clock there.
            env["ASAN_OPTIONS"] += ":verify_asan_link_order=0:allocator_release_to_os_interval_ms=-1"
        return env

    def start(self, wait=True):
        assert threading.current_thread() is threading.main_thread()
        assert not self.alive()
        if self.fs and not self.fs.mounted():
            self.fs.start()
        with open(self.logpath, "ab") as log:
            log.write(b"=== start %.3f\n" % time.monotonic())
            log.flush()
            self.proc = subprocess.Popen(self.argv(), env=self.env(), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True, preexec_fn=testproc.die_with_parent)
        if self.clock:
            self.clock.process_started()
        self.paused = False
        if wait:
            self.wait_up()
        return self

    def wait_up(self, timeout=30.0):
        try:
            wait_until(lambda: self.alive() and self.ping(), timeout, "%r to answer" % self)
        except TimeoutError as e:
            raise TimeoutError("%s; %s" % (e, self.hang_report())) from None

    def hang_report(self):
        """Where a live node that does not answer is stuck: its kernel state,
        then SIGABRT (ASan prints the stack into the node's output)."""
        if not self.alive():
            return "the process exited with %s" % self.proc.returncode
        pid, facts = self.proc.pid, []
        for name in ("wchan", "stack"):
            facts.append("%s: %s" % (name, testproc.read_text("/proc/%d/%s" % (pid, name),
                                                               missing="?").strip()))
        state = [l for l in testproc.read_text("/proc/%d/status" % pid).splitlines()
                 if l.startswith(("State:", "Threads:"))]
        exe = testproc.read_text("/proc/%d/cmdline" % pid).split("\0")[0]
        try:
            os.kill(pid, signal.SIGCONT)
            os.kill(pid, signal.SIGABRT)
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            pass
        return "hang report for %r (exe %s): %s; %s; its stack, if ASan printed one, is in %s" % (
            self, exe, "; ".join(state), "; ".join(facts), self.logpath)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)  # also ends a stopped process
            self.proc.wait(timeout=30)
        self.paused = False

    def power_loss(self):
        """The node's machine loses power: kill -9, then its file system
        forgets everything not fsynced (the page cache goes with the power).
        Returns powerfs's report. start() mounts what is left."""
        self.kill()
        return self.fs.power_loss()

    def pause(self):
        if self.alive() and not self.paused:
            os.kill(self.proc.pid, signal.SIGSTOP)
            self.paused = True

    def resume(self):
        if self.alive() and self.paused:
            os.kill(self.proc.pid, signal.SIGCONT)
        self.paused = False

    def stop(self):
        """SIGTERM and wait: the exit code (0 is a clean stop), or None."""
        if not self.alive():
            return self.proc.returncode if self.proc else 0
        self.resume()
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
            return None

    def client(self, timeout=5.0):
        return redis.Redis(host=self.host, port=self.port, socket_timeout=timeout,
                           socket_connect_timeout=timeout)

    def ping(self):
        with self.client(2.0) as r:
            return r.ping()

    def raft(self, timeout=2.0):
        with self.client(timeout) as r:  # closed at once: polling must not pile up connections
            return r.info("raft")

    def raft_text(self, timeout=2.0):
        """INFO raft as the node wrote it: redis-py's parsed dict keeps only
        the last of several raft_snapshot_out lines (one per peer)."""
        c = redis.Connection(host=self.host, port=self.port, socket_timeout=timeout,
                             socket_connect_timeout=timeout)
        try:
            c.connect()
            c.send_command("INFO", "raft")
            v = c.read_response()
        finally:
            c.disconnect()
        return v.decode() if isinstance(v, bytes) else v

    def snapshots(self, timeout=2.0):
        """parse_raft_info() of this node's INFO raft."""
        return parse_raft_info(self.raft_text(timeout))

    def log_size(self):
        try:
            return os.path.getsize(self.logpath)
        except OSError:
            return 0

    def log_since(self, offset):
        """The node's output from byte offset on (log_size() taken earlier)."""
        return testproc.read_text(self.logpath, offset)

    def log_text(self):
        return testproc.read_text(self.logpath)


class Cluster:
    """n nodes; server_args are the flags every node gets; clock_mode None,
    "wall" or "all" (see FakeClock); powerfs: every data dir is a powerfs
    mount, so a node can lose power (Node.power_loss)."""

    def __init__(self, n, server_args, clock_mode=None, keep_root=None, powerfs=False, tls=False):
        assert SERVER_BIN, "RAFTKV_SERVER must point at raftkv-server"
        self.root = tempfile.mkdtemp(prefix="raftkv-fault-")
        # tls: peers speak mutual TLS to each other (tls-cluster yes), with a
        # CA and one node certificate made for the run.
        self.tls = None
        if tls:
            d = os.path.join(self.root, "tls")
            os.mkdir(d)
            ca = tlscerts.make_ca(d)
            self.tls = {"ca": ca, "node": tlscerts.issue(d, ca, "node")}
        self.powerfs = powerfs
        self.server_args = list(server_args)
        self.clock_mode = clock_mode
        self.spec = ",".join("%d=%s:%d" % (i, host_of(i), PORT) for i in range(1, n + 1))
        self.nodes = [Node(self, i) for i in range(1, n + 1)]
        self.crashes = []  # (node id, exit code) of exits no fault caused

    def node(self, nid):
        """The node of id nid. Ids are not positions: a membership fault
        appends a spare (ids never reused, so a second spare is n + 2) and
        removes it again while clients pick nodes."""
        for nd in list(self.nodes):
            if nd.id == nid:
                return nd
        raise KeyError("no node %d in the cluster" % nid)

    def tls_args(self):
        if not self.tls:
            return []
        return ["--tls-cluster", "yes", "--tls-cert-file", self.tls["node"]["cert"],
                "--tls-key-file", self.tls["node"]["key"], "--tls-ca-cert-file", self.tls["ca"]["cert"]]

    def ids(self):
        return [nd.id for nd in self.nodes]

    def start(self):
        for nd in self.nodes:
            nd.start(wait=False)
        for nd in self.nodes:
            nd.wait_up()
        return self

    def election_timeout_s(self):
        return float(self._arg("--election-timeout", 1000)) / 1000.0

    def _arg(self, name, default):
        a = self.server_args
        return a[a.index(name) + 1] if name in a else default

    def check_alive(self, expected_down=()):
        """Records every node that exited though no fault killed it."""
        for nd in self.nodes:
            if nd.id in expected_down or nd.proc is None:
                continue
            rc = nd.proc.poll()
            if rc is not None and (nd.id, rc) not in self.crashes:
                self.crashes.append((nd.id, rc))
        return not self.crashes

    def leader_now(self):
        """The node that says it leads, if all live, reachable nodes agree."""
        views = {}
        for nd in self.nodes:
            if not nd.alive() or nd.paused:
                continue
            try:
                views[nd.id] = nd.raft(1.0)
            except (redis.RedisError, OSError):
                continue
        leaders = [nid for nid, v in views.items() if v.get("raft_role") == "leader"]
        if len(leaders) != 1:
            return None
        lid = leaders[0]
        if all(int(v.get("raft_leader_id", 0)) == lid for v in views.values()):
            return self.node(lid)
        return None

    def some_leader(self):
        """Any node that says it leads now (for faults that target it)."""
        for nd in self.nodes:
            if nd.alive() and not nd.paused:
                try:
                    if nd.raft(1.0).get("raft_role") == "leader":
                        return nd
                except (redis.RedisError, OSError):
                    pass
        return None

    def wait_leader(self, timeout):
        return wait_until(self.leader_now, timeout, "a leader every live node agrees on")

    def wait_writable(self, timeout):
        """A leader is elected and a write through it is acknowledged; returns
        the seconds it took (the liveness check after heal)."""
        t0 = time.monotonic()

        def write():
            ld = self.leader_now()
            if not ld:
                return False
            with ld.client(2.0) as r:
                return r.set("__liveness__", str(t0))
        wait_until(write, timeout, "a leader that acknowledges a write")
        return time.monotonic() - t0

    def wait_applied_converged(self, timeout):
        """Every node has applied the same index, which is the leader's commit."""
        def same():
            infos = [nd.raft(2.0) for nd in self.nodes]
            applied = {int(i["raft_applied_index"]) for i in infos}
            commits = {int(i["raft_commit_index"]) for i in infos}
            return len(applied) == 1 and applied == commits
        wait_until(same, timeout, "every node to apply the same index")

    def dump_node(self, nd):
        """{key: (value, pexpiretime)} from nd's own state (READONLY), and the
        applied index it was read at; None if the index moved meanwhile."""
        with nd.client(5.0) as r:
            before = int(r.info("raft")["raft_applied_index"])
            conn = r.connection_pool.get_connection("READONLY")
            try:
                conn.send_command("READONLY")
                assert conn.read_response() == b"OK"
                conn.send_command("KEYS", "*")
                keys = sorted(conn.read_response())
                space = {}
                for i in range(0, len(keys), 500):  # pipelined: thousands of keys with a preload
                    part = keys[i:i + 500]
                    cmds = []
                    for k in part:
                        cmds += [("GET", k), ("PEXPIRETIME", k)]
                    conn.send_packed_command(conn.pack_commands(cmds))
                    others = []
                    for k in part:
                        try:
                            v = conn.read_response()
                        except redis.exceptions.ResponseError as e:
                            if not str(e).startswith("WRONGTYPE"):
                                raise
                            others.append(k)  # not a string: below
                            v = None
                        space[k.decode()] = (v, conn.read_response())
                    for k in others:  # a set (the set workload) or a list (the queue workload)
                        conn.send_command("TYPE", k)
                        typ = conn.read_response()
                        if typ in (b"list", "list"):
                            conn.send_command("LRANGE", k, 0, -1)
                            value = ("list", tuple(conn.read_response()))
                        else:
                            conn.send_command("SMEMBERS", k)
                            value = ("set", tuple(sorted(conn.read_response())))
                        space[k.decode()] = (value, space[k.decode()][1])
            finally:
                r.connection_pool.release(conn)
            after = int(r.info("raft")["raft_applied_index"])
        return (space, before) if before == after else None

    def dump_all(self, timeout):
        """Every node's key space at one common applied index."""
        def dumps():
            self.wait_applied_converged(timeout)
            out = {}
            for nd in self.nodes:
                d = self.dump_node(nd)
                if d is None:
                    return None
                out[nd.id] = d
            if len({idx for _, idx in out.values()}) != 1:
                return None
            return {nid: space for nid, (space, _) in out.items()}
        return wait_until(dumps, timeout, "a key-space dump at one applied index on every node")

    def heal_processes(self):
        """SIGCONT the paused, restart the dead (the clock stays as it is)."""
        for nd in self.nodes:
            nd.resume()
        for nd in self.nodes:
            if not nd.alive():
                nd.start(wait=False)
        for nd in self.nodes:
            nd.wait_up()

    def sanitizer_reports(self):
        out = []
        for nd in self.nodes:
            report = testproc.sanitizer_excerpt(nd.log_text(), after=4000)
            if report:
                out.append("node %d sanitizer report:\n%s" % (nd.id, report))
        return out

    def stop_all(self):
        """Stops every node by pid; the problems seen (unclean exits)."""
        problems = []
        for nd in self.nodes:
            if not nd.alive():
                continue
            rc = nd.stop()
            if rc != 0:
                problems.append("node %d did not stop cleanly on SIGTERM (rc=%s)" % (nd.id, rc))
        return problems

    def save_logs(self, dest):
        os.makedirs(dest, exist_ok=True)
        for nd in self.nodes:
            if os.path.exists(nd.logpath):
                shutil.copy(nd.logpath, os.path.join(dest, "n%d.out" % nd.id))
            if nd.fs and os.path.exists(nd.fs.logpath):
                shutil.copy(nd.fs.logpath, os.path.join(dest, "n%d.powerfs.out" % nd.id))

    def unmount_all(self):
        """Unmounts every powerfs (the nodes must be stopped); the problems."""
        problems = []
        for nd in self.nodes:
            if not nd.fs:
                continue
            try:
                nd.fs.stop()
            except (RuntimeError, TimeoutError, OSError) as e:
                problems.append("powerfs of node %d: %s" % (nd.id, e))
            finally:
                nd.fs.kill()
        return problems

    def cleanup(self):
        for nd in self.nodes:
            if nd.alive():
                nd.resume()
                nd.kill()
        self.unmount_all()  # never rmtree through a mount
        if not any(nd.fs and nd.fs.mounted() for nd in self.nodes):
            shutil.rmtree(self.root, ignore_errors=True)
