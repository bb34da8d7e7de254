// ioredis and node-redis over TLS: a server listening on a tls-port with
// tls-auth-clients yes. Each client connects with the test CA and a client
// certificate and runs SET/GET, a pipeline, MULTI, a hash and a 1 MB value;
// each also connects with a client key encrypted under a passphrase (their
// `passphrase` option), node-redis by a rediss:// URL; each refuses the
// server when told to trust another CA; a connection without a client
// certificate is refused by the server.
//   node tls_test.js HOST TLSPORT CA CERT KEY ENCCERT ENCKEY PASS OTHERCA
'use strict';
const assert = require('assert/strict');
const fs = require('fs');
const tls = require('tls');
const Redis = require('ioredis');
const {createClient} = require('redis');

const big = 'v'.repeat(1 << 20);

async function withIoredis(host, port, creds) {
  const r = new Redis({host, port, tls: {...creds, servername: 'localhost'}, maxRetriesPerRequest: 1,
    retryStrategy: () => null});
  const errors = [];
  r.on('error', (e) => errors.push(e));
  assert.equal(await r.set('tls:io', 'one'), 'OK');
  assert.equal(await r.get('tls:io'), 'one');
  const pl = await r.pipeline().incr('tls:n').incr('tls:n').get('tls:n').exec();
  assert.deepEqual(pl, [[null, 1], [null, 2], [null, '2']]);
  const tx = await r.multi().hset('tls:h', {a: '1'}).hgetall('tls:h').exec();
  assert.deepEqual(tx, [[null, 1], [null, {a: '1'}]]);
  assert.equal(await r.set('tls:big', big), 'OK');
  assert.equal((await r.get('tls:big')).length, big.length);
  await r.quit();
  assert.deepEqual(errors, []);
  console.log('ioredis ' + require('ioredis/package.json').version + ' over TLS: ok');
}

async function withNodeRedis(host, port, creds) {
  for (const RESP of [2, 3]) {
    const c = createClient({RESP, socket: {host, port, tls: true, ...creds, servername: 'localhost',
      reconnectStrategy: false}});
    const errors = [];
    c.on('error', (e) => errors.push(e));
    await c.connect();
    assert.equal(await c.set('tls:nr', 'two'), 'OK');
    assert.equal(await c.get('tls:nr'), 'two');
    const res = await c.multi().incr('tls:m').hGetAll('tls:h').exec();
    assert.equal(res[0] >= 1, true);
    assert.deepEqual(JSON.parse(JSON.stringify(res[1])), {a: '1'});
    assert.equal((await c.get('tls:big')).length, big.length);
    await (c.close ? c.close() : c.quit());
    assert.deepEqual(errors, []);
  }
  console.log('node-redis ' + require('redis/package.json').version + ' over TLS (RESP2, RESP3): ok');
}

// The client key encrypted with a passphrase: ioredis's tls options and a
// node-redis rediss:// URL with its socket options.
async function withEncryptedKey(host, port, enc) {
  const r = new Redis({host, port, tls: {...enc, servername: 'localhost'}, maxRetriesPerRequest: 1,
    retryStrategy: () => null});
  assert.equal(await r.set('tls:enc', 'io'), 'OK');
  assert.equal(await r.get('tls:enc'), 'io');
  await r.quit();
  const c = createClient({url: `rediss://${host}:${port}`,
    socket: {...enc, servername: 'localhost', reconnectStrategy: false}});
  const errors = [];
  c.on('error', (e) => errors.push(e));
  await c.connect();
  assert.equal(await c.set('tls:enc', 'nr'), 'OK');
  assert.equal(await c.get('tls:enc'), 'nr');
  await (c.close ? c.close() : c.quit());
  assert.deepEqual(errors, []);
  console.log('ioredis and node-redis (rediss:// URL) with an encrypted client key: ok');
}

// Told to trust another CA, each client refuses the server's certificate:
// no command is answered.
async function refuseAnotherCa(host, port, creds) {
  const bad = {...creds, ca: creds.otherCa, servername: 'localhost'};
  delete bad.otherCa;
  const r = new Redis({host, port, tls: bad, maxRetriesPerRequest: 0, retryStrategy: () => null,
    enableOfflineQueue: true, lazyConnect: true});
  r.on('error', () => {});
  await assert.rejects(async () => { await r.connect(); await r.ping(); }, 'ioredis trusted a server of another CA');
  r.disconnect();
  const c = createClient({socket: {host, port, tls: true, ...bad, reconnectStrategy: false}});
  c.on('error', () => {});
  await assert.rejects(() => c.connect(), 'node-redis trusted a server of another CA');
  console.log('ioredis and node-redis trusting another CA: the server refused');
}

// A TLS client without a certificate: the handshake or the first command
// fails, and nothing is answered.
async function refusedWithoutCertificate(host, port, ca) {
  const answered = await new Promise((resolve) => {
    const s = tls.connect({host, port, ca, servername: 'localhost'}, () => {
      s.write('*1\r\n$4\r\nPING\r\n');
    });
    let got = '';
    s.on('data', (d) => { got += d; });
    s.on('error', () => resolve(got));
    s.on('close', () => resolve(got));
    setTimeout(() => { s.destroy(); resolve(got); }, 10000);
  });
  assert.ok(!answered.includes('PONG'), 'a client without a certificate was answered: ' + answered);
  console.log('a TLS client without a certificate: refused');
}

async function main() {
  const [host, portArg, caPath, certPath, keyPath, encCertPath, encKeyPath, pass, otherCaPath] =
    process.argv.slice(2);
  const port = Number(portArg);
  const creds = {ca: fs.readFileSync(caPath), cert: fs.readFileSync(certPath), key: fs.readFileSync(keyPath)};
  await withIoredis(host, port, creds);
  await withNodeRedis(host, port, creds);
  await withEncryptedKey(host, port, {ca: creds.ca, cert: fs.readFileSync(encCertPath),
    key: fs.readFileSync(encKeyPath), passphrase: pass});
  await refuseAnotherCa(host, port, {...creds, otherCa: fs.readFileSync(otherCaPath)});
  await refusedWithoutCertificate(host, port, creds.ca);
}

main().catch((e) => {
  console.error('FAIL', e);
  process.exit(1);
});
