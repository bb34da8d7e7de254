// BullMQ (the real library) on a RaftKV cluster through a leader kill -9
// (run by test_bullmq.py): a Queue adds N jobs with fixed job ids (an add
// retried after an error is then a no-op), a Worker processes them, and
// QueueEvents (XREAD BLOCK on the events stream) counts completions. Both
// connect to a follower in proxy mode, which forwards to whichever node
// leads. Line protocol: prints KILL once a third of the jobs are in, waits
// for KILLED, then reports "RESULT <json>" and exits 0 when every job was
// completed (once: BullMQ's completed count), its event seen, none failed,
// and every job the processor ran twice is explained by a write of the
// worker that failed during the election: BullMQ is at-least-once, and a
// job whose completion write failed (TRYAGAIN: not executed, or the
// connection to the old leader lost) runs again once its lock lapses, as
// on a Redis failover.
'use strict';
const readline = require('readline');
const { Queue, Worker, QueueEvents } = require('bullmq');

const N = 60;
const CONCURRENCY = 4;
const DEADLINE_MS = 90000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const [host, port] = process.argv[2].split(':');
const connection = { host, port: Number(port), maxRetriesPerRequest: null, retryStrategy: () => 100 };

let killed = false;
readline.createInterface({ input: process.stdin }).on('line', (l) => { if (l.startsWith('KILLED')) killed = true; });

(async () => {
  const t0 = Date.now();
  const runs = new Map(); // job id -> processor invocations
  let workerErrors = 0; // writes of the worker that failed (each may leave a job to run again)
  let errors = 0;
  const note = (what, e) => { errors++; console.log(`  ${what}: ${e && e.message}`); };
  const queue = new Queue('bq', { connection });
  queue.on('error', (e) => note('queue error', e));
  const events = new QueueEvents('bq', { connection });
  events.on('error', (e) => note('events error', e));
  const evCompleted = new Set();
  events.on('completed', ({ jobId }) => evCompleted.add(jobId));
  await events.waitUntilReady();
  const worker = new Worker('bq', async (job) => {
    runs.set(job.id, (runs.get(job.id) || 0) + 1);
    await sleep(5);
    return job.data.i;
  }, { connection, concurrency: CONCURRENCY, lockDuration: 10000, stalledInterval: 5000 });
  worker.on('error', (e) => { workerErrors++; note('worker error', e); });
  worker.on('failed', (job, e) => note(`job ${job && job.id} failed`, e));

  for (let i = 0; i < N; i++) {
    if (i === N / 3) {
      console.log('KILL');
      while (!killed) await sleep(10);
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await queue.add('job', { i }, { jobId: `job-${i}` });
        break;
      } catch (e) {
        note(`add job-${i} attempt ${attempt}`, e);
        if (Date.now() - t0 > DEADLINE_MS) throw new Error('adds did not get through');
        await sleep(200);
      }
    }
  }
  let counts = null;
  while (Date.now() - t0 < DEADLINE_MS) {
    try {
      counts = await queue.getJobCounts('completed', 'failed', 'active', 'wait', 'delayed');
      if (counts.completed === N && runs.size === N) break;
    } catch (e) {
      note('getJobCounts', e);
    }
    await sleep(100);
  }
  while (evCompleted.size < N && Date.now() - t0 < DEADLINE_MS) await sleep(50);
  const twice = [...runs].filter(([, n]) => n > 1).map(([id]) => id);
  const result = { jobs: N, processed: runs.size, twice, counts, events: evCompleted.size, errors, workerErrors,
                   seconds: (Date.now() - t0) / 1000 };
  console.log('RESULT ' + JSON.stringify(result));
  await Promise.race([Promise.all([worker.close(), events.close(), queue.close()]), sleep(5000)]);
  const rerunOk = twice.length <= workerErrors;
  const ok = runs.size === N && rerunOk && counts && counts.completed === N && counts.failed === 0 &&
             evCompleted.size === N;
  process.exit(ok ? 0 : 1);
})().catch((e) => { console.log('FAIL ' + (e && e.stack || e)); process.exit(2); });
