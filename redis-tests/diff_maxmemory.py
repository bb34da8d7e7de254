#!/usr/bin/python3
"""Differential test of what maxmemory shows a client: the same command
sequence on redis-server 7.0.15 and on RaftKV (an eviction policy only
while maxmemory is 0 or far above the data: what each server counts differs), replies compared byte for
byte in RESP2 and RESP3: CONFIG SET/GET of maxmemory, maxmemory-policy,
maxmemory-samples, lfu-log-factor and lfu-decay-time (values, units and
every error), OBJECT FREQ and OBJECT IDLETIME's errors by policy, and the
-OOM of a denyoom write with noeviction and maxmemory 1 (DEL, GET and
EXPIRE still answered), scripts and functions by their flags
(allow-oom, no-writes, none; Redis's rule of the first write), and MULTI
above maxmemory: every command queued is
refused with -OOM and EXEC answers -EXECABORT; a transaction queued below
it whose EXEC comes after a second connection lowered maxmemory is
discarded when it holds a denyoom command and runs when it only reads.
Steps starting with "@b" go to that second connection.

  /usr/bin/python3 diff_maxmemory.py [--verbose]

Exit status 0 when every reply matches, 1 otherwise.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat  # noqa: E402

LIB = """#!lua name=oomlib
redis.register_function('w', function(keys) return redis.call('set', keys[1], '2') end)
redis.register_function{function_name='wo', callback=function(keys) return redis.call('set', keys[1], '3') end,
                        flags={'allow-oom'}}
redis.register_function{function_name='r', callback=function(keys) return redis.call('get', keys[1]) end,
                        flags={'no-writes'}}
