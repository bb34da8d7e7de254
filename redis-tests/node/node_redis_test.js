// node-redis against a running server: default connection (RESP2, CLIENT
// SETINFO), a RESP3 connection (HELLO 3), get/set, pipelining, multi.
//   node node_redis_test.js HOST PORT
'use strict';
const assert = require('assert/strict');
const {createClient} = require('redis');

async function exercise(c, label) {
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
    await exercise(c, label);
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
