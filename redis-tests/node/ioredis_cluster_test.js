// ioredis Cluster against a 3-node RaftKV cluster in follower-mode redirect:
// it finds the leader through CLUSTER SLOTS, follows -MOVED, and survives a
// leader kill -9 (see failover_app.js for the bounds).
//   node ioredis_cluster_test.js host:port,host:port,host:port
'use strict';
const Redis = require('ioredis');
const {runFailoverApp} = require('./failover_app');

async function main() {
  const seeds = process.argv[2].split(',').map((hp) => {
    const [host, port] = hp.split(':');
    return {host, port: Number(port)};
  });
  const c = new Redis.Cluster(seeds, {
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    redisOptions: {connectTimeout: 2000},
  });
  const errors = [];
  c.on('error', (e) => errors.push(e));
  await new Promise((resolve, reject) => {
    c.once('ready', resolve);
    c.once('end', () => reject(new Error('cluster connection ended before ready')));
  });
  await runFailoverApp({
    label: 'ioredis ' + require('ioredis/package.json').version + ' Cluster',
    set: (k, v) => c.set(k, v),
    get: (k) => c.get(k),
    mget: (keys) => c.mget(keys),
    close: () => c.quit(),
  });
  // 'error' events are the client's own reconnect noise, not the app's errors
  console.log(`ioredis emitted ${errors.length} error events`);
  c.disconnect();
  process.exit(0); // a reconnect timer to a once-dead node must not keep node alive
}

main().catch((e) => {
  console.error('FAIL', e);
  process.exit(1);
});
