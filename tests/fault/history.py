"""The history of a run: every operation's invoke and completion, in real
time order, as Jepsen records them, written in lincheck's EDN line format
(tests/lincheck/README.md).

An event is appended under one lock together with its monotonic time
stamp, so the file order is the real-time order: an invoke is recorded
before its request is sent, a completion after its reply arrived."""
import threading
import time

OK, FAIL, INFO = "ok", "fail", "info"


class Op:
    __slots__ = ("process", "f", "key", "value", "extra", "t_invoke", "t_done", "type", "result",
                 "reason")

    def __init__(self, process, f, key, value, extra):
        self.process, self.f, self.key, self.value, self.extra = process, f, key, value, extra
        self.t_invoke, self.t_done = None, None  # ns; t_done None while pending (or info)
        self.type, self.result, self.reason = None, None, None

    def done_by(self):
        """When the operation certainly had taken effect, if it did: its
        return, or never (an info op may take effect at any later time)."""
        return self.t_done if self.type == OK else float("inf")

    def __repr__(self):
        return "%s(p%d %s %s %r -> %s %r)" % (self.f, self.process, self.key, self.extra or "",
                                                self.value, self.type, self.result)


class History:
    def __init__(self):
        self._lock = threading.Lock()
        self._next_process = 0
        self.events = []  # (t, kind, op-or-text)
        self.ops = []

    def new_process(self):
        with self._lock:
            self._next_process += 1
            return self._next_process

    def invoke(self, process, f, key, value=None, extra=None):
        op = Op(process, f, key, value, extra)
        with self._lock:
            op.t_invoke = time.monotonic_ns()
            self.events.append((op.t_invoke, "invoke", op))
            self.ops.append(op)
        return op

    def complete(self, op, typ, result=None, reason=None):
        """reason: for fail and info, why (the error's first word)."""
        assert typ in (OK, FAIL, INFO)
        with self._lock:
            t = time.monotonic_ns()
            if typ != INFO:
                op.t_done = t
            op.type, op.result, op.reason = typ, result, reason
            self.events.append((t, typ, op))

    def add_op(self, process, f, key, t_invoke, t_done, result):
        """An ok operation the clients did not run (an eviction: workload.
        evictions()), at the given monotonic times; the events stay in time
        order."""
        op = Op(process, f, key, None, None)
        op.t_invoke, op.t_done, op.type, op.result = t_invoke, t_done, OK, result
        with self._lock:
            self.ops.append(op)
            self.events.append((t_invoke, "invoke", op))
            self.events.append((t_done, OK, op))
            self.events.sort(key=lambda e: e[0])
        return op

    def nemesis(self, kind, text):
        with self._lock:
            self.events.append((time.monotonic_ns(), "nemesis", (kind, text)))

    def counts(self):
        out = {OK: 0, FAIL: 0, INFO: 0}
        for op in self.ops:
            if op.type:
                out[op.type] += 1
        return out

    def reasons(self):
        """{'fail CLUSTERDOWN': n, 'info timeout': n, ...}"""
        out = {}
        for op in self.ops:
            if op.type in (FAIL, INFO):
                k = "%s %s" % (op.type, op.reason or "?")
                out[k] = out.get(k, 0) + 1
        return out

    def write_edn(self, path):
        t0 = self.events[0][0] if self.events else 0
        with open(path, "w") as f:
            for t, kind, x in self.events:
                f.write(_edn_line(t - t0, kind, x) + "\n")


def edn_str(s):
    if s is None:
        return "nil"
    if isinstance(s, int):
        return str(s)
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 0x20 or ord(ch) > 0x7e:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _edn_line(t, kind, x):
    if kind == "nemesis":
        what, text = x
        return "{:process :nemesis, :type :info, :f :%s, :value %s, :time %d}" % (what, edn_str(text), t)
    op = x
    if kind == "invoke":
        value = op.value
    elif kind == "ok":
        value = op.result if op.result is not None or op.f == "get" else op.value
    else:
        value = op.value
    extra = "".join(", :%s %s" % (k, edn_str(v)) for k, v in sorted((op.extra or {}).items()))
    return "{:process %d, :type :%s, :f :%s, :key %s, :value %s%s, :time %d}" % (
        op.process, kind, op.f, edn_str(op.key), edn_str(value), extra, t)
