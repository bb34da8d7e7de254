#!/usr/bin/python3
"""Writes server/acl_table.c: every command and subcommand of redis-server
7.0.15 with its ACL categories and key specs (which decide per key whether
%R~ or %W~ patterns apply), the universe ACL rules (+@cat, +cmd|sub,
ACL CAT, the best-fit rule description of ACL LIST) work on. Commands
RaftKV does not implement are in it too: Redis accepts rules naming any of
its commands, and a category's size decides how ACL LIST describes a user.

  /usr/bin/python3 redis-tests/gen_acl_table.py [--check]

Starts a redis-server on a free port, asks COMMAND INFO for everything.
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redis  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = os.path.join(HERE, "..", "server", "acl_table.c")
CATS = ["keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
        "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous",
        "connection", "transaction", "scripting"]


def s(x):
    return x.decode() if isinstance(x, bytes) else x


def main():
    import socket
    sk = socket.socket()
    sk.bind(("127.0.0.1", 0))
    port = sk.getsockname()[1]
    sk.close()
    with tempfile.TemporaryDirectory() as d:
        p = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--dir", d],
                             stdout=subprocess.DEVNULL)
        try:
            r = redis.Redis(port=port)
            for _ in range(200):
                try:
                    r.ping()
                    break
                except redis.ConnectionError:
                    import time
                    time.sleep(0.02)
            rows = {}
            conn = r.connection_pool.get_connection("COMMAND")
            conn.send_command("COMMAND")
            reply = conn.read_response()
            def keyflags(specs):
                # The union of the key specs' flags: R when a key is read
                # (ACCESS), W when one is written (INSERT, DELETE, UPDATE).
                f = set()
                for spec in specs:
                    spec = [s(x) if not isinstance(x, list) else x for x in spec]
                    d = dict(zip(spec[0::2], spec[1::2]))
                    fl = [s(x).upper() for x in d.get("flags", [])]
                    if "ACCESS" in fl:
                        f.add("ACL_KEY_R")
                    if {"INSERT", "DELETE", "UPDATE"} & set(fl):
                        f.add("ACL_KEY_W")
                return " | ".join(sorted(f)) or "0"

            def kv(x):
                x = [s(y) if not isinstance(y, list) else y for y in x]
                return dict(zip(x[0::2], x[1::2]))

            def specs(specs):
                # Each key spec as Redis's getKeysUsingKeySpecs reads it:
                # {flags, begin_search type (1 index, 2 keyword, 0 unknown),
                # index or keyword's startfrom, keyword, find_keys type (1
                # range, 2 keynum, 0 unknown), lastkey|keynumidx,
                # keystep|firstkey, limit|keystep}.
                out = []
                for spec in specs:
                    d = kv(spec)
                    fl = [s(x).upper() for x in d.get("flags", [])]
                    f = []
                    if "ACCESS" in fl:
                        f.append("ACL_KEY_R")
                    if {"INSERT", "DELETE", "UPDATE"} & set(fl):
                        f.append("ACL_KEY_W")
                    for flag, c in (("NOT_KEY", "ACL_KS_NOTKEY"), ("INCOMPLETE", "ACL_KS_INCOMPLETE"),
                                    ("VARIABLE_FLAGS", "ACL_KS_VARFLAGS")):
                        if flag in fl:
                            f.append(c)
                    bs, fk = kv(d["begin_search"]), kv(d["find_keys"])
                    bss, fks = kv(bs.get("spec", [])), kv(fk.get("spec", []))
                    if bs["type"] == "index":
                        b = "1, %d, NULL" % bss["index"]
                    elif bs["type"] == "keyword":
                        b = "2, %d, \"%s\"" % (bss["startfrom"], s(bss["keyword"]))
                    else:
                        b = "0, 0, NULL"
                    if fk["type"] == "range":
                        k = "1, %d, %d, %d" % (fks["lastkey"], fks["keystep"], fks["limit"])
                    elif fk["type"] == "keynum":
                        k = "2, %d, %d, %d" % (fks["keynumidx"], fks["firstkey"], fks["keystep"])
                    else:
                        k = "0, 0, 0, 0"
                    out.append("{%s, %s, %s}" % (" | ".join(f) or "0", b, k))
                if not out:
                    return "0, NULL"
                return "%d, (const acl_keyspec[]){%s}" % (len(out), ", ".join(out))

            for info in reply:
                name = s(info[0])
                rows[name] = ([s(c)[1:] for c in info[6]], keyflags(info[8]), specs(info[8]))
                for sub in info[9] if len(info) > 9 else []:
                    rows[s(sub[0])] = ([s(c)[1:] for c in sub[6]], keyflags(sub[8]), specs(sub[8]))
        finally:
            p.terminate()
            p.wait()
    names = sorted(rows)
    out = ["/* acl_table.c -- every command and subcommand of redis-server 7.0.15 with its ACL\n",
           " * categories (acl.h). Generated by redis-tests/gen_acl_table.py; do not edit by hand. */\n",
           "#include \"server/acl.h\"\n\n",
           "/* clang-format off */\n",
           "const acl_cmdinfo acl_commands[] = {\n"]
    for n in names:
        bits = " | ".join("ACL_CAT(%d)" % CATS.index(c) for c in rows[n][0]) or "0"
        out.append("    {\"%s\", %s, %s, %s},\n" % (n, bits, rows[n][1], rows[n][2]))
    out.append("};\n/* clang-format on */\n")
    out.append("const int acl_ncommands = (int)(sizeof(acl_commands) / sizeof(acl_commands[0]));\n")
    text = "".join(out)
    if "--check" in sys.argv:
        with open(TARGET) as f:
            sys.exit(0 if f.read() == text else 1)
    with open(TARGET, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
