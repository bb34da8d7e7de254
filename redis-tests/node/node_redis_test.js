// node-redis against a running server: default connection (RESP2, CLIENT
// SETINFO), a RESP3 connection (HELLO 3), get/set, pipelining, multi;
// hashes, lists, sets and sorted sets as applications use them (hGetAll's
// object, zRangeWithScores's {value, score}), in multi, and in database 2
// (the database option, and select).
//   node node_redis_test.js HOST PORT
'use strict';
const assert = require('assert/strict');
const {createClient} = require('redis');

// A reply as plain JSON data (RESP3 maps come back as objects without a
// prototype).
const plain = (v) => JSON.parse(JSON.stringify(v));

async function collections(c, label, opts) {
  assert.equal(await c.hSet('col:user', {name: 'ada', visits: 1, lang: 'en'}), 3);
  assert.equal(await c.hSet('col:user', 'name', 'Ada'), 0);
  assert.equal(await c.hIncrBy('col:user', 'visits', 41), 42);
  assert.deepEqual(plain(await c.hGetAll('col:user')), {name: 'Ada', visits: '42', lang: 'en'});
  assert.deepEqual(plain(await c.hGetAll('col:nohash')), {});
  assert.deepEqual(await c.hmGet('col:user', ['name', 'nofield']), ['Ada', null]);
  assert.equal(await c.hGet('col:user', 'lang'), 'en');
  await assert.rejects(c.hIncrBy('col:user', 'name', 1), /ERR hash value is not an integer/);

  assert.equal(await c.lPush('col:jobs', ['b', 'a']), 2);
  assert.equal(await c.rPush('col:jobs', ['c', 'd']), 4);
  assert.deepEqual(await c.lRange('col:jobs', 0, -1), ['a', 'b', 'c', 'd']);
  assert.equal(await c.rPop('col:jobs'), 'd');
  assert.equal(await c.lPop('col:jobs'), 'a');
  assert.equal(await c.lMove('col:jobs', 'col:done', 'LEFT', 'RIGHT'), 'b');
  assert.equal(await c.lLen('col:jobs'), 1);
  assert.equal(await c.lPop('col:nolist'), null);

  assert.equal(await c.sAdd('col:tags', ['redis', 'raft', 'kv']), 3);
  assert.equal(await c.sAdd('col:tags', 'raft'), 0);
  assert.deepEqual(Array.from(await c.sMembers('col:tags')).sort(), ['kv', 'raft', 'redis']);
  assert.equal(Number(await c.sIsMember('col:tags', 'raft')), 1);
  assert.equal(Number(await c.sIsMember('col:tags', 'paxos')), 0);
  const popped = await c.sPop('col:tags');
  assert.ok(['kv', 'raft', 'redis'].includes(popped), popped);
  assert.equal(await c.sCard('col:tags'), 2);

  const members = [{score: 10, value: 'ada'}, {score: 5, value: 'bob'}, {score: 7.5, value: 'cy'}];
  assert.equal(await c.zAdd('col:board', members), 3);
  assert.equal(Number(await c.zIncrBy('col:board', 7.5, 'bob')), 12.5);
  assert.deepEqual(await c.zRangeWithScores('col:board', 0, -1),
    [{value: 'cy', score: 7.5}, {value: 'ada', score: 10}, {value: 'bob', score: 12.5}]);
  assert.deepEqual(await c.zRange('col:board', '(7.5', '+inf', {BY: 'SCORE'}), ['ada', 'bob']);
  assert.deepEqual(await c.zRangeByScore('col:board', 0, 10), ['cy', 'ada']);
  assert.equal(Number(await c.zScore('col:board', 'ada')), 10);
  assert.deepEqual(plain(await c.zPopMin('col:board')), {value: 'cy', score: 7.5});
  await assert.rejects(c.lPush('col:board', 'x'), /WRONGTYPE Operation against a key holding the wrong kind/);

  const tx = await c.multi().hSet('col:cart', {apple: 2}).rPush('col:events', 'added').sAdd('col:carts', 'cart')
    .zAdd('col:recent', {score: 5, value: 'cart'}).hGetAll('col:cart').zRangeWithScores('col:recent', 0, -1)
    .lRange('col:events', 0, -1).exec();
  assert.deepEqual(plain(tx), [1, 1, 1, 1, {apple: '2'}, [{value: 'cart', score: 5}], ['added']]);
  // commands issued in the same tick are pipelined
  const pl = await Promise.all([c.hIncrBy('col:cnt', 'f', 1), c.rPush('col:q', 'x'), c.sAdd('col:s', 'm'),
    c.zAdd('col:z', {score: 1, value: 'm'}), c.hIncrBy('col:cnt', 'f', 1)]);
  assert.deepEqual(pl, [1, 1, 1, 1, 2]);

  // database 2: the database option (SELECT at connect), then select
  const db2 = createClient({...opts, database: 2});
  await db2.connect();
  assert.equal(await db2.exists('col:user'), 0);
  assert.equal(await db2.hSet('col:user', {db: 'two'}), 1);
  assert.deepEqual(plain(await db2.hGetAll('col:user')), {db: 'two'});
  assert.equal(await db2.dbSize(), 1);
  await db2.flushDb();
  await (db2.close ? db2.close() : db2.quit());
  await c.select(2); // node-redis's own: it keeps the database for reconnects
  assert.equal(await c.sAdd('col:tags', 'two'), 1);
  assert.deepEqual(Array.from(await c.sMembers('col:tags')), ['two']);
  await c.flushDb();
  await c.select(0);
  assert.equal(await c.hGet('col:user', 'name'), 'Ada');
  console.log(`${label}: collections ok`);
}

