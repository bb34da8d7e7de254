"""Lua scripts run at apply on every node (issue 17): scripts using TIME,
math.random, SPOP, SRANDMEMBER, pcall errors, a budget overrun after
partial writes, tostring({}) and pairs() over table keys leave every node
with the same key space at one applied index, byte for byte; a node that
installed a snapshot (a fresh process, a VM with no history) computes the
same results and finds the cached scripts (EVALSHA); a follower forwards
EVAL (proxy mode) and serves EVAL_RO itself."""
import pytest

from conftest import wait_until
from test_snapshot import assert_same_keyspace, info, settled

# A small log, so a stopped follower catches up by a snapshot quickly.
ARGS = ["--raft-log-keep", "50", "--follower-mode", "proxy"]

# What a Lua VM shows of its memory: addresses, iteration order over tables
# keyed by tables and functions, and its memory count. Stored in a key, so
# a node whose VM differs would hold a different key space.
ADDRESSES = """
local t = {}
local keys = {}
for i = 1, 20 do keys[i] = {} end
keys[21] = function() end
for i, k in ipairs(keys) do t[k] = i end
local order = {}
for k, v in pairs(t) do order[#order + 1] = tostring(v) end
local w = setmetatable({}, {__mode = 'k'})
w[{}] = 1
collectgarbage()
local weak = 0
for _ in pairs(w) do weak = weak + 1 end
local out = tostring({}) .. '|' .. tostring(keys[21]) .. '|' .. table.concat(order, ',') ..
    '|' .. weak .. '|' .. collectgarbage('count')
redis.call('rpush', KEYS[1], out)
return out
"""

RANDOM = """
local a = math.random()
local b = math.random(1000)
math.randomseed(7)
local c = math.random(10, 20)
local t = redis.call('time')
local t2 = redis.call('time')
assert(t[1] == t2[1] and t[2] == t2[2])
local popped = redis.call('spop', KEYS[2])
local some = redis.call('srandmember', KEYS[2], 3)
local neg = redis.call('srandmember', KEYS[2], -5)
redis.call('hset', KEYS[1], 'r', tostring(a) .. ':' .. b .. ':' .. c,
           'time', t[1] .. '.' .. t[2], 'popped', tostring(popped),
           'some', table.concat(some, ','), 'neg', table.concat(neg, ','))
return {tostring(a), b, c}
"""

PCALL = """
local ok, err = pcall(function() return redis.call('incr', KEYS[1]) end)
local r = redis.pcall('lpush', KEYS[1], 'x')
redis.call('set', KEYS[2], tostring(ok) .. '|' .. tostring(err) .. '|' .. r.err)
return r.err
"""

# Writes, then runs past the budget: the writes before stay, everywhere.
OVERRUN = """
redis.call('set', KEYS[1], 'before')
redis.call('incr', KEYS[2])
local i = 0
while true do i = i + 1 end
"""


def eval_all(r, n0):
    r.sadd("pool", *["m%d" % i for i in range(200)])
    r.set("str", "text")
    for i in range(n0, n0 + 8):
        r.eval(ADDRESSES, 1, "addr")
        r.eval(RANDOM, 2, "rand:%d" % i, "pool")
        r.eval(PCALL, 2, "str", "pcall:%d" % i)


def test_scripts_are_deterministic_across_nodes_and_snapshots(make_cluster):
    c = make_cluster(3, args=ARGS)
    ld = c.leader()
    r = ld.client()
    # A small budget, cluster-wide through the log.
    r.config_set("script-instruction-budget", "2000000")
    eval_all(r, 0)
    with pytest.raises(Exception) as e:
        r.eval(OVERRUN, 2, "partial", "partial:n")
    assert "instruction budget" in str(e.value)
    assert r.get("partial") == b"before" and r.get("partial:n") == b"1"
    sha = r.script_load(ADDRESSES)
    ref = assert_same_keyspace(c)
    assert len(ref[b"addr"][0][1]) == 8

    # Stop a follower, run enough entries that the leader's log no longer
    # has what it needs: it comes back by a snapshot, in a fresh process.
    f = c.followers()[0]
    f_last = int(info(f)["raft_last_index"])
    f.stop()
    eval_all(r, 100)
    p = r.pipeline(transaction=False)
    for i in range(300):
        p.set("fill:%d" % i, i)
    p.execute()
    wait_until(lambda: int(info(ld)["raft_first_index"]) > f_last + 1, 60,
               "the leader's log to be truncated past the stopped follower")
    f.start()
    wait_until(lambda: "Installed snapshot" in f.log(), 60, "the follower to install a snapshot")
    settled(c)
    # The restarted node has the script cache and the budget from the snapshot.
    with f.client() as rf:
        rf.execute_command("READONLY")
        assert rf.script_exists(sha) == [True]
        assert rf.config_get("script-instruction-budget") == {
            "script-instruction-budget": "2000000"}
    # More scripts, EVALSHA included, every node applying them.
    eval_all(r, 200)
    for i in range(4):
        r.evalsha(sha, 1, "addr")
    assert_same_keyspace(c)

    # Through a follower: EVAL is forwarded, EVAL_RO and EVALSHA_RO served.
    with f.client() as rf:
        assert rf.eval("return redis.call('incr', KEYS[1])", 1, "viaf") == 1
        assert rf.eval_ro("return redis.call('get', KEYS[1])", 1, "viaf") == b"1"
        ro = r.script_load("return redis.call('llen', KEYS[1])")
        assert rf.evalsha_ro(ro, 1, "addr") == len(ref[b"addr"][0][1]) + 8 * 2 + 4
        with pytest.raises(Exception) as e:
            rf.eval_ro("return redis.call('set', KEYS[1], 'x')", 1, "viaf")
        assert "Write commands are not allowed from read-only scripts" in str(e.value)
    # The leader dies: the new one still has every script (EVALSHA).
    ld.kill()
    ld2 = c.leader(among=[n for n in c.nodes if n.alive()])
    with ld2.client() as r2:
        r2.evalsha(sha, 1, "addr")
        assert r2.eval("return 1", 0) == 1
    ld.start()
    assert_same_keyspace(c)
