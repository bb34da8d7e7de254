#!/usr/bin/python3
"""compat_command_table: COMMAND, COMMAND INFO and COMMAND DOCS of every
command RaftKV implements, compared byte for byte with redis-server 7.0.15
in RESP2 and RESP3.

For each name in RaftKV's COMMAND LIST (but its own RAFT.* commands):
COMMAND INFO <name> and COMMAND DOCS <name> must equal redis-server's
reply. A container (CLIENT, CONFIG, ...) lists the subcommands RaftKV
implements, a subset of redis-server's, which lists them in its own hash
order: there the entry is compared up to the subcommands, and each listed
subcommand's entry must equal redis-server's entry of the same name (also
asked directly, COMMAND INFO client|id). COMMAND, COMMAND INFO and COMMAND
DOCS without arguments must hold exactly the entries asked one by one.
A listed subcommand must be implemented (it is not answered "unknown
subcommand"). A command RaftKV does not implement has no entry even where
the table holds its row (COMMAND INFO hset is nil until HSET exists).

  /usr/bin/python3 diff_command.py
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat  # noqa: E402


def split_info(entry):
    """A COMMAND INFO entry -> (bytes of its first nine elements, the
    subcommand entries by name)."""
    head = b"".join(x.raw for x in entry.value[:9])
    subs = {x.value[0].value: x.raw for x in entry.value[9].value}
    return head, entry.value[9].kind, subs


def split_docs(name_reply, doc_map):
    """A COMMAND DOCS name and map -> (name and the map's pairs but the
    subcommands, subcommand docs by name)."""
    pairs = doc_map.value
    subs = {}
    keep = []
    for i in range(0, len(pairs), 2):
        if pairs[i].value == b"subcommands":
            sp = pairs[i + 1].value
            subs = {sp[j].value: sp[j].raw + sp[j + 1].raw for j in range(0, len(sp), 2)}
        else:
            keep.append(pairs[i].raw + pairs[i + 1].raw)
    return name_reply.raw + b"".join(keep), subs


def check(proto, redis_port, raftkv_port, fails):
    rs = compat.Conn(compat.HOST, redis_port)
    rk = compat.Conn(compat.HOST, raftkv_port)
    if proto == 3:
        rs.call("HELLO", "3")
        rk.call("HELLO", "3")
    names = [x.value for x in rk.call("COMMAND", "LIST").value]
    ours = [n for n in names if not n.startswith(b"raft.")]
    known = {x.value for x in rs.call("COMMAND", "LIST").value}
    missing = [n for n in ours if n not in known]
    if missing:
        fails.append("RESP%d: redis-server does not know %s" % (proto, missing))
    compared = 0
    by_name = {}
    for name in ours:
        a = rs.call("COMMAND", "INFO", name).value[0]
        b = rk.call("COMMAND", "INFO", name).value[0]
        by_name[name] = b.raw
        ha, ka, sa = split_info(a)
        hb, kb, sb = split_info(b)
        compared += 1
        if ha != hb or ka != kb:
            fails.append("RESP%d COMMAND INFO %s\n  redis:  %r\n  raftkv: %r" % (proto, name.decode(), a.raw, b.raw))
            continue
        if not sa and b.raw != a.raw:
            fails.append("RESP%d COMMAND INFO %s\n  redis:  %r\n  raftkv: %r" % (proto, name.decode(), a.raw, b.raw))
        for sub, raw in sb.items():
            compared += 1
            if sa.get(sub) != raw:
                fails.append("RESP%d COMMAND INFO %s: subcommand %s\n  redis:  %r\n  raftkv: %r" %
                             (proto, name.decode(), sub.decode(), sa.get(sub), raw))
            direct = rk.call("COMMAND", "INFO", sub)
            if direct.value[0].raw != raw or rs.call("COMMAND", "INFO", sub).raw != direct.raw:
                fails.append("RESP%d COMMAND INFO %s: %r" % (proto, sub.decode(), direct.raw))
            # listed means implemented
            word = sub.split(b"|")[1]
            r = rk.call(name, word)
            if r.kind == "-" and b"unknown subcommand" in r.value:
                fails.append("RESP%d: %s is listed but answers %r" % (proto, sub.decode(), r.raw))
        # COMMAND DOCS
        da = rs.call("COMMAND", "DOCS", name).value
        db = rk.call("COMMAND", "DOCS", name).value
        pa, dsa = split_docs(da[0], da[1])
        pb, dsb = split_docs(db[0], db[1])
        compared += 1
        if pa != pb or (not dsa and rs.call("COMMAND", "DOCS", name).raw != rk.call("COMMAND", "DOCS", name).raw):
            fails.append("RESP%d COMMAND DOCS %s\n  redis:  %r\n  raftkv: %r" %
                         (proto, name.decode(), da[1].raw, db[1].raw))
        if set(dsb) != set(sb):
            fails.append("RESP%d COMMAND DOCS %s lists %s, COMMAND INFO %s" % (proto, name.decode(), sorted(dsb), sorted(sb)))
        for sub, raw in dsb.items():
            compared += 1
            if dsa.get(sub) != raw:
                fails.append("RESP%d COMMAND DOCS %s: subcommand %s\n  redis:  %r\n  raftkv: %r" %
                             (proto, name.decode(), sub.decode(), dsa.get(sub), raw))
            if rs.call("COMMAND", "DOCS", sub).raw != rk.call("COMMAND", "DOCS", sub).raw:
                fails.append("RESP%d COMMAND DOCS %s differs" % (proto, sub.decode()))
    # the whole lists hold the same entries
    for args in (("COMMAND",), ("COMMAND", "INFO")):
        r = rk.call(*args)
        got = {x.value[0].value: x.raw for x in r.value if not x.value[0].value.startswith(b"raft.")}
        if got != by_name:
            fails.append("RESP%d %s: entries differ from COMMAND INFO <name>" % (proto, " ".join(args)))
    r = rk.call("COMMAND", "DOCS")
    pairs = r.value if proto == 3 else r.value
    got = {pairs[i].value: pairs[i + 1].raw for i in range(0, len(pairs), 2)}
    for name in ours:
        one = rk.call("COMMAND", "DOCS", name).value[1].raw
        if got.get(name) != one:
            fails.append("RESP%d COMMAND DOCS: the entry of %s differs from COMMAND DOCS %s" %
                         (proto, name.decode(), name.decode()))
    if rk.call("COMMAND", "COUNT").value != str(len(names)).encode():
        fails.append("RESP%d COMMAND COUNT is not the length of COMMAND LIST" % proto)
    # several names at once, unknown ones included
    for args in (("COMMAND", "INFO", "get", "nosuch", "client|id", "CLIENT|LIST", "client|nosuch", "Set"),
                 ("COMMAND", "DOCS", "get", "nosuch", "config|get", "client|nosuch", "MGET")):
        a, b = rs.call(*args), rk.call(*args)
        compared += 1
        if a.raw != b.raw:
            fails.append("RESP%d %s\n  redis:  %r\n  raftkv: %r" % (proto, " ".join(args), a.raw, b.raw))
    # a subcommand RaftKV does not implement has no entry (redis-server has one)
    nil = b"$-1\r\n" if proto == 2 else b"_\r\n"
    if rk.call("COMMAND", "INFO", "config|help").raw != b"*1\r\n" + nil:
        fails.append("RESP%d COMMAND INFO config|help: not nil" % proto)
    # server/command_info.c also holds rows of commands RaftKV does not
    # implement yet: such a command has no entry until it is implemented
    # (nor do the subcommands of a container it does not implement)
    for name in (b"hset", b"lpush", b"sadd", b"zadd", b"object", b"object|encoding", b"sort", b"copy", b"pfadd",
                 b"swapdb", b"move"):
        if name.split(b"|")[0] in names:
            continue
        compared += 1
        r = rk.call("COMMAND", "INFO", name)
        if r.raw != b"*1\r\n" + nil:
            fails.append("RESP%d COMMAND INFO %s of an unimplemented command: %r" % (proto, name.decode(), r.raw))
        r = rk.call("COMMAND", "DOCS", name)
        if r.raw != (b"*0\r\n" if proto == 2 else b"%0\r\n"):
            fails.append("RESP%d COMMAND DOCS %s of an unimplemented command: %r" % (proto, name.decode(), r.raw))
    rs.close()
    rk.close()
    return len(ours), compared


def main():
    t0 = time.monotonic()
    fails = []
    with compat.Server("redis") as rs, compat.Server("raftkv") as rk:
        for proto in (2, 3):
            n, compared = check(proto, rs.port, rk.port, fails)
            print("RESP%d: %d commands, %d entries compared" % (proto, n, compared))
        san = rk.sanitizer_report()
        if not rk.alive():
            fails.append("raftkv-server died:\n" + rk.log())
    if san:
        fails.append("sanitizer report:\n" + san)
    for f in fails:
        print("FAIL " + f[:3000])
    print("%d failures, %.1fs" % (len(fails), time.monotonic() - t0))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
