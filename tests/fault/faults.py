"""Faults: small pieces with start() and heal(), composable (each undoes only
what it did). A fault draws every random choice when it is made, from the
schedule's seeded rng, so a seed replays the same faults in the same order;
"the leader" is resolved when the fault starts (it depends on the run).

start() returns a one-line description for the log and the history.
`down` is the set of node ids the fault keeps from running, so the run can
tell a node it killed from one that crashed."""
import random
import subprocess
import time

import redis

from cluster import host_of

PRELOAD_KEYS = 3000  # p:00000.. written before the faults by scenarios with a preload


class Fault:
    family = "?"
    down = frozenset()
    phased = False  # drives itself through several phases (drive() below)
    extra_s = 0.0   # seconds it takes beyond quiet + hold, for the schedule's plan
    problems = ()   # what it found wrong (a phased fault checks as it goes)
    notes = ()

    def start(self, cl):
        raise NotImplementedError

    def heal(self, cl):
        raise NotImplementedError

    def drive(self, cl, hold, log, watch):
        """The whole fault: start, hold (watch(seconds, down) sleeps while
        noticing nodes that exit on their own), heal."""
        what = self.start(cl)
        log("start", what)
        watch(hold, self.down)
        self.heal(cl)
        log("heal", what)


def _pick(rng, ids, k):
    return sorted(rng.sample(list(ids), k))


def _resolve_leader(cl, fallback):
    ld = cl.some_leader()
    return ld.id if ld else fallback


# --- processes -----------------------------------------------------------

