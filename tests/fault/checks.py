"""What every run checks beyond lincheck, as pure functions over the
recorded operations (history.Op) so test_checks.py can feed them
hand-made histories. Each returns a list of problems (empty: passed).

Times: t_invoke and t_done in ns; Op.done_by() is t_done for an ok op and
infinity otherwise (an info op may take effect at any time after its call).
"Could come after X" for a write W means W.done_by() > X.t_invoke: W had
not certainly finished before X began, so some linearization puts W after
X."""
import subprocess

from history import FAIL, INFO, OK


def _ok(ops, *fs):
    return [o for o in ops if o.type == OK and o.f in fs]


def tokens(value):
    """'S3;A7;A9;' -> ['S3', 'A7', 'A9']"""
    return [t for t in (value or "").split(";") if t]


def durability_registers(ops, key, final):
    """Every acknowledged SET/APPEND/DEL of a string key is reflected in its
    final value, or was overwritten by a write that could come after it.

    The final value is a base (the SET that wrote its first token, or, if it
    starts with an appended token, the APPEND that recreated the key) plus
    appended tokens. The op that established the base is B (for a missing
    key: the DEL that could come latest). An acknowledged write W that the
    final value does not contain is lost unless B could come after W."""
    mine = [o for o in ops if o.key == key]
    writer = {o.value.rstrip(";"): o for o in mine if o.f in ("put", "append")}
    toks = tokens(final)
    problems = []
    for t in toks:
        w = writer.get(t)
        if w is None or w.type not in (OK, "info", None):
            problems.append("%s: final value %r has %s, which no possibly-successful write wrote"
                            % (key, final, t))
    if problems:
        return problems
    if final is None:
        dels = [o for o in mine if o.f == "del" and o.type != "fail"]
        b_done = max((o.done_by() for o in dels), default=0)
        base_desc = "no DEL could come last" if not dels else "the last DEL"
    else:
        b = writer[toks[0]]
        b_done = b.done_by()
        base_desc = "%r" % b
    present = set(toks)
    for w in _ok(mine, "put", "append", "del"):
        if w.f in ("put", "append") and w.value.rstrip(";") in present:
            continue
        if w.f == "del" and final is None:
            continue
        if not b_done > w.t_invoke:
            problems.append("%s: acknowledged %r is lost: final value %r (base %s finished before it began)"
                            % (key, w, final, base_desc))
    return problems


def durability_counter(ops, key, final):
    """A counter (INCR/DEL) ends at least at every acknowledged INCR's result
    among the INCRs that began after every DEL had certainly finished."""
    mine = [o for o in ops if o.key == key]
    last_del = max((o.done_by() for o in mine if o.f == "del" and o.type != "fail"), default=0)
    floor = max((o.result for o in _ok(mine, "incr") if o.t_invoke > last_del), default=None)
    if floor is None:
        return []
    value = int(final) if final is not None else 0
    if value < floor:
        return ["%s: final value %r is below %d, the result of an acknowledged INCR after every DEL"
                % (key, final, floor)]
    return []


def durability(ops, finals):
    problems = []
    for key, final in sorted(finals.items()):
        if key.startswith("c"):
            problems += durability_counter(ops, key, final)
        else:
            problems += durability_registers(ops, key, final)
    return problems


def no_going_back(ops):
    """For the TTL workload, where keys vanish by themselves and lincheck's
    model does not apply: once a read (GET or GETEX) observed a key in some
    state (a value, or expired), a later read (invoked after the first
    returned) sees that state, a newer value, or the key expired; never a
    value whose write had certainly finished before the first read began.
    In particular a key observed expired never comes back unless written
    again. Also: every value read was written by some SET that was not a
    certain failure."""
    problems = []
    writers = {o.value: o for o in ops if o.f == "set" and o.type != "fail"}
    reads = sorted(_ok(ops, "get", "getex"), key=lambda o: o.t_invoke)
    by_key = {}
    for r in reads:
        by_key.setdefault(r.key, []).append(r)
        if r.result is not None and r.result not in writers:
            problems.append("%s: read %r returned a value no possibly-successful SET wrote" % (r.key, r))
    for key, rs in sorted(by_key.items()):
        problems += _going_back_one_key(key, rs, writers)
    return problems


