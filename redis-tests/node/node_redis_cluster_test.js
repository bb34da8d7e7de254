// node-redis createCluster against a 3-node RaftKV cluster in follower-mode
// redirect: it finds the leader through CLUSTER SLOTS, follows -MOVED, and
// survives a leader kill -9 (see failover_app.js for the bounds).
//   node node_redis_cluster_test.js host:port,host:port,host:port
'use strict';
const {createCluster} = require('redis');
const {runFailoverApp} = require('./failover_app');

async function main() {
  const rootNodes = process.argv[2].split(',').map((hp) => ({url: `redis://${hp}`}));
  const c = createCluster({rootNodes, defaults: {socket: {connectTimeout: 2000}}});
  const errors = [];
  c.on('error', (e) => errors.push(e));
  await c.connect();
  await runFailoverApp({
    label: 'node-redis ' + require('redis/package.json').version + ' createCluster',
    set: (k, v) => c.set(k, v),
    get: (k) => c.get(k),
    mget: (keys) => c.mGet(keys),
    close: () => c.close ? c.close() : c.quit(),
  });
  console.log(`node-redis emitted ${errors.length} error events`);
  process.exit(0);
}

main().catch((e) => {
  console.error('FAIL', e);
  process.exit(1);
});
