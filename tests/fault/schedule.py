"""A seeded schedule: quiet periods and faults, drawn in advance from one
rng, so the plan printed at the start of a run is the plan a replay with
the same --seed (and the same options) follows."""
import time

from faults import Both, make_fault


class Step:
    def __init__(self, quiet, fault, hold):
        self.quiet, self.fault, self.hold = quiet, fault, hold

    def __repr__(self):
        f = self.fault
        kind = getattr(f, "kind", None) or getattr(f, "target", "")
        return "quiet %.1fs, %s(%s) for %.1fs" % (self.quiet, f.family, kind, self.hold)


def plan(rng, families, n, duration, election_s, overlap=0.0, max_jump=10.0, keep=None):
    """Steps filling about `duration` seconds. A fault is held for 2 to 6
    election timeouts (so pauses and partitions outlast an election), a
    quiet period lasts 1 to 4 of them; with probability `overlap` a step
    runs two faults of different families at once (never a phased fault,
    which drives itself; its extra_s counts towards the duration). keep: a
    node no fault may kill or restart (faults.make_fault)."""
    steps, t = [], 0.0
    while t < duration:
        quiet = rng.uniform(1.0, 4.0) * election_s
        hold = rng.uniform(2.0, 6.0) * election_s
        fam = rng.choice(families)
        fault = make_fault(fam, rng, n, max_jump, keep)
        others = [f for f in families if f != fam]
        if others and not fault.phased and rng.random() < overlap:
            second = make_fault(rng.choice(others), rng, n, max_jump, keep)
            if not second.phased:
                fault = Both(fault, second)
        steps.append(Step(quiet, fault, hold))
        t += quiet + hold + fault.extra_s
    return steps


def run(cl, steps, log, deadline_s=None):
    """Runs the steps in this (the main) thread; log(kind, text) records
    what happened. Between and during faults it watches for nodes that
    exited on their own (cl.crashes). Returns the faults started, by family."""
    counts = {}
    end = time.monotonic() + deadline_s if deadline_s else None
    for st in steps:
        if end and time.monotonic() >= end:
            break
        _watch(cl, st.quiet, frozenset())
        counts[st.fault.family] = counts.get(st.fault.family, 0) + 1
        st.fault.drive(cl, st.hold, log, lambda s, down: _watch(cl, s, down))
    return counts


def _watch(cl, seconds, down):
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        cl.check_alive(down)
        time.sleep(min(0.1, max(0.0, until - time.monotonic())))
