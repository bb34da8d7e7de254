#!/usr/bin/python3
"""Randomized differential test of where a stream's nodes (Redis's listpacks)
close: seeded XADD / XDEL / XTRIM sequences on redis-server 7.0.15 and on a
raftkv-server, XLEN and XRANGE compared after every trim. Approximate
trimming (MAXLEN ~, MINID ~, LIMIT) removes only whole nodes, so what it
leaves shows where each node began: a node closes at stream-node-max-entries
(100) entries or when its listpack would reach stream-node-max-bytes (4096),
which depends on the exact listpack encoding of every entry (field and value
sizes, integer-looking strings, SAMEFIELDS, id deltas, XDEL'd entries).
XINFO STREAM's radix-tree-keys and radix-tree-nodes (the rax of the nodes'
first ids) are compared after every trim too.

  /usr/bin/python3 diff_stream_nodes.py [--seed S] [--seeds N] [--steps M] [--verbose] [--cluster]

Each seed starts from an empty key space. Entries have 1-6 fields of 0-600
bytes, sometimes numeric, from a small field-name pool (so the field set
often repeats and SAMEFIELDS is used, sometimes not); ids are `*` or explicit
with gaps (ms and seq deltas of every size). The first divergence prints the
seed, the step and the commands so far, and exits 1.

--cluster makes the RaftKV side a 3-node cluster: the commands go to the
leader, and after each seed every follower (a linearizable read, ReadIndex)
must hold the same stream (XRANGE, XINFO STREAM's node counts) as the
leader: every node closes its nodes at the same entries.
"""
import argparse
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat  # noqa: E402

KEY = b"s"
FIELDS = [b"f", b"name", b"temperature", b"1", b"-7", b"x" * 70, b"", b"humidity"]


def rand_value(rng):
    c = rng.randrange(10)
    if c == 0:
        return str(rng.randint(-(2 ** 63), 2 ** 63 - 1)).encode()
    if c == 1:
        return str(rng.choice([0, 1, 127, 128, -1, 4095, 4096, -4097, 32767, 32768, 8388607, 8388608,
                               2 ** 31 - 1, 2 ** 31, -(2 ** 63), 2 ** 64])).encode()
    if c == 2:
        return rng.choice([b"-0", b"01", b"+5", b" 5", b"1.5", b"99999999999999999999"])
    if c == 3:
        return b"v" * rng.randint(0, 600)
    if c == 4:
        return b"w" * rng.choice([62, 63, 64, 65, 124, 125, 126, 127, 128])
    return b"y" * rng.randint(0, 60)


class Gen:
    def __init__(self, rng):
        self.rng = rng
        self.ms = rng.randint(1, 10 ** 6)
        self.seq = 0
        self.fieldset = [b"f"]
        self.ids = []  # ids added (some deleted since)

    def next_id(self):
        rng = self.rng
        c = rng.randrange(6)
        if c == 0:
            self.ms += rng.choice([1, 100, 5000, 10 ** 6, 10 ** 10])
            self.seq = rng.choice([0, 0, 5, 200, 70000])
        elif c == 1:
            self.seq += rng.choice([1, 130, 5000, 10 ** 7])
        else:
            self.seq += 1
        return b"%d-%d" % (self.ms, self.seq)

    def fields(self):
        rng = self.rng
        if rng.randrange(5) == 0:
            self.fieldset = rng.sample(FIELDS, rng.randint(1, 4))
            if rng.randrange(3) == 0:
                self.fieldset.append(b"g" * rng.randint(0, 600))
        out = []
        for f in self.fieldset:
            out += [f, rand_value(self.rng)]
        return out

    def step(self):
        rng = self.rng
        c = rng.randrange(100)
        if c < 78:
            id_ = self.next_id()
            self.ids.append(id_)
            return [b"XADD", KEY, id_] + self.fields()
        if c < 86:
            if not self.ids:
                return [b"XLEN", KEY]
            return [b"XDEL", KEY] + [rng.choice(self.ids) for _ in range(rng.randint(1, 3))]
        # a trim
        if rng.randrange(2) == 0:
            strat = [b"MAXLEN", b"~", str(rng.randint(0, 400)).encode()]
        else:
            mid = rng.choice(self.ids) if self.ids else b"0"
            strat = [b"MINID", b"~", mid]
        if rng.randrange(4) == 0:
            strat += [b"LIMIT", str(rng.choice([0, 1, 50, 100, 150, 300])).encode()]
        if rng.randrange(3) == 0:
            return [b"XADD", KEY] + strat + [self.next_id()] + self.fields()
        if rng.randrange(12) == 0:  # an exact trim, inside a node too
            strat = [strat[0], strat[2]]
        return [b"XTRIM", KEY] + strat


