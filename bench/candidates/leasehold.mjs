// leasehold's Elector on a real store (the library the sidecar runs), in the benchmark's
// candidate protocol (../lib/candidate-host.mjs).
import { createStore } from '@leasehold/adapters';
import { Elector } from '@leasehold/core';
import { hostCandidates } from '../lib/candidate-host.mjs';

await hostCandidates(async (options) => {
  const { id, store: url, election, ttlMs, retryMs, namespace, version, say } = options;
  const store = await createStore(url, namespace === undefined ? {} : { namespace });
  const steering = version === undefined ? {} : { steering: { version } };
  const elector = new Elector({
    store,
    election,
    id,
    ttlMs,
    retryIntervalMs: retryMs,
    ...steering,
  });
  elector.on('elected', ({ term }) => say('elected', { term }));
  elector.on('deposed', ({ term, reason }) => say('deposed', { term, reason }));
  elector.on('store-request', ({ op }) => {
    if (op === 'acquire') say('attempt');
  });
  elector.start();
  return {
    isLeader: () => elector.isLeader(),
    transfer: (to) => elector.transfer(to),
    async stop() {
      await elector.stop();
      await store.close();
    },
  };
});
