// ioredis against a running server: default connection (ready check with
// INFO, CLIENT SETINFO), get/set, pipeline, multi, errors; hashes, lists,
// sets and sorted sets as applications use them, in pipelines and multi, and
// in database 2 (the db option, and select).
//   node ioredis_test.js HOST PORT
'use strict';
const assert = require('assert/strict');
const Redis = require('ioredis');

// Hashes, lists, sets and sorted sets (keys under "col:", so the scanStream
// below still sees only "p").
async function collections(r, host, port) {
  assert.equal(await r.hset('col:user', {name: 'ada', visits: 1, lang: 'en'}), 3);
  assert.equal(await r.hset('col:user', 'name', 'Ada'), 0);
  assert.equal(await r.hincrby('col:user', 'visits', 41), 42);
  assert.deepEqual(await r.hgetall('col:user'), {name: 'Ada', visits: '42', lang: 'en'});
  assert.deepEqual(await r.hmget('col:user', 'name', 'nofield'), ['Ada', null]);
  assert.equal(await r.hexists('col:user', 'lang'), 1);
  assert.deepEqual(await r.hgetall('col:nohash'), {});
  await assert.rejects(r.hincrby('col:user', 'name', 1), /ERR hash value is not an integer/);

  assert.equal(await r.lpush('col:jobs', 'b', 'a'), 2);
  assert.equal(await r.rpush('col:jobs', 'c', 'd'), 4);
  assert.deepEqual(await r.lrange('col:jobs', 0, -1), ['a', 'b', 'c', 'd']);
  assert.equal(await r.rpop('col:jobs'), 'd');
  assert.equal(await r.lpop('col:jobs'), 'a');
  assert.equal(await r.lmove('col:jobs', 'col:done', 'LEFT', 'RIGHT'), 'b');
  assert.equal(await r.llen('col:jobs'), 1);

  assert.equal(await r.sadd('col:tags', 'redis', 'raft', 'kv'), 3);
  assert.equal(await r.sadd('col:tags', 'raft'), 0);
  assert.deepEqual((await r.smembers('col:tags')).sort(), ['kv', 'raft', 'redis']);
  assert.equal(await r.sismember('col:tags', 'raft'), 1);
  assert.equal(await r.sismember('col:tags', 'paxos'), 0);
  const popped = await r.spop('col:tags');
  assert.ok(['kv', 'raft', 'redis'].includes(popped), popped);
  assert.equal(await r.scard('col:tags'), 2);

  assert.equal(await r.zadd('col:board', 10, 'ada', 5, 'bob', 7.5, 'cy'), 3);
  assert.equal(await r.zincrby('col:board', 7.5, 'bob'), '12.5');
  assert.deepEqual(await r.zrange('col:board', 0, -1, 'WITHSCORES'), ['cy', '7.5', 'ada', '10', 'bob', '12.5']);
  assert.deepEqual(await r.zrangebyscore('col:board', '(7.5', '+inf'), ['ada', 'bob']);
  assert.equal(await r.zscore('col:board', 'ada'), '10');
  assert.deepEqual(await r.zpopmin('col:board'), ['cy', '7.5']);
  await assert.rejects(r.lpush('col:board', 'x'), /WRONGTYPE Operation against a key holding the wrong kind/);

  const pl = await r.pipeline().hincrby('col:cnt', 'f', 1).rpush('col:q', 'x').sadd('col:s', 'm')
    .zadd('col:z', 1, 'm').hgetall('col:cnt').lpush('col:user', 'x').exec();
  assert.deepEqual(pl.slice(0, 5), [[null, 1], [null, 1], [null, 1], [null, 1], [null, {f: '1'}]]);
  assert.match(String(pl[5][0]), /WRONGTYPE/);

  const tx = await r.multi().hset('col:cart', {apple: 2}).rpush('col:events', 'added').sadd('col:carts', 'cart')
    .zadd('col:recent', 5, 'cart').hgetall('col:cart').zrange('col:recent', 0, -1, 'WITHSCORES').exec();
  assert.deepEqual(tx, [[null, 1], [null, 1], [null, 1], [null, 1], [null, {apple: '2'}], [null, ['cart', '5']]]);

  // database 2: the db option (SELECT at connect), then select on a connection
  const db2 = new Redis({host, port: Number(port), db: 2, maxRetriesPerRequest: 1, retryStrategy: () => null});
  assert.equal(await db2.exists('col:user'), 0);
  assert.equal(await db2.hset('col:user', {db: 'two'}), 1);
  assert.deepEqual(await db2.hgetall('col:user'), {db: 'two'});
  assert.equal(await db2.dbsize(), 1);
  await db2.quit();
  assert.equal(await r.select(2), 'OK');
  assert.deepEqual(await r.hgetall('col:user'), {db: 'two'});
  assert.equal(await r.del('col:user'), 1);
  assert.equal(await r.select(0), 'OK');
  assert.equal(await r.hget('col:user', 'name'), 'Ada');
  assert.equal(await r.del('col:user', 'col:jobs', 'col:done', 'col:tags', 'col:board', 'col:cnt', 'col:q', 'col:s',
    'col:z', 'col:cart', 'col:events', 'col:carts', 'col:recent'), 13);
}

