"""Function libraries are replicated state (issue 17, functions): FUNCTION
LOAD on the leader reaches every node; FCALL through a follower is
forwarded (proxy mode), FCALL_RO is served by the follower from its own
state; FUNCTION LIST answers the same from every node; functions that use
TIME, math.random, SPOP and Lua addresses leave every node with the same
key space at one applied index; the libraries survive a leader kill -9 and
reach a node that comes back by a snapshot (a fresh process)."""
import pytest

from conftest import wait_until
from test_snapshot import assert_same_keyspace, info, settled

ARGS = ["--raft-log-keep", "50", "--follower-mode", "proxy"]

LIB = """#!lua name=detlib
local function addr(keys, args)
  local t, ks = {}, {}
  for i = 1, 10 do ks[i] = {} end
  for i, k in ipairs(ks) do t[k] = i end
  local order = {}
  for k, v in pairs(t) do order[#order + 1] = tostring(v) end
  local out = tostring({}) .. '|' .. table.concat(order, ',') .. '|' .. collectgarbage('count')
  redis.call('rpush', keys[1], out)
  return out
end
local function rand(keys, args)
  local tm = redis.call('time')
  local popped = redis.call('spop', keys[2])
  redis.call('hset', keys[1], 'r', tostring(math.random()) .. ':' .. math.random(1000),
             'time', tm[1] .. '.' .. tm[2], 'popped', tostring(popped))
  return redis.call('incrby', 'calls', args[1])
end
redis.register_function('addr', addr)
redis.register_function('rand', rand)
redis.register_function{function_name='getro', callback=function(keys) return redis.call('get', keys[1]) end,
                        flags={'no-writes'}, description='read a key'}
"""

LIB2 = """#!lua name=later
redis.register_function{function_name='later_ro', callback=function(keys, args) return 'later:' .. args[1] end,
                        flags={'no-writes'}}
"""


def run_all(r, n0, n):
    r.sadd("pool", *["m%d" % i for i in range(100)])
    for i in range(n0, n0 + n):
        r.fcall("addr", 1, "addr")
        r.fcall("rand", 2, "rand:%d" % i, "pool", 2)


def lists(c):
    out = []
    for nd in c.nodes:
        if nd.alive():
            with nd.client() as rc:
                out.append(rc.execute_command("FUNCTION", "LIST", "WITHCODE"))
    return out


def test_functions_replicated(make_cluster):
    c = make_cluster(3, args=ARGS)
    ld = c.leader()
    r = ld.client()
    assert r.function_load(LIB) == b"detlib"
    settled(c)
    f = c.followers()[0]
    with f.client() as rf:
        # FCALL via a follower (forwarded), FCALL_RO served by the follower.
        assert rf.fcall("rand", 2, "viaf", "pool", 5) == 5
        rf.set("plain", "v")
        assert rf.fcall_ro("getro", 1, "plain") == b"v"
        with pytest.raises(Exception) as e:
            rf.fcall_ro("rand", 2, "x", "pool", 1)
        assert "write flag using *_ro command" in str(e.value)
    run_all(r, 0, 6)
    ls = lists(c)
    assert len(ls) == 3 and ls[0] == ls[1] == ls[2] and len(ls[0]) == 1
    ref = assert_same_keyspace(c)
    assert len(ref[b"addr"][0][1]) == 6

    # A follower misses a library load and enough entries to come back by
    # a snapshot, in a fresh process.
    f_last = int(info(f)["raft_last_index"])
    f.stop()
    assert r.function_load(LIB2) == b"later"
    run_all(r, 100, 4)
    p = r.pipeline(transaction=False)
    for i in range(200):
        p.set("fill:%d" % i, i)
    p.execute()
    wait_until(lambda: int(info(ld)["raft_first_index"]) > f_last + 1, 60,
               "the leader's log to be truncated past the stopped follower")
    f.start()
    wait_until(lambda: "Installed snapshot" in f.log(), 60, "the follower to install a snapshot")
    settled(c)
    with f.client() as rf:
        assert rf.fcall_ro("later_ro", 0, "x") == b"later:x"
    run_all(r, 200, 4)
    assert_same_keyspace(c)

    # The leader dies: the new leader has every library.
    ld.kill()
    alive = [n for n in c.nodes if n.alive()]
    ld2 = c.leader(among=alive)
    with ld2.client() as r2:
        assert r2.fcall("rand", 2, "after", "pool", 1) > 0
        assert len(r2.execute_command("FUNCTION", "LIST")) == 2
    ld.start()
    settled(c)
    run_all(ld2.client(), 300, 2)
    ls = lists(c)
    assert ls[0] == ls[1] == ls[2] and len(ls[0]) == 2
    assert_same_keyspace(c)
