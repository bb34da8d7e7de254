// ioredis against a running server: default connection (ready check with
// INFO, CLIENT SETINFO), get/set, pipeline, multi, errors.
//   node ioredis_test.js HOST PORT
'use strict';
const assert = require('assert/strict');
const Redis = require('ioredis');

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
