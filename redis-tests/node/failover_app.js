// The application of the cluster-client tests (run by cluster_failover.py):
// it writes k:i = v:i one after another (and reads earlier ones back)
// through a cluster client while the controller kill -9s the leader and
// later restarts it. Every operation an application would retry is retried
// here, RETRY_MS apart, at most MAX_ATTEMPTS times; each rejected promise
// is an error the application saw. Bounds asserted: at most MAX_ERRORS
// errors in all, within ERROR_WINDOW_MS, no successful call slower than
// SLOWEST_MS (a retry hidden inside the client), every operation succeeded, every
// acknowledged write reads back afterwards.
//
// Line protocol with the controller: prints KILL, waits for KILLED (writing
// on), prints RESTART, waits for RESTARTED (writing on), prints ACKED <n>.
'use strict';
const assert = require('assert/strict');
const readline = require('readline');

const MAX_ATTEMPTS = 40; // per operation: ~8 s, many election timeouts
const RETRY_MS = 200;
const MAX_ERRORS = 20;
const ERROR_WINDOW_MS = 15000;
const SLOWEST_MS = 10000; // a client retrying inside one call counts too
const BEFORE = 150, AFTER_KILL = 150, AFTER_RESTART = 50;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function controller() {
  const seen = new Set();
  readline.createInterface({input: process.stdin}).on('line', (line) => seen.add(line.split(' ')[0]));
  return {
    said: (word) => seen.has(word),
    ask: (word) => console.log(word),
  };
}

// ops: {label, set(k, v) -> 'OK', get(k) -> value, mget(keys) -> values, close()}
async function runFailoverApp(ops) {
  const t0 = Date.now();
  const ctl = controller();
  const st = {acked: 0, errors: 0, kinds: {}, worst: 1, first: 0, last: 0, slowest: 0};

  async function op(what, fn, want) {
    for (let attempt = 1; ; attempt++) {
      try {
        const t = Date.now();
        const got = await fn();
        st.slowest = Math.max(st.slowest, Date.now() - t);
        assert.deepEqual(got, want, `${what}`);
        st.worst = Math.max(st.worst, attempt);
        return;
      } catch (e) {
        if (e instanceof assert.AssertionError) throw e; // a wrong answer is not retried
        st.errors++;
        const now = Date.now();
        if (!st.first) st.first = now;
        st.last = now;
        const kind = `${e.constructor.name}: ${String(e.message).split(' ').slice(0, 3).join(' ')}`;
        st.kinds[kind] = (st.kinds[kind] || 0) + 1;
        console.log(`  retry ${attempt} of ${what}: ${e.constructor.name}: ${e.message}`);
        if (attempt >= MAX_ATTEMPTS) throw new Error(`${what} still failing after ${attempt} attempts`);
        await sleep(RETRY_MS);
      }
    }
  }

  async function writeNext() {
    const i = st.acked;
    await op(`SET k:${i}`, () => ops.set(`k:${i}`, `v:${i}`), 'OK');
    st.acked = i + 1;
    if (i % 5 === 4) {
      const j = (i * 7919) % st.acked;
      await op(`GET k:${j}`, () => ops.get(`k:${j}`), `v:${j}`);
    }
  }

  async function until(word, more) {
    while (!ctl.said(word)) {
      await writeNext();
      await new Promise(setImmediate); // let the controller's line in
    }
    for (let n = 0; n < more; n++) await writeNext();
  }

  for (let n = 0; n < BEFORE; n++) await writeNext();
  ctl.ask('KILL');
  await until('KILLED', AFTER_KILL);
  ctl.ask('RESTART');
  await until('RESTARTED', AFTER_RESTART);

  // every acknowledged write reads back through the client
  const keys = Array.from({length: st.acked}, (_, i) => `k:${i}`);
  for (let i = 0; i < keys.length; i += 100) {
    const chunk = keys.slice(i, i + 100);
    await op(`MGET k:${i}..`, () => ops.mget(chunk), chunk.map((k) => 'v:' + k.slice(2)));
  }
  for (let i = 0; i < keys.length; i += 37) await op(`GET k:${i}`, () => ops.get(`k:${i}`), `v:${i}`);
  await ops.close();

  const window = st.first ? st.last - st.first : 0;
  console.log(`${ops.label}: ${st.acked} writes acknowledged, ${st.errors} errors seen by the application ` +
              `${JSON.stringify(st.kinds)}, at most ${st.worst} attempts for one operation, errors within ` +
              `${window} ms, slowest successful call ${st.slowest} ms, ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  console.log(`ACKED ${st.acked}`);
  assert.ok(st.errors <= MAX_ERRORS, `${st.errors} errors > ${MAX_ERRORS}`);
  assert.ok(window <= ERROR_WINDOW_MS, `errors over ${window} ms`);
  assert.ok(st.slowest <= SLOWEST_MS, `a call took ${st.slowest} ms`);
}

module.exports = {runFailoverApp};