"""

STEPS = [
    ("FLUSHALL",),
    ("FUNCTION", "LOAD", "REPLACE", LIB),
    ("SCRIPT", "LOAD", "return redis.call('set', KEYS[1], 'e')"),
    ("SET", "a", "1"),
    ("CONFIG", "SET", "maxmemory", "100mb"),
    ("CONFIG", "GET", "maxmemory"),
    ("CONFIG", "SET", "maxmemory", "1gb"),
    ("CONFIG", "GET", "maxmemory"),
    ("CONFIG", "SET", "maxmemory", "12345"),
    ("CONFIG", "GET", "maxmemory"),
    ("CONFIG", "SET", "maxmemory", "0"),
    ("CONFIG", "SET", "maxmemory", "abc"),
    ("CONFIG", "SET", "maxmemory", "-1"),
    ("CONFIG", "SET", "maxmemory", "1.5mb"),
    ("CONFIG", "SET", "maxmemory-policy", "foo"),
    ("CONFIG", "SET", "maxmemory-policy", "ALLKEYS-LRU"),
    ("CONFIG", "GET", "maxmemory-policy"),
    ("CONFIG", "SET", "maxmemory-samples", "0"),
    ("CONFIG", "SET", "maxmemory-samples", "x"),
    ("CONFIG", "SET", "maxmemory-samples", "10"),
    ("CONFIG", "GET", "maxmemory-samples"),
    ("CONFIG", "SET", "maxmemory-samples", "64"),
    ("CONFIG", "SET", "maxmemory-samples", "65"),
    ("CONFIG", "GET", "maxmemory-samples"),
    ("CONFIG", "SET", "maxmemory-samples", "2147483647"),
    ("CONFIG", "GET", "maxmemory-samples"),
    ("CONFIG", "SET", "maxmemory-samples", "2147483648"),
    ("CONFIG", "SET", "maxmemory-samples", "-1"),
    ("CONFIG", "GET", "maxmemory-samples"),
    ("CONFIG", "SET", "maxmemory-samples", "5"),
    ("CONFIG", "SET", "lfu-log-factor", "-1"),
    ("CONFIG", "SET", "lfu-log-factor", "20"),
    ("CONFIG", "SET", "lfu-decay-time", "-1"),
    ("CONFIG", "SET", "lfu-decay-time", "5"),
    ("CONFIG", "GET", "lfu-log-factor"),
    ("CONFIG", "GET", "lfu-decay-time"),
    ("CONFIG", "SET", "maxmemory", "0", "maxmemory", "1"),
    ("CONFIG", "SET", "maxmemory", "0", "maxmemory-policy", "noeviction"),
    ("CONFIG", "GET", "maxmemory"),
    ("CONFIG", "GET", "maxmemory-policy"),
    ("OBJECT", "FREQ", "a"),
    ("OBJECT", "FREQ", "missing"),
    ("OBJECT", "IDLETIME", "missing"),
    ("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"),
    ("OBJECT", "IDLETIME", "a"),
    ("OBJECT", "IDLETIME", "missing"),
    ("CONFIG", "SET", "maxmemory-policy", "volatile-lfu"),
    ("OBJECT", "IDLETIME", "a"),
    ("CONFIG", "SET", "maxmemory-policy", "noeviction"),
    ("CONFIG", "SET", "maxmemory", "1"),
    ("SET", "b", "2"),
    ("RPUSH", "l", "x"),
    ("INCR", "a"),
    ("GET", "a"),
    ("EXPIRE", "a", "100"),
    # Scripts over maxmemory (Redis's scriptVerifyOOM and script flags): a
    # script without shebang fails at its first denyoom command unless it
    # wrote before; one with a shebang that may write is refused whole
    # unless allow-oom; no-writes runs; functions follow their flags.
    ("EVAL", "return redis.call('set', KEYS[1], '1')", "1", "s1"),
    ("EVAL", "return redis.call('get', KEYS[1])", "1", "a"),
    ("EVAL", "redis.call('del', 'zz'); return redis.call('set', KEYS[1], '1')", "1", "s2"),
    ("EVAL", "return redis.pcall('set', KEYS[1], '1')", "1", "s3"),
    ("EVAL", "return redis.call('incr', KEYS[1])", "1", "a"),
    ("EVALSHA", "60339c26c7236aeee698127c238daf62ce471835", "1", "s4"),
    ("EVAL", "#!lua\nreturn redis.call('set', KEYS[1], '1')", "1", "s5"),
    ("EVAL", "#!lua\nreturn 1", "0"),
    ("EVAL", "#!lua flags=allow-oom\nreturn redis.call('set', KEYS[1], '1')", "1", "s6"),
    ("EVAL", "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", "1", "a"),
    ("EVAL_RO", "return redis.call('get', KEYS[1])", "1", "a"),
    ("EVAL_RO", "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", "1", "a"),
    ("FCALL", "w", "1", "f1"),
    ("FCALL", "wo", "1", "f2"),
    ("FCALL", "r", "1", "f2"),
    ("FCALL_RO", "r", "1", "f2"),
    ("FCALL", "nosuch", "0"),
    ("FUNCTION", "LOAD", "#!lua name=l2\nredis.register_function('x', function() return 1 end)"),
    ("SCRIPT", "LOAD", "return 2"),
    ("DEL", "a"),
    ("CONFIG", "SET", "maxmemory", "0"),
    ("SET", "b", "2"),
    ("MGET", "s1", "s2", "s3", "s5", "s6", "f1", "f2"),
    ("FUNCTION", "DELETE", "oomlib"),
    # MULTI above maxmemory: queuing refused, EXEC aborts.
    ("CONFIG", "SET", "maxmemory", "1"),
    ("MULTI",),
    ("SET", "c", "3"),
    ("GET", "b"),
    ("DEL", "b"),
    ("EXEC",),
    ("MULTI",),
    ("DISCARD",),
    ("MULTI",),
    ("PING",),
    ("EXEC",),
    ("EXISTS", "b", "c"),
    # Queued below maxmemory, EXEC above it.
    ("CONFIG", "SET", "maxmemory", "0"),
    ("MULTI",),
    ("SET", "x", "1"),
    ("GET", "b"),
    ("@b", "CONFIG", "SET", "maxmemory", "1"),
    ("EXEC",),
    ("EXISTS", "x"),
    ("@b", "CONFIG", "SET", "maxmemory", "0"),
    ("MULTI",),
    ("GET", "b"),
    ("EXISTS", "x"),
    ("@b", "CONFIG", "SET", "maxmemory", "1"),
    ("EXEC",),
    ("CONFIG", "SET", "maxmemory", "0"),
    ("SET", "x", "1"),
]


def run(target, proto):
    c = compat.Conn(target.host, target.port)
    b = compat.Conn(target.host, target.port)
    out = []
    if proto == 3:
        c.call("HELLO", "3")
        b.call("HELLO", "3")
    for step in STEPS:
        if step[0] == "@b":
            out.append(b.call(*step[1:]).raw)
        else:
            out.append(c.call(*step).raw)
    b.close()
    c.close()
    return out


def main():
    verbose = "--verbose" in sys.argv
    redis = compat.start_redis()
    other = compat.start_raftkv()
    bad = 0
    try:
        for proto in (2, 3):
            a, b = run(redis, proto), run(other, proto)
            for step, x, y in zip(STEPS, a, b):
                if x != y:
                    bad += 1
                    print("RESP%d %s\n  redis:  %r\n  raftkv: %r" % (proto, " ".join(step), x, y))
                elif verbose:
                    print("RESP%d %s: %r" % (proto, " ".join(step), x))
    finally:
        other.stop()
        redis.stop()
    print("%d of %d replies differ" % (bad, 2 * len(STEPS)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
