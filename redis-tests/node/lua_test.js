// ioredis defineCommand against a RaftKV cluster: the custom command is
// sent as EVALSHA and, on NOSCRIPT, as EVAL (ioredis's fallback); on a
// follower (proxy mode: the script is forwarded, one log entry) and on the
// leader; in a pipeline and in MULTI. The script cache is replicated state:
// once the leader ran the body, EVALSHA finds it on the follower.
//   node lua_test.js FOLLOWER_HOST:PORT LEADER_HOST:PORT
'use strict';
const assert = require('assert/strict');
const crypto = require('crypto');
const Redis = require('ioredis');

const [follower, leader] = process.argv.slice(2).map((a) => {
  const i = a.lastIndexOf(':');
  return {host: a.slice(0, i), port: Number(a.slice(i + 1))};
});

// A body no earlier run has loaded, so the first call meets NOSCRIPT.
const tag = `${process.pid}-${Date.now()}`;
const CAS = `-- ${tag}
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2]) return 1 end
return 0`;
const HINCR = `-- ${tag}
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
return {n, redis.call('HLEN', KEYS[1]), tostring(n * 2)}`;

function client(ep) {
  const r = new Redis({host: ep.host, port: ep.port, maxRetriesPerRequest: 2});
  r.defineCommand('casSet', {numberOfKeys: 1, lua: CAS});
  r.defineCommand('hincrTwice', {numberOfKeys: 1, lua: HINCR});
  return r;
}

async function main() {
  const f = client(follower);
  const l = client(leader);
  const sha = crypto.createHash('sha1').update(CAS).digest('hex');
  assert.deepEqual(await f.script('exists', sha), [0]);
  await f.set('io:lua:reg', 'a');
  // on the follower: EVALSHA -> NOSCRIPT -> EVAL, forwarded to the leader
  assert.equal(await f.casSet('io:lua:reg', 'a', 'b'), 1);
  assert.equal(await f.casSet('io:lua:reg', 'a', 'c'), 0);
  assert.equal(await l.get('io:lua:reg'), 'b');
  // the EVAL cached the body on every node: the leader's EVALSHA finds it
  assert.deepEqual(await l.script('exists', sha), [1]);
  assert.equal(await l.evalsha(sha, 1, 'io:lua:reg', 'b', 'd'), 1);
  assert.equal(await l.casSet('io:lua:reg', 'd', 'e'), 1);
  assert.equal(await f.get('io:lua:reg'), 'e');
  // replies: integers, an array, a bulk string
  assert.deepEqual(await l.hincrTwice('io:lua:h', 'x', 5), [5, 1, '10']);
  assert.deepEqual(await f.hincrTwice('io:lua:h', 'y', 2), [2, 2, '4']);
  // a pipeline of custom commands on the follower
  const res = await f.pipeline().casSet('io:lua:reg', 'e', 'f').casSet('io:lua:reg', 'e', 'g')
      .hincrTwice('io:lua:h', 'x', 1).get('io:lua:reg').exec();
  assert.deepEqual(res, [[null, 1], [null, 0], [null, [6, 2, '12']], [null, 'f']]);
  // MULTI: the scripts run inside the transaction's entry
  const tx = await l.multi().casSet('io:lua:reg', 'f', 'h').casSet('io:lua:reg', 'h', 'i')
      .get('io:lua:reg').exec();
  assert.deepEqual(tx, [[null, 1], [null, 1], [null, 'i']]);
  // an error raised by the script reaches the caller as Redis words it
  l.defineCommand('boom', {numberOfKeys: 0, lua: `-- ${tag}\nreturn redis.error_reply('MYERR bad thing')`});
  await assert.rejects(l.boom(), /MYERR bad thing/);
  await assert.rejects(f.casSet('io:lua:h', 'x', 'y'), /WRONGTYPE/);
  f.disconnect();
  l.disconnect();
  console.log('ioredis defineCommand: ok');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
