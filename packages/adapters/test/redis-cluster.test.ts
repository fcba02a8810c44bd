import { LeaseholdConfigError } from '@leasehold/core';
import { runConformanceSuite } from '@leasehold/conformance';
import { Cluster } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createRedisStore } from '../src/redis/index.js';
import { assertOneSlot, clusterSeedsFromUrl, hashTag } from '../src/redis/cluster.js';
import { exerciseStore } from './helpers/exercise-store.js';

// The shared Redis Cluster that scripts/services.sh starts (3 masters, a replica each, on
// 7000-7005). Every test keeps to its own namespace; faults run on a private cluster
// (redis-cluster-faults.test.ts).
const CLUSTER_URL = 'redis://127.0.0.1:7000?cluster=true';
const open = (namespace: string) => createRedisStore(new URL(CLUSTER_URL), { namespace });

async function deleteNamespace(namespace: string): Promise<void> {
  const cluster = new Cluster([{ host: '127.0.0.1', port: 7000 }]);
  try {
    for (const master of cluster.nodes('master')) {
      const keys = await master.keys(`${namespace}:*`);
      for (const key of keys) await cluster.del(key);
    }
  } finally {
    await cluster.quit();
  }
}

runConformanceSuite({
  name: 'redis cluster',
  transfer: true,
  memberSteering: true,
  batch: true,
  batchMembers: true,
  batchReads: true,
  createStore: ({ namespace }) => open(namespace),
  cleanup: ({ namespace }) => deleteNamespace(namespace),
});

describe('redis cluster store', () => {
  it('serves elections whose slots live on every master', async () => {
    const namespace = `t${randomUUID().slice(0, 8)}`;
    const store = await open(namespace);
    const probe = new Cluster([{ host: '127.0.0.1', port: 7000 }]);
    try {
      const owners = new Set<string>();
      for (let i = 0; i < 12; i += 1) {
        const election = `e${i}`;
        await exerciseStore(store, election);
        const slot = Number(await probe.call('CLUSTER', 'KEYSLOT', `{${election}}`));
        const shards = (await probe.call('CLUSTER', 'SLOTS')) as [
          number,
          number,
          [string, number],
        ][];
        const owner = shards.find(([from, to]) => slot >= from && slot <= to)?.[2];
        owners.add(`${owner?.[0]}:${owner?.[1]}`);
      }
      expect(owners.size).toBe(3);
    } finally {
      await probe.quit();
      await store.close();
      await deleteNamespace(namespace);
    }
  });

  it('offers no batch.claimMany: the claims of many slots go one ACQUIRE each', async () => {
    // One script cannot touch keys of many slots; and one ACQUIRE failing beside granted
    // ones would hide those grants from their electors (batch.ts).
    const store = await open(`t${randomUUID().slice(0, 8)}`);
    try {
      expect(store.batch?.renewMany).toBeTypeOf('function');
      expect(store.batch?.claimMany).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});

describe('redis cluster URL', () => {
  const seeds = (text: string) => clusterSeedsFromUrl(new URL(text));

  it('takes the URL host and clusterNodes as seeds', () => {
    expect(seeds('redis://a:7000?cluster=true&clusterNodes=b:7001,[::1]:7002')).toEqual([
      { host: 'a', port: 7000 },
      { host: 'b', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
    expect(seeds('redis://a:7000')).toBeNull();
    expect(seeds('redis://a:7000?cluster=false')).toBeNull();
  });

  it.each([
    ['redis://a:7000?cluster=yes', /store parameter cluster.*cluster=true or cluster=false/],
    ['redis://a:7000/3?cluster=true', /store database.*"?3"?.*database 0 only/],
    ['redis://a?cluster=true&sentinels=s:1&sentinelMaster=m', /either cluster=true or sentinels/],
    ['redis://a?clusterNodes=b:1', /clusterNodes needs cluster=true/],
    ['redis://a?cluster=true&clusterNodes=b', /store parameter clusterNodes.*host:port/],
  ])('refuses %s', (text, message) => {
    expect(() => seeds(text)).toThrow(LeaseholdConfigError);
    expect(() => seeds(text)).toThrow(message);
  });

  it('refuses a script call whose keys span two hash tags', () => {
    expect(hashTag('ns:{jobs}:lease')).toBe('jobs');
    expect(hashTag('a{}b')).toBe('a{}b');
    expect(() => assertOneSlot(['ns:{jobs}:lease', 'ns:{jobs}:incarnation'])).not.toThrow();
    expect(() => assertOneSlot(['ns:{jobs}:lease', 'ns:incarnation'])).toThrow(/span/);
  });
});
