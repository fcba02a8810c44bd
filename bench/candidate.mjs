// One benchmark candidate: an Elector on a real store, in its own process so the benchmark
// can SIGTERM (graceful) or SIGKILL (crash) it. Prints one JSON line per event on stdout;
// `at` is wall-clock ms with sub-ms precision, comparable across processes on one host.
import { createStore } from '@leasehold/adapters';
import { Elector } from '@leasehold/core';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    store: { type: 'string' },
    election: { type: 'string', default: 'bench' },
    id: { type: 'string' },
    ttl: { type: 'string', default: '3000' },
    retry: { type: 'string', default: '1000' },
  },
});

const at = () => performance.timeOrigin + performance.now();
const say = (event, fields = {}) =>
  process.stdout.write(`${JSON.stringify({ event, id: values.id, at: at(), ...fields })}\n`);

// ZooKeeper sizes its session (its TTL) when it connects; the other stores ignore ttlMs.
const store = await createStore(values.store, { ttlMs: Number(values.ttl) });
const elector = new Elector({
  store,
  election: values.election,
  id: values.id,
  ttlMs: Number(values.ttl),
  retryIntervalMs: Number(values.retry),
});
elector.on('elected', ({ term }) => say('elected', { term }));
elector.on('deposed', ({ term, reason }) => say('deposed', { term, reason }));
process.once('SIGTERM', async () => {
  say('stopping');
  await elector.stop();
  say('released');
  await store.close();
  process.exit(0);
});
elector.start();
say('started');