def _going_back_one_key(key, reads, writers):
    """reads sorted by invoke time. For each read R2 of a value v, the reads
    R1 that returned before R2 began and saw something else must not have
    begun after v's writer certainly finished. Only the R1 that began latest
    among those matters (the condition is monotonic in R1.t_invoke); the two
    latest-begun reads with distinct results are kept as R2 advances."""
    problems = []
    by_done = sorted(reads, key=lambda o: o.t_done)
    top = []  # up to two reads with distinct results, latest t_invoke first
    i = 0
    for r2 in reads:
        while i < len(by_done) and by_done[i].t_done < r2.t_invoke:
            top = _keep_two(top, by_done[i])
            i += 1
        if r2.result is None or r2.result not in writers:
            continue
        worst = next((r for r in top if r.result != r2.result), None)
        w = writers[r2.result]
        if worst is not None and not w.done_by() > worst.t_invoke:
            seen = "expired" if worst.result is None else repr(worst.result)
            problems.append("%s: %r came back after %r had seen the key %s (its SET %r had finished before)"
                            % (key, r2.result, worst, seen, w))
    return problems


def _keep_two(top, r):
    same = [t for t in top if t.result == r.result]
    if same and same[0].t_invoke >= r.t_invoke:
        return top
    rest = [t for t in top if t.result != r.result]
    return sorted(rest + [r], key=lambda o: -o.t_invoke)[:2]


def same_keyspaces(dumps):
    """dumps: {node id: {key: (value, pexpiretime)}}; all equal."""
    problems = []
    ids = sorted(dumps)
    ref = dumps[ids[0]]
    for nid in ids[1:]:
        d = dumps[nid]
        for k in sorted(set(ref) | set(d)):
            if ref.get(k) != d.get(k):
                problems.append("key %r: node %d has %r, node %d has %r" % (k, ids[0], ref.get(k), nid, d.get(k)))
    return problems


def lincheck(binary, path, timeout_s):
    """(verdict, output): verdict 'linearizable', 'not linearizable',
    'unknown' or 'bad input' from lincheck's exit status."""
    out = subprocess.run([binary, "--timeout", str(timeout_s), path], capture_output=True, text=True,
                         timeout=timeout_s + 60)
    verdict = {0: "linearizable", 1: "not linearizable", 2: "unknown", 3: "bad input"}.get(
        out.returncode, "lincheck exit %d" % out.returncode)
    return verdict, (out.stdout + out.stderr).strip()


# --- the queue workload (workload.Queue) ----------------------------------

def popped_item(o):
    """(key, item) an ok BRPOP returned, or None for its null reply; recorded
    as "<key> <item>" (workload.Queue.result)."""
    if o.result is None:
        return None
    key, _, item = o.result.partition(" ")
    return key, item


def queue(ops, remaining):
    """The work-queue checks (README.md "queue"): ops are the LPUSH ("lpush",
    key, value = the item) and BRPOP ("brpop", key = the keys it waited on,
    space-separated) operations; remaining is {key: [items, head first]} as
    the final LRANGEs read them. Returns (problems, stats).

    1. Every item popped (by an ok BRPOP) or remaining was pushed to that key
       by an LPUSH that was not a certain failure, and not popped before its
       LPUSH began.
    2. No item is delivered twice: popped by two BRPOPs, or popped and still
       in a queue, or twice in a queue.
    3. Every acknowledged LPUSH's item is popped by an ok BRPOP or remains.
       One that is neither may only have gone to a BRPOP whose outcome is
       unknown (info): each such BRPOP takes at most one item from one of
       its keys, so for every set S of keys, the missing items of S must be
       at most the info BRPOPs that waited on some key of S (Hall's
       condition: then each missing item has its own unknown BRPOP).
    4. FIFO per key: if LPUSH a finished before LPUSH b began (same key, both
       ok), b is not popped by a BRPOP that finished before a's BRPOP began,
       nor popped while a remains at the end."""
    problems = []
    pushes = [o for o in ops if o.f == "lpush"]
    pops = [o for o in ops if o.f == "brpop"]
    pushed = {}  # item -> its LPUSH (items are unique)
    for o in pushes:
        if o.value in pushed:
            problems.append("HARNESS: item %r pushed twice (%r, %r)" % (o.value, pushed[o.value], o))
        pushed[o.value] = o
    delivered = {}  # item -> [(key, how)]: the ok BRPOPs and the final queues that hold it
    pop_of = {}
    for o in pops:
        if o.type == OK and o.result is not None:
            key, item = popped_item(o)
            delivered.setdefault(item, []).append((key, "popped by %r" % o))
            pop_of.setdefault(item, o)
    for key, items in sorted(remaining.items()):
        for item in items:
            delivered.setdefault(item, []).append((key, "still in %s at the end" % key))
    for item, where in sorted(delivered.items()):
        w = pushed.get(item)
        if w is None or w.type == FAIL:
            problems.append("item %r was never pushed (%s) but %s" % (
                item, "no LPUSH" if w is None else "its LPUSH failed: %r" % w, where[0][1]))
            continue
        for key, how in where:
            if key != w.key:
                problems.append("item %r pushed to %s by %r, but %s" % (item, w.key, w, how))
        if len(where) > 1:
            problems.append("item %r delivered %d times: %s" % (item, len(where), "; ".join(h for _, h in where)))
        p = pop_of.get(item)
        if p is not None and p.t_done < w.t_invoke:
            problems.append("item %r popped by %r before its LPUSH %r began" % (item, p, w))
    missing = [o for o in pushes if o.type == OK and o.value not in delivered]
    unknown_pops = [o for o in pops if o.type == INFO]
    problems += _missing_explained(missing, unknown_pops)
    problems += _fifo(pushes, pop_of, remaining)
    stats = {
        "pushed ok": sum(1 for o in pushes if o.type == OK),
        "pushed unknown": sum(1 for o in pushes if o.type == INFO),
        "push failed": sum(1 for o in pushes if o.type == FAIL),
        "popped": len(pop_of),
        "null pops": sum(1 for o in pops if o.type == OK and o.result is None),
        "pop unknown": len(unknown_pops),
        "pop failed": sum(1 for o in pops if o.type == FAIL),
        "remaining": sum(len(v) for v in remaining.values()),
        "acknowledged missing": len(missing),
        "unknown pushes gone": sum(1 for o in pushes if o.type == INFO and o.value not in delivered),
    }
    return problems, stats