async function exercise(c, label, opts) {
  assert.equal(await c.ping(), 'PONG');
  assert.equal(await c.set('a', 'hello'), 'OK');
  assert.equal(await c.get('a'), 'hello');
  assert.equal(await c.get('nokey'), null);
  assert.equal(await c.set('t', 'v', {EX: 100}), 'OK');
  const ttl = await c.ttl('t');
  assert.ok(ttl > 90 && ttl <= 100, `ttl ${ttl}`);
  assert.equal(await c.incr('n'), 1);
  assert.deepEqual(await c.mGet(['a', 'nokey', 'n']), ['hello', null, '1']);
  await assert.rejects(c.incr('a'), /ERR value is not an integer or out of range/);
  // commands issued in the same tick are pipelined
  const res = await Promise.all([c.set('p', '1'), c.incr('p'), c.get('p')]);
  assert.deepEqual(res, ['OK', 2, '2']);
  const many = await Promise.all(Array.from({length: 500}, () => c.incr('c')));
  assert.deepEqual(many, Array.from({length: 500}, (_, i) => i + 1));
  const tx = await c.multi().set('m', '1').incr('m').get('m').exec();
  assert.deepEqual(tx, ['OK', 2, '2']);
  const pl = await c.multi().set('q', '1').incr('q').execAsPipeline();
  assert.deepEqual(pl, ['OK', 2]);
  await collections(c, label, opts);
  const info = await c.info();
  assert.match(String(info), /redis_version:/);
  const ci = await c.sendCommand(['CLIENT', 'INFO']);
  console.log(`${label}: CLIENT INFO: ${String(ci).trim()}`);
  assert.match(String(ci), /lib-name=node-redis /); // its CLIENT SETINFO was accepted
  await c.flushAll();
}

async function main() {
  const [host, port] = process.argv.slice(2);
  const opts = {socket: {host, port: Number(port), reconnectStrategy: false}};
  for (const [label, extra] of [['default', {}], ['RESP3', {RESP: 3}]]) {
    const c = createClient({...opts, ...extra});
    const errors = [];
    c.on('error', (e) => errors.push(e));
    await c.connect();
    await exercise(c, label, {...opts, ...extra});
    if (label === 'RESP3') {
      const cfg = await c.configGet('maxclients');
      assert.deepEqual(JSON.parse(JSON.stringify(cfg)), {maxclients: '10000'});
    }
    await (c.close ? c.close() : c.quit());
    assert.deepEqual(errors, []);
  }
  console.log('node-redis ' + require('redis/package.json').version + ': ok');
}

main().catch((e) => {
  console.error('FAIL', e);
  process.exit(1);
});