class Raw:
    def __init__(self, raw):
        self.raw = raw


def rax_fields(r):
    """XINFO STREAM's radix-tree-keys and radix-tree-nodes (Redis's rax of
    the nodes), as one comparable value."""
    if r.kind != "*":
        return Raw(r.raw)
    items = r.value
    out = []
    for i in range(0, len(items) - 1, 2):
        if items[i].value in (b"radix-tree-keys", b"radix-tree-nodes", b"length"):
            out.append(items[i].value + b"=" + items[i + 1].raw.strip())
    return Raw(b" ".join(out))


def run_seed(seed, steps, a, b, verbose):
    rng = random.Random(seed)
    gen = Gen(rng)
    done = []
    for conn in (a, b):
        conn.call(b"FLUSHALL")
    for i in range(steps):
        cmd = gen.step()
        done.append(cmd)
        ra, rb = a.call(*cmd), b.call(*cmd)
        checks = [(cmd, ra, rb)]
        if cmd[0] == b"XTRIM" or b"~" in cmd[:6]:
            for q in ([b"XLEN", KEY], [b"XRANGE", KEY, b"-", b"+"]):
                checks.append((q, a.call(*q), b.call(*q)))
        if checks[1:]:
            q = [b"XINFO", b"STREAM", KEY]
            checks.append((q + [b"(radix-tree keys and nodes)"], rax_fields(a.call(*q)), rax_fields(b.call(*q))))
        for q, x, y in checks:
            if x.raw != y.raw:
                print("seed %d step %d: %s" % (seed, i, b" ".join(q[:8]).decode(errors="replace")))
                print("  redis-server: %r" % x.raw[:300])
                print("  raftkv:       %r" % y.raw[:300])
                print("commands so far (XADD values shortened):")
                for d in done[-40:]:
                    print("  " + " ".join(repr(w[:20])[2:-1] for w in d))
                return False
    if verbose:
        print("seed %d: %d steps, XLEN %s" % (seed, steps, a.call(b"XLEN", KEY).value))
    return True


def followers_agree(cluster, leader_conn):
    queries = ([b"XRANGE", KEY, b"-", b"+"], [b"XINFO", b"STREAM", KEY])
    want = [leader_conn.call(*q).raw for q in queries]
    for node in cluster.followers():
        c = compat.Conn(node.host, node.port)
        try:
            got = [c.call(*q).raw for q in queries]
        finally:
            c.close()
        if got != want:
            print("follower %d differs from the leader:" % node.id)
            for q, w, g in zip(queries, want, got):
                if w != g:
                    print("  %s\n    leader:   %r\n    follower: %r" % (b" ".join(q).decode(), w[:300], g[:300]))
            return False
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--cluster", action="store_true")
    args = ap.parse_args()
    first = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    print("diff_stream_nodes: seeds %d..%d, %d steps each" % (first, first + args.seeds - 1, args.steps))
    red = compat.start_redis()
    raft = None
    ok = True
    try:
        raft = compat.start_raftkv_cluster(3) if args.cluster else compat.start_raftkv()
        a, b = compat.Conn(red.host, red.port), compat.Conn(raft.host, raft.port)
        for s in range(first, first + args.seeds):
            if not run_seed(s, args.steps, a, b, args.verbose) or (args.cluster and not followers_agree(raft, b)):
                ok = False
                break
        a.close()
        b.close()
        for srv in (red, raft):
            if not srv.alive():
                print("%s died:\n%s" % (srv.kind, srv.log()))
                ok = False
            elif srv.sanitizer_report():
                print("sanitizer report:\n" + srv.sanitizer_report())
                ok = False
    finally:
        red.stop()
        if raft is not None:
            rc = raft.stop()
            if args.cluster and rc:
                print("nodes that did not exit 0: %r" % (rc,))
                ok = False
    print("diff_stream_nodes: %s" % ("ok" if ok else "DIVERGED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