def _missing_explained(missing, unknown_pops):
    if not missing:
        return []
    keys = sorted({o.key for o in missing})
    by_key = {k: [o for o in missing if o.key == k] for k in keys}
    waited = [set(o.key.split()) for o in unknown_pops]
    for mask in range(1, 1 << len(keys)):
        s = {k for i, k in enumerate(keys) if mask >> i & 1}
        need = sum(len(by_key[k]) for k in s)
        have = sum(1 for w in waited if w & s)
        if need > have:
            lost = [o for k in sorted(s) for o in by_key[k]]
            return ["%d acknowledged item(s) of %s lost: neither popped nor in the queue, and only %d BRPOP(s) "
                    "on those keys had an unknown outcome; e.g. %s"
                    % (need, " ".join(sorted(s)), have, ", ".join(repr(o) for o in lost[:5]))]
    return []


def _fifo(pushes, pop_of, remaining):
    """Check 4 of queue(), per key in O(n log n): sweep the ok pushes b in
    order of invoke, keeping the latest 'pop begin' among the pushes a that
    finished before b began (an item still queued at the end: infinity)."""
    problems = []
    left = {item for items in remaining.values() for item in items}
    inf = float("inf")
    for key in sorted({o.key for o in pushes}):
        ok = [o for o in pushes if o.key == key and o.type == OK and (o.value in pop_of or o.value in left)]
        by_done = sorted(ok, key=lambda o: o.t_done)
        i, latest, latest_a = 0, -1, None
        for b in sorted(ok, key=lambda o: o.t_invoke):
            while i < len(by_done) and by_done[i].t_done < b.t_invoke:
                a = by_done[i]
                begin = inf if a.value in left else pop_of[a.value].t_invoke
                if begin > latest:
                    latest, latest_a = begin, a
                i += 1
            pb = pop_of.get(b.value)
            if pb is not None and latest_a is not None and pb.t_done < latest:
                where = ("still in %s at the end" % key if latest == inf
                         else "popped later by %r" % pop_of[latest_a.value])
                problems.append("%s is not FIFO: %r was pushed before %r, yet %r popped the later item while "
                                "the earlier one was %s" % (key, latest_a, b, pb, where))
                if len(problems) >= 5:
                    return problems
    return problems


# --- the scripted workload (workload.Scripted) ----------------------------

def noscript_after_load(ops):
    """The script cache is replicated state: once an EVAL of the script
    returned ok, an EVALSHA invoked after that return must find it on every
    node (leader or follower, after any failover). Returns problems."""
    loaded = min((o.t_done for o in ops if o.f == "cas" and o.type == "ok"
                  and (o.extra or {}).get("via") == "eval"), default=None)
    if loaded is None:
        return []
    bad = [o for o in ops if o.f == "cas" and o.reason == "NOSCRIPT" and o.t_invoke > loaded]
    return ["EVALSHA answered NOSCRIPT after an EVAL of the script had returned: %r" % o for o in bad[:5]]
