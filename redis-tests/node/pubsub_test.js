// Pub/sub through a RaftKV follower: ioredis in subscriber mode and
// node-redis (RESP2 and RESP3) subscribe on the follower; the messages are
// published on the leader. Every message arrives, in publish order, with
// message and pmessage; unsubscribing stops delivery.
//   node pubsub_test.js FOLLOWER_HOST:PORT LEADER_HOST:PORT
'use strict';
const assert = require('assert/strict');
const Redis = require('ioredis');
const {createClient} = require('redis');

const [follower, leader] = process.argv.slice(2).map((a) => {
  const i = a.lastIndexOf(':');
  return {host: a.slice(0, i), port: Number(a.slice(i + 1))};
});

// Resolves with the first n items push() receives, or rejects after ms.
function collector(n, ms, what) {
  const got = [];
  let done;
  const p = new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: ${got.length} of ${n} after ${ms} ms: ` +
      JSON.stringify(got.slice(-3)))), ms);
    done = () => { clearTimeout(t); resolve(got); };
  });
  return {push: (x) => { got.push(x); if (got.length === n) done(); }, promise: p};
}

async function ioredisSubscriber(pub) {
  const sub = new Redis({host: follower.host, port: follower.port, maxRetriesPerRequest: 2});
  const N = 50;
  const msgs = collector(N, 30000, 'ioredis message');
  const pmsgs = collector(N, 30000, 'ioredis pmessage');
  sub.on('message', (ch, m) => msgs.push([ch, m]));
  sub.on('pmessage', (pat, ch, m) => pmsgs.push([pat, ch, m]));
  assert.equal(await sub.subscribe('io:news', 'io:other'), 2);
  assert.equal(await sub.psubscribe('io:n*'), 3);
  // ioredis 6 speaks RESP3 (HELLO 3): other commands work while subscribed
  assert.equal(await sub.ping(), 'PONG');
  assert.equal(await sub.get('io:nokey'), null);
  for (let i = 0; i < N; i++) await pub.publish('io:news', `m${i}`);
  const want = Array.from({length: N}, (_, i) => `m${i}`);
  assert.deepEqual((await msgs.promise).map(([ch, m]) => (assert.equal(ch, 'io:news'), m)), want);
  assert.deepEqual((await pmsgs.promise).map(([pat, ch, m]) =>
    (assert.equal(pat, 'io:n*'), assert.equal(ch, 'io:news'), m)), want);
  assert.equal(await sub.unsubscribe('io:news', 'io:other'), 1);
  assert.equal(await sub.punsubscribe(), 0);
  // out of subscriber mode: an ordinary connection again
  assert.equal(await sub.set('io:k', 'v'), 'OK');
  assert.equal(await sub.get('io:k'), 'v');
  sub.disconnect();
  console.log('ok ioredis subscriber mode on a follower');
}

async function nodeRedisSubscriber(pub, resp) {
  const sub = createClient({socket: {host: follower.host, port: follower.port}, RESP: resp});
  sub.on('error', (e) => console.log('node-redis error', e.message));
  await sub.connect();
  const N = 50;
  const msgs = collector(N, 30000, `node-redis RESP${resp} message`);
  const pmsgs = collector(N, 30000, `node-redis RESP${resp} pMessage`);
  await sub.subscribe('nr:news', (m, ch) => msgs.push([ch, m]));
  await sub.pSubscribe('nr:n*', (m, ch) => pmsgs.push([ch, m]));
  // PUBLISH counts the leader's subscribers: this one is on a follower
  for (let i = 0; i < N; i++) assert.equal(await pub.publish('nr:news', `m${i}`), 0);
  const want = Array.from({length: N}, (_, i) => `m${i}`);
  assert.deepEqual((await msgs.promise).map(([ch, m]) => (assert.equal(ch, 'nr:news'), m)), want);
  assert.deepEqual((await pmsgs.promise).map(([ch, m]) => (assert.equal(ch, 'nr:news'), m)), want);
  await sub.unsubscribe('nr:news');
  await sub.pUnsubscribe('nr:n*');
  await sub.quit();
  console.log(`ok node-redis RESP${resp} subscribe on a follower`);
}

async function main() {
  const pub = new Redis({host: leader.host, port: leader.port});
  await ioredisSubscriber(pub);
  const pub2 = createClient({socket: {host: leader.host, port: leader.port}});
  await pub2.connect();
  await nodeRedisSubscriber(pub2, 2);
  await nodeRedisSubscriber(pub2, 3);
  await pub2.quit();
  pub.disconnect();
}

main().then(() => process.exit(0), (e) => { console.error('FAIL', e); process.exit(1); });