class Kill(Fault):
    """kill -9 of one node, the leader, a majority or all; heal restarts them
    (from their data dirs: the crash the log's fsync must survive)."""
    family = "kill"

    def __init__(self, rng, n, target):
        assert target in ("one", "leader", "majority", "all")
        self.target = target
        self.fallback = rng.choice(range(1, n + 1))
        self.chosen = {"one": [self.fallback], "all": list(range(1, n + 1)),
                       "majority": _pick(rng, range(1, n + 1), n // 2 + 1)}.get(target)

    def start(self, cl):
        ids = self.chosen or [_resolve_leader(cl, self.fallback)]
        self.down = frozenset(ids)
        for nid in ids:
            cl.node(nid).kill()
        return "kill -9 %s: %s" % (self.target, ids)

    def heal(self, cl):
        for nid in self.down:
            if not cl.node(nid).alive():  # a fault beside it (Both) may have restarted it
                cl.node(nid).start(wait=False)
        for nid in self.down:
            cl.node(nid).wait_up()
        self.down = frozenset()


class KillEvictingLeader(Kill):
    """kill -9 of the leader while it proposes evictions (the evict
    scenario), never of node `keep`, whose keyspace notifications must stay
    whole for the whole run (scenarios._check_evict). If keep leads when the
    fault starts, leadership is first handed to `to` (drawn among the
    others) by RAFT.TRANSFER, asked again each election timeout until some
    other node leads, and that node is killed: every such fault kills a
    leader, none kills keep. No leader other than keep within LEAD_WAIT_S
    fails the run (RuntimeError). The kill waits (EVICT_WAIT_S at most) for
    the leader's INFO stats raftkv_eviction_entries (eviction entries it
    proposed) to grow while it leads, so it dies while it evicts; a kill
    without that is noted."""
    LEAD_WAIT_S = 10.0
    EVICT_WAIT_S = 3.0

    def __init__(self, rng, n, keep):
        self.target, self.keep = "leader", keep
        self.to = rng.choice([i for i in range(1, n + 1) if i != keep])
        self.notes = []

    def _leader(self, cl, end, asked):
        """The leader every live node agrees on, if it is not keep; else
        None, after asking keep (if it leads) to transfer. asked: [when the
        last transfer was asked, how many were]."""
        ld = cl.leader_now()
        if ld and ld.id != self.keep:
            return ld.id
        if ld and time.monotonic() - asked[0] >= cl.election_timeout_s():
            asked[0] = time.monotonic()
            try:
                with ld.client(2.0) as r:
                    r.execute_command("RAFT.TRANSFER", self.to)
                asked[1] += 1
            except (redis.RedisError, OSError):
                pass
        if time.monotonic() >= end:
            raise RuntimeError("no leader but the kept n%d within %.0f s (%d transfers asked): "
                               "no leader could be killed" % (self.keep, self.LEAD_WAIT_S, asked[1]))
        return None

    @staticmethod
    def _proposed(nd):
        """Eviction entries nd proposed so far, if it still leads; else None."""
        try:
            with nd.client(1.0) as r:
                n = int(r.info("stats").get("raftkv_eviction_entries", 0))
                role = r.info("raft").get("raft_role")
        except (redis.RedisError, OSError, ValueError):
            return None
        return n if role == "leader" else None

    def start(self, cl):
        t0 = time.monotonic()
        end, evict_end = t0 + self.LEAD_WAIT_S, t0 + self.EVICT_WAIT_S
        asked, base = [float("-inf"), 0], {}
        while True:
            nid = self._leader(cl, end, asked)
            n = self._proposed(cl.node(nid)) if nid else None
            if n is not None:
                if nid in base and n > base[nid]:
                    evicting = "proposing evictions: %d -> %d" % (base[nid], n)
                    break
                base.setdefault(nid, n)
                if time.monotonic() >= evict_end:
                    evicting = "no eviction proposed in %.0f s" % self.EVICT_WAIT_S
                    self.notes.append("kill-leader: n%d killed without having proposed an eviction "
                                      "in %.0f s as leader" % (nid, self.EVICT_WAIT_S))
                    break
            time.sleep(0.02)
        self.down = frozenset([nid])
        cl.node(nid).kill()
        moved = "; it led, RAFT.TRANSFER %d asked %d time(s)" % (self.to, asked[1]) if asked[1] else ""
        return "kill -9 leader: [%d] (n%d kept%s; %s)" % (nid, self.keep, moved, evicting)


class PowerLoss(Fault):
    """A power loss of one node, the leader, a minority or all nodes at once:
    kill -9, then each node's powerfs forgets everything not fsynced (file
    bytes since the file's last fsync/fdatasync, names since their
    directory's). heal restarts the nodes on what is left, and every one of
    them must start (Node.start waits for it to answer)."""
    family = "power-loss"

    def __init__(self, rng, n, target):
        assert target in ("one", "leader", "minority", "all")
        self.target = target
        self.fallback = rng.choice(range(1, n + 1))
        self.chosen = {"one": [self.fallback], "all": list(range(1, n + 1)),
                       "minority": _pick(rng, range(1, n + 1), (n - 1) // 2)}.get(target)
        self.problems = []

    def start(self, cl):
        ids = self.chosen or [_resolve_leader(cl, self.fallback)]
        self.down = frozenset(ids)
        for nid in ids:  # every machine goes dark before any disk is rolled back
            cl.node(nid).kill()
        lost = []
        for nid in ids:
            line = cl.node(nid).power_loss()
            lost.append("n%d %s" % (nid, line.split("power loss: ", 1)[-1]))
            if " 0 failed" not in line:  # the disk is not what was durable: the test is void
                self.problems.append("powerfs of n%d could not roll back: %s" % (nid, line))
        return "power loss %s: %s (%s)" % (self.target, ids, "; ".join(lost))

    def heal(self, cl):
        for nid in self.down:
            if not cl.node(nid).alive():  # a fault beside it (Both) may have restarted it
                cl.node(nid).start(wait=False)
        for nid in self.down:
            cl.node(nid).wait_up()
        self.down = frozenset()


class Pause(Fault):
    """SIGSTOP of one node, the leader or a majority for longer than the
    election timeout (the schedule's holds are), then SIGCONT: the paused
    leader wakes up believing it still leads (a lease must not let it
    answer a read)."""
    family = "pause"

    def __init__(self, rng, n, target):
        assert target in ("one", "leader", "majority")
        self.target = target
        self.fallback = rng.choice(range(1, n + 1))
        self.chosen = {"one": [self.fallback],
                       "majority": _pick(rng, range(1, n + 1), n // 2 + 1)}.get(target)
        self.ids = []

    def start(self, cl):
        self.ids = self.chosen or [_resolve_leader(cl, self.fallback)]
        for nid in self.ids:
            cl.node(nid).pause()
        return "SIGSTOP %s: %s" % (self.target, self.ids)

    def heal(self, cl):
        for nid in self.ids:
            cl.node(nid).resume()


# --- network (iptables in the run's namespace) -----------------------------

def iptables(*args):
    out = subprocess.run(("iptables",) + args, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("iptables %s: %s" % (" ".join(args), out.stderr.strip()))


def _rule(src, dst, one_way):
    """Drops what src sends to dst. one_way: only on connections src opened
    (conntrack ORIGINAL direction), so dst's own connections to src, and
    src's TCP acks on them, still work: src can hear dst but not talk to it.
    (Dropping every packet src->dst would break TCP both ways.)"""
    r = ["INPUT", "-s", host_of(src), "-d", host_of(dst)]
    if one_way:
        r += ["-m", "conntrack", "--ctdir", "ORIGINAL"]
    return r + ["-j", "DROP"]


class Partition(Fault):
    """kinds: isolate-leader, majority-minority (the leader on a random
    side), bridge (two sides that cannot talk, one node that sees both),
    one-way (a node that cannot send to the others, or cannot receive)."""
    family = "partition"

    def __init__(self, rng, n, kind):
        assert kind in ("isolate-leader", "majority-minority", "bridge", "one-way")
        self.kind, self.n = kind, n
        ids = list(range(1, n + 1))
        rng.shuffle(ids)
        self.order = ids
        self.fallback = ids[0]
        self.outgoing = rng.random() < 0.5
        self.rules = []

    def _sides(self, cl):
        n, ids = self.n, self.order
        if self.kind == "isolate-leader":
            ld = _resolve_leader(cl, self.fallback)
            return [ld], [i for i in range(1, n + 1) if i != ld]
        if self.kind == "majority-minority":
            k = (n - 1) // 2
            return sorted(ids[:k]), sorted(ids[k:])
        if self.kind == "bridge":
            rest = ids[1:]  # ids[0] is the bridge
            h = len(rest) // 2
            return sorted(rest[:h]), sorted(rest[h:])
        return [ids[0]], sorted(ids[1:])

    def start(self, cl):
        a, b = self._sides(cl)
        pairs = []
        if self.kind == "one-way":
            src = a[0]
            pairs = [(src, d) for d in b] if self.outgoing else [(d, src) for d in b]
            self.rules = [_rule(s, d, True) for s, d in pairs]
        else:
            self.rules = [_rule(x, y, False) for x in a for y in b] + \
                         [_rule(y, x, False) for x in a for y in b]
        for r in self.rules:
            iptables("-A", *r)
        if self.kind == "one-way":
            return "one-way: n%d cannot %s %s" % (a[0], "send to" if self.outgoing else "receive from", b)
        if self.kind == "bridge":
            return "bridge: %s | n%d | %s" % (a, self.order[0], b)
        return "%s: %s | %s" % (self.kind, a, b)

    def heal(self, cl):
        for r in self.rules:
            iptables("-D", *r)
        self.rules = []


def heal_network():
    iptables("-F", "INPUT")


# --- clocks (libfaketime; see cluster.FakeClock) --------------------------

class ClockJump(Fault):
    """The wall clock of one node (or the leader) steps by +-seconds, as an
    NTP step would; heal steps it back to real time (another jump)."""
    family = "clock-jump"

    def __init__(self, rng, n, target, max_seconds):
        assert target in ("one", "leader")
        self.target = target
        self.fallback = rng.choice(range(1, n + 1))
        self.seconds = round(rng.uniform(1.0, max_seconds) * rng.choice((-1, 1)), 3)
        self.nid = None

    def start(self, cl):
        self.nid = self.fallback if self.target == "one" else _resolve_leader(cl, self.fallback)
        cl.node(self.nid).clock.jump(self.seconds)
        return "clock of n%d (%s) jumps %+.3f s" % (self.nid, self.target, self.seconds)

    def heal(self, cl):
        cl.node(self.nid).clock.reset()


class ClockRate(Fault):
    """One or more nodes' clocks run at another rate (continuously: no jump
    at the change); heal sets the rate back to 1 (the skew stays)."""
    family = "clock-rate"

    def __init__(self, rng, n, target, rates=(0.5, 0.7, 1.5, 2.0)):
        assert target in ("one", "leader", "all")
        self.target = target
        self.fallback = rng.choice(range(1, n + 1))
        self.rates = {i: rng.choice(rates) for i in range(1, n + 1)}
        self.ids = []

    def start(self, cl):
        if self.target == "all":
            self.ids = cl.ids()
        else:
            self.ids = [self.fallback if self.target == "one" else _resolve_leader(cl, self.fallback)]
        for nid in self.ids:
            cl.node(nid).clock.set_rate(self.rates[nid])
        return "clock rate %s: %s" % (self.target, ", ".join("n%d x%.1f" % (i, self.rates[i]) for i in self.ids))

    def heal(self, cl):
        for nid in self.ids:
            cl.node(nid).clock.set_rate(1.0)


# --- snapshots (issue 5) --------------------------------------------------

INSTALL_MARKS = ("Installed snapshot index ", "Finishing the install of snapshot index ")


def installed_indexes(text):
    """The indexes of the snapshots a node's output says it installed
    (server/snapshot.c: "Installed snapshot index N term T ...", or, after a
    crash between the state flip and the log reset, "Finishing the install
    of snapshot index N" at start-up)."""
    out = []
    for line in text.splitlines():
        for mark in INSTALL_MARKS:
            i = line.find(mark)
            if i >= 0:
                out.append(int(line[i + len(mark):].split()[0].rstrip(":")))
    return out


class SnapshotTransfer(Fault):
    """Forced log compaction and crashes in the middle of a snapshot
    transfer. Runs with a small raft-log-keep and raft-snapshot-max-rate
    (the `snapshot` scenario), so a transfer lasts seconds:

      1. a follower F is stopped (kill -9 or SIGSTOP, drawn);
      2. forced compaction: filler writes through the leader until every
         other node's raft_first_index is past the highest last index any
         of them had when F stopped, so whoever leads must send F a
         snapshot;
      3. F is restarted (or SIGCONT) and, by kind:
         catch-up            nothing more;
         kill-receiver       kill -9 F once INFO raft shows raft_snapshot_in
                             (a chunk staged, nothing installed), restart;
         kill-sender         kill -9 the node whose INFO shows
                             raft_snapshot_out:peer=F, restart it;
         pause-receiver      SIGSTOP F mid-transfer, SIGCONT;
         kill-receiver-late  kill -9 F 1.2-2.8 s (drawn) after the first
                             chunk: around the last chunk and the install,
                             so maybe after it (not required mid-transfer);
         partition-receiver  cut F from every node mid-transfer, heal;
         partition-sender    cut the sender from every node mid-transfer;
         each held for the schedule's hold;
      4. F must install a snapshot (its output says so, with an index past
         its old last index) within 60 s: a fault run fails otherwise,
         and also if a mid-transfer fault found the transfer already over.

    Phased: it drives itself (drive()), so it is never combined with
    another fault in one step."""
    family = "snapshot"
    phased = True
    extra_s = 7.0
    KINDS = ("catch-up", "kill-receiver", "kill-sender", "pause-receiver",
             "partition-receiver", "partition-sender", "kill-receiver-late")
    COMPACT_TIMEOUT = 30.0
    TRANSFER_TIMEOUT = 30.0
    INSTALL_TIMEOUT = 60.0

    def __init__(self, rng, n, kind):
        assert kind in self.KINDS
        self.kind, self.n = kind, n
        self.order = list(range(1, n + 1))
        rng.shuffle(self.order)
        self.stop_how = rng.choice(("kill", "pause"))
        self.filler_seed = rng.randrange(1 << 30)
        # kill-receiver-late: seconds after the first chunk is staged; the
        # last chunk of a ~700 KB snapshot at 256 KB/s comes about 2 s
        # after it, so the kill falls before, during or just after the
        # install (the state flip, then the log reset)
        self.late = round(rng.uniform(1.2, 2.8), 2) if kind == "kill-receiver-late" else None
        self.down = frozenset()
        self.problems, self.notes = [], []
        self._killed, self._paused, self._rules = set(), set(), []

    # -- helpers

    def _wait(self, cl, cond, timeout):
        """Polls cond() (errors count as not yet) while watching for nodes
        that exit on their own; its value, or None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            cl.check_alive(self.down)
            try:
                v = cond()
                if v:
                    return v
            except (redis.RedisError, OSError):
                pass
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    def _kill(self, cl, nid):
        cl.node(nid).kill()
        self._killed.add(nid)
        self.down = frozenset(self._killed)

    def _restart(self, cl, nid):
        cl.node(nid).start(wait=False)
        self._killed.discard(nid)
        self.down = frozenset(self._killed)

    def _pause(self, cl, nid):
        cl.node(nid).pause()
        self._paused.add(nid)

    def _resume(self, cl, nid):
        cl.node(nid).resume()
        self._paused.discard(nid)

    def _isolate(self, nid):
        rules = []
        for o in range(1, self.n + 1):
            if o != nid:
                rules += [_rule(nid, o, False), _rule(o, nid, False)]
        for r in rules:
            iptables("-A", *r)
        self._rules += rules

    def _undo(self, cl):
        """Whatever is still in force (after a timeout or an exception)."""
        for r in self._rules:
            iptables("-D", *r)
        self._rules = []
        for nid in list(self._paused):
            self._resume(cl, nid)
        killed = list(self._killed)
        for nid in killed:
            self._restart(cl, nid)
        for nid in killed:
            cl.node(nid).wait_up()

    def _others_info(self, cl, f):
        """INFO raft of every live, running node but f."""
        out = {}
        for nd in cl.nodes:
            if nd.id != f and nd.alive() and not nd.paused:
                out[nd.id] = nd.raft(1.0)
        return out

    def _fill(self, cl, rng, n):
        """n filler writes through the leader (overwrites of the preloaded
        p:* keys, some with an expiry an hour away, which the snapshot must
        carry)."""
        ld = cl.leader_now()
        if not ld:
            return
        with ld.client(5.0) as r:
            p = r.pipeline(transaction=False)
            for _ in range(n):
                k = "p:%05d" % rng.randrange(PRELOAD_KEYS)
                v = "f%d-" % rng.randrange(1 << 30) + "x" * 100
                if rng.random() < 0.2:
                    p.set(k, v, px=3600000)
                else:
                    p.set(k, v)
            p.execute(raise_on_error=False)

    def _transfer(self, cl, f):
        """(sender id or None, the receiver's raft_snapshot_in or None) while
        a transfer to f is under way; None if none is."""
        sender = None
        for nd in cl.nodes:
            if nd.id != f and nd.alive() and not nd.paused:
                try:
                    outs = nd.snapshots(1.0)["out"]
                except (redis.RedisError, OSError):
                    continue
                if any(o["peer"] == f and o["bytes_sent"] > 0 for o in outs):
                    sender = nd.id
        rin = cl.node(f).snapshots(1.0)["in"]
        rin = rin[0] if rin and rin[0]["bytes"] > 0 else None
        if self.kind.endswith("sender"):
            return (sender, rin) if sender else None
        return (sender, rin) if rin else None

    # -- the phases

    def drive(self, cl, hold, log, watch):
        try:
            self._drive(cl, hold, log, watch)
        finally:
            self._undo(cl)

    def _drive(self, cl, hold, log, watch):
        rng = random.Random(self.filler_seed)
        ld = self._wait(cl, cl.leader_now, 20)
        if not ld:
            self.problems.append("snapshot fault: no leader every node agrees on within 20 s")
            return
        f = next(i for i in self.order if i != ld.id)
        # 1. stop the follower
        if self.stop_how == "kill":
            self._kill(cl, f)
        else:
            self._pause(cl, f)
        # What F can still receive: a paused process's sockets take data
        # (entries the leader sends it land in its buffers and are applied
        # when it resumes), until the leader's transport gives up on it (no
        # reply within the election timeout: connected=0; a connection is
        # used again only after F answers a new RAFT.HELLO). Then F's log
        # ends at or below the last index of every node now. (Followers
        # send F nothing, so their idle connections stay "connected"; one
        # that leads later starts at its own last index, past F's log.)
        def cut_off():
            infos = self._others_info(cl, f)
            leaders = [i for i in infos.values() if i.get("raft_role") == "leader"]
            if len(infos) == self.n - 1 and len(leaders) == 1 and \
                    int(leaders[0]["raft_peer%d" % f]["connected"]) == 0:
                return max(int(i["raft_last_index"]) for i in infos.values())
            return None
        bound = self._wait(cl, cut_off, 10)
        if not bound:
            self.problems.append("snapshot fault: the other nodes did not see n%d %s within 10 s"
                                 % (f, "die" if self.stop_how == "kill" else "stop answering"))
            return
        log("start", "snapshot %s: %s follower n%d (last index <= %d)"
            % (self.kind, "kill -9" if self.stop_how == "kill" else "SIGSTOP", f, bound))
        # 2. forced compaction past it, on every other node
        t0 = time.monotonic()

        def compacted():
            firsts = {nid: int(i["raft_first_index"]) for nid, i in self._others_info(cl, f).items()}
            if len(firsts) == self.n - 1 and min(firsts.values()) > bound + 1:
                return firsts
            self._fill(cl, rng, 200)
            return None
        firsts = self._wait(cl, compacted, self.COMPACT_TIMEOUT)
        if not firsts:
            self.problems.append("snapshot fault: the other nodes' logs were not compacted past n%d's "
                                 "last index %d within %.0f s" % (f, bound, self.COMPACT_TIMEOUT))
            return
        log("snapshot", "forced compaction in %.1f s: first indexes %s > %d"
            % (time.monotonic() - t0, firsts, bound))
        if self.kind == "catch-up":
            watch(hold, self.down)
        # 3. F back: it can only catch up by a snapshot
        off = cl.node(f).log_size()
        if self.stop_how == "kill":
            self._restart(cl, f)
        else:
            self._resume(cl, f)
        t_back = time.monotonic()
        log("snapshot", "n%d %s" % (f, "restarted" if self.stop_how == "kill" else "resumed"))
        if self.kind != "catch-up":
            if not self._mid_transfer(cl, f, off, bound, hold, log, watch):
                return
        # 4. it must install a snapshot past its old log
        got = self._wait(cl, lambda: [i for i in installed_indexes(cl.node(f).log_since(off))
                                      if i > bound], self.INSTALL_TIMEOUT)
        if not got:
            self.problems.append("snapshot fault %s: n%d installed no snapshot past index %d within "
                                 "%.0f s, though every other log starts at %s"
                                 % (self.kind, f, bound, self.INSTALL_TIMEOUT, firsts))
            return
        log("snapshot", "n%d installed snapshot index %d, %.1f s after it came back"
            % (f, got[-1], time.monotonic() - t_back))
        self.notes.append("snapshot %s: n%d installed index %d" % (self.kind, f, got[-1]))

    def _mid_transfer(self, cl, f, off, bound, hold, log, watch):
        """Returns whether the fault hit (step 5 follows)."""
        tr = self._wait(cl, lambda: self._transfer(cl, f), self.TRANSFER_TIMEOUT)
        done = installed_indexes(cl.node(f).log_since(off))
        if not tr or done:
            why = ("the transfer to n%d was over (installed %s) before the fault could hit it: raise "
                   "the preload or lower raft-snapshot-max-rate" % (f, done) if done else
                   "no snapshot transfer to n%d seen within %.0f s" % (f, self.TRANSFER_TIMEOUT))
            self.problems.append("snapshot fault %s: %s" % (self.kind, why))
            return False
        sender, rin = tr
        at = ("%d bytes staged from n%s" % (rin["bytes"], rin["from"]) if rin
              else "sent by n%d" % sender)
        staging = False  # F killed before it installed anything
        if self.kind == "kill-receiver":
            self._kill(cl, f)
            staging = True
            what = "kill -9 receiver n%d mid-transfer (%s)" % (f, at)
        elif self.kind == "kill-receiver-late":
            watch(self.late, self.down)
            self._kill(cl, f)
            done = installed_indexes(cl.node(f).log_since(off))
            staging = not done
            what = "kill -9 receiver n%d %.2f s after %s, %s" % (
                f, self.late, at, "after it installed index %d" % done[-1] if done else "before the install")
        elif self.kind == "pause-receiver":
            self._pause(cl, f)
            what = "SIGSTOP receiver n%d mid-transfer (%s)" % (f, at)
        elif self.kind == "partition-receiver":
            self._isolate(f)
            what = "isolate receiver n%d mid-transfer (%s)" % (f, at)
        elif self.kind == "kill-sender":
            self._kill(cl, sender)
            what = "kill -9 sender n%d mid-transfer to n%d (%s)" % (sender, f, at)
        else:
            self._isolate(sender)
            what = "isolate sender n%d mid-transfer to n%d (%s)" % (sender, f, at)
        log("snapshot", what)
        watch(hold, self.down)
        self._undo(cl)
        log("snapshot", "healed: " + what)
        if staging:
            self._check_old_state(cl, f, off, bound)
        return True

    def _check_old_state(self, cl, f, off, bound):
        """F was killed while staging: restarted, it has its old state (the
        live key space did not move), so until it installs a snapshot its
        applied index is within its old log (<= bound). INFO first, then
        the log: the install logs in the same pass as it flips."""
        try:
            applied = int(cl.node(f).raft(2.0)["raft_applied_index"])
        except (redis.RedisError, OSError):
            return
        if applied > bound and not installed_indexes(cl.node(f).log_since(off)):
            self.problems.append("snapshot fault %s: n%d, killed while staging a snapshot, restarted "
                                 "with applied index %d past its old log (<= %d) and no install logged"
                                 % (self.kind, f, applied, bound))


# --- the families the schedule draws from ---------------------------------

# --- membership -----------------------------------------------------------

class MembershipChange(Fault):
    """Runtime membership interleaved with kill -9 (issue 18): a spare node
    (id above every other) starts empty with 'join yes' and only its own
    address, is added as a
    learner (RAFT.ADDNODE), promoted (RAFT.PROMOTE) and removed again
    (RAFT.REMOVENODE), while one node (or the leader) is killed with -9 at a
    drawn point of that sequence and restarted later. Each change is retried
    on whichever node leads until it is in force (a reply lost with a killed
    leader is found applied by the retry). The run ends with the first n
    nodes as the only members, so the usual checks apply to them; the spare
    node's own sanitizer report counts as a problem."""
    family = "membership"
    phased = True
    extra_s = 6.0
    KILL_AT = ("before-add", "after-add", "after-promote")

    def __init__(self, rng, n, disrupts=("kill",)):
        self.n = n
        self.kill_at = rng.choice(self.KILL_AT)
        self.target = rng.choice(("one", "leader"))
        self.fallback = rng.choice(range(1, n + 1))
        self.problems, self.notes = [], []
        # "membership-any": the disruption is drawn too (kill -9, SIGSTOP,
        # or the node cut off from every other by iptables)
        self.disrupt = rng.choice(disrupts) if len(disrupts) > 1 else "kill"
        self.family = "membership" if len(disrupts) == 1 else "membership-any"
        self.paused, self.rules = [], []
        what = {"kill": "kill -9", "pause": "SIGSTOP", "isolate": "isolate"}[self.disrupt]
        self.kind = "%s %s %s" % (self.kill_at, what, self.target)

    def _spare(self, cl):
        import cluster as clmod
        # ids are never reused: each spare takes the next one
        nid = max(max(nd.id for nd in cl.nodes), getattr(cl, "last_spare", 0)) + 1
        cl.last_spare = nid
        nd = clmod.Node(cl, nid)
        from cluster import wait_until
        ld = wait_until(cl.some_leader, 30, "a leader to ask for the cluster id")
        cid = ld.raft().get("raft_cluster_id")
        # 'cluster' naming only itself (the README's recipe): it learns
        # where to answer from the handshake of the node that adds it
        spec = "%d=%s:%d" % (nid, nd.host, clmod.PORT)
        base = nd.argv

        def argv():
            a = base()
            a[a.index("--cluster") + 1] = spec
            return a + ["--join", "yes", "--cluster-id", str(cid)]
        nd.argv = argv
        return nd

    def _change(self, cl, args, done_errors, timeout=30.0):
        """args on the leader until +OK, or an error saying it is in force."""
        def attempt():
            ld = cl.some_leader()
            if not ld:
                return False
            try:
                with ld.client(3.0) as r:
                    return r.execute_command(*args) == b"OK"
            except redis.ResponseError as e:
                if any(str(e).startswith(d) for d in done_errors):
                    return True
                return False  # TRYAGAIN, MOVED, TIMEOUT, CLUSTERDOWN: again
        from cluster import wait_until
        wait_until(attempt, timeout, "%s to be in force" % " ".join(map(str, args)))

    def _kill(self, cl, log):
        ld = cl.some_leader()
        nid = ld.id if self.target == "leader" and ld and ld.id <= self.n else self.fallback
        if self.disrupt == "kill":
            self.down = frozenset([nid])
            cl.node(nid).kill()
        elif self.disrupt == "pause":
            self.paused = [nid]
            cl.node(nid).pause()
        else:
            others = [nd.id for nd in cl.nodes if nd.id != nid]
            self.rules = [_rule(nid, o, False) for o in others] + [_rule(o, nid, False) for o in others]
            for r in self.rules:
                iptables("-A", *r)
        log("start", "membership: %s n%d (%s)" % (self.disrupt, nid, self.kind))

    def _undo(self, cl):
        for nid in self.down:
            if not cl.node(nid).alive():
                cl.node(nid).start(wait=False)
        for nid in self.paused:
            cl.node(nid).resume()
        for r in self.rules:
            iptables("-D", *r)
        self.paused, self.rules = [], []

    def drive(self, cl, hold, log, watch):
        from cluster import wait_until
        from testproc import sanitizer_excerpt
        spare = self._spare(cl)
        log("start", "membership: %s; spare n%d (join)" % (self.kind, spare.id))
        if self.kill_at == "before-add":
            self._kill(cl, log)
        spare.start()
        try:
            self._change(cl, ("RAFT.ADDNODE", spare.id, "%s:%d" % (spare.host, spare.port)),
                         ("ERR node %d is already a member" % spare.id,))
            wait_until(lambda: spare.raft().get("raft_member") in ("learner", "voter"), 30,
                       "n%d to apply its addition" % spare.id)
            cl.nodes.append(spare)  # a member now: leader_now() and the clients' view count it
            if self.kill_at == "after-add":
                self._kill(cl, log)
            self._change(cl, ("RAFT.PROMOTE", spare.id), ("ERR node %d is already a voter" % spare.id,))
            wait_until(lambda: spare.raft().get("raft_member") == "voter", 30,
                       "n%d to apply its promotion" % spare.id)
            log("start", "membership: n%d added and promoted" % spare.id)
            if self.kill_at == "after-promote":
                self._kill(cl, log)
            watch(hold, self.down)
            self._undo(cl)
            for nid in self.down:
                cl.node(nid).wait_up()
            self.down = frozenset()
            self._change(cl, ("RAFT.REMOVENODE", spare.id),
                         ("ERR node %d is not a member" % spare.id,))
            want = ",".join(str(i) for i in range(1, self.n + 1))
            wait_until(lambda: all(cl.node(i).raft().get("raft_voters") == want
                                   for i in range(1, self.n + 1)), 30,
                       "nodes 1..%d to apply the removal of n%d" % (self.n, spare.id))
        finally:
            if spare in cl.nodes:
                cl.nodes.remove(spare)
            rc = spare.stop()
            if rc not in (0, None):
                self.problems.append("spare n%d did not stop cleanly (rc=%s)" % (spare.id, rc))
            report = sanitizer_excerpt(spare.log_text())
            if report:
                self.problems.append("spare n%d sanitizer report:\n%s" % (spare.id, report))
            self._undo(cl)  # an exception above: the disrupted node still comes back
            self.down = frozenset()
        log("heal", "membership: n%d removed and stopped" % spare.id)


# Families that can spare a node (make_fault's keep): partitions (they cut
# node-to-node traffic only; clients, subscribers included, connect from
# 127.0.0.1 and are never cut) and kill-leader (KillEvictingLeader).
SPARING = ("partition", "kill-leader")


def make_fault(family, rng, n, max_jump=10.0, keep=None):
    """A fault of a family, its kind drawn from rng. keep: a node id the
    fault must never kill, restart or cut from the test's clients (only the
    families in SPARING; the evict scenario's whole notification stream)."""
    if keep is not None and family not in SPARING:
        raise ValueError("fault family %r cannot spare node %d" % (family, keep))
    if family == "kill-leader" and keep is not None:
        return KillEvictingLeader(rng, n, keep)
    if family == "kill":
        return Kill(rng, n, rng.choice(("one", "leader", "leader", "majority", "all")))
    if family == "kill-leader":
        return Kill(rng, n, "leader")
    if family == "power-loss":
        return PowerLoss(rng, n, rng.choice(("one", "leader", "minority", "all")))
    if family == "pause":
        return Pause(rng, n, rng.choice(("one", "leader", "leader", "majority")))
    if family == "partition":
        kinds = ["isolate-leader", "majority-minority", "bridge", "one-way"]
        return Partition(rng, n, rng.choice(kinds))
    if family == "clock-jump":
        return ClockJump(rng, n, rng.choice(("one", "leader")), max_jump)
    if family == "clock-rate":
        return ClockRate(rng, n, rng.choice(("one", "leader", "all")))
    if family == "slow-leader-isolated":
        # outside lease mode's assumption (drift under a fifth): the leader's
        # clock runs at 0.2x, then it is cut off; see README "Can it fail?"
        return Both(ClockRate(rng, n, "leader", rates=(0.2,)), Partition(rng, n, "isolate-leader"))
    if family == "membership":
        return MembershipChange(rng, n)
    if family == "membership-any":
        return MembershipChange(rng, n, ("kill", "pause", "isolate"))
    if family == "snapshot":
        return SnapshotTransfer(rng, n, rng.choice(SnapshotTransfer.KINDS))
    raise ValueError("unknown fault family %r" % family)


class Both(Fault):
    """Two faults at once: started in order, healed in reverse."""

    def __init__(self, a, b):
        assert not (a.phased or b.phased), "a phased fault runs alone"
        self.a, self.b = a, b
        self.family = "%s+%s" % (a.family, b.family)

    @property
    def down(self):
        return self.a.down | self.b.down

    def start(self, cl):
        return "%s; %s" % (self.a.start(cl), self.b.start(cl))

    def heal(self, cl):
        self.b.heal(cl)
        self.a.heal(cl)