async function main() {
  const [host, port] = process.argv.slice(2);
  const r = new Redis({host, port: Number(port), maxRetriesPerRequest: 1, retryStrategy: () => null});
  const errors = [];
  r.on('error', (e) => errors.push(e));
  await new Promise((resolve, reject) => {
    r.once('ready', resolve);
    r.once('end', () => reject(new Error('connection ended before ready')));
  });
  assert.equal(await r.ping(), 'PONG');
  assert.equal(await r.set('a', 'hello'), 'OK');
  assert.equal(await r.get('a'), 'hello');
  assert.equal(await r.get('nokey'), null);
  assert.equal(await r.set('t', 'v', 'EX', 100), 'OK');
  const ttl = await r.ttl('t');
  assert.ok(ttl > 90 && ttl <= 100, `ttl ${ttl}`);
  assert.equal(await r.incr('n'), 1);
  assert.deepEqual(await r.mget('a', 'nokey', 'n'), ['hello', null, '1']);
  assert.equal(await r.incrbyfloat('f', '1.5'), '1.5');
  const buf = await r.getBuffer('a');
  assert.ok(Buffer.isBuffer(buf) && buf.toString() === 'hello');
  await assert.rejects(r.incr('a'), /ERR value is not an integer or out of range/);

  const res = await r.pipeline().set('p', '1').incr('p').get('p').incr('a').exec();
  assert.equal(res.length, 4);
  assert.deepEqual(res.slice(0, 3), [[null, 'OK'], [null, 2], [null, '2']]);
  assert.match(String(res[3][0]), /not an integer/);

  const tx = await r.multi().set('m', '1').incr('m').get('m').exec();
  assert.deepEqual(tx, [[null, 'OK'], [null, 2], [null, '2']]);

  await collections(r, host, port);

  // auto-pipelined concurrent commands keep their order
  const many = await Promise.all(Array.from({length: 500}, () => r.incr('c')));
  assert.deepEqual(many, Array.from({length: 500}, (_, i) => i + 1));

  const info = await r.info();
  assert.match(info, /redis_version:/);
  const ci = await r.client('INFO');
  console.log('CLIENT INFO as seen by ioredis: ' + ci.trim());
  assert.match(ci, /lib-name=ioredis /); // its CLIENT SETINFO was accepted
  const keys = [];
  await new Promise((resolve, reject) => {
    r.scanStream({match: 'p*', count: 2}).on('data', (k) => keys.push(...k)).on('end', resolve).on('error', reject);
  });
  assert.deepEqual(keys.sort(), ['p']);
  await r.quit();
  assert.deepEqual(errors, []);
  console.log('ioredis ' + require('ioredis/package.json').version + ': ok');
}

main().catch((e) => {
  console.error('FAIL', e);
  process.exit(1);
});
