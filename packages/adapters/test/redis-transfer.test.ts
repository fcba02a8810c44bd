import type { Lease, LeaseStore } from '@leasehold/core';
import { Cluster, Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisStore } from '../src/redis/index.js';
import { RedisServer, until } from '@leasehold/testkit';
import { acquire, member } from './helpers/exercise-store.js';

/**
 * Transfers on Redis (docs/design.md §3.6) beyond the conformance suite: where the
 * reservation lives, whom the hand-over wakes, what a failover does to it, and how fast an
 * elector's transfer lands (redis.test.ts). Shared servers keep to their own namespace; failovers run on
 * private redis-servers.
 */

const SHARED_URL = 'redis://127.0.0.1:6379';
const CLUSTER_URL = 'redis://127.0.0.1:7000?cluster=true';
const TTL_MS = 5_000;
const stores: LeaseStore[] = [];
const servers: RedisServer[] = [];
const namespaces: string[] = [];

async function open(url: string, namespace: string): Promise<LeaseStore> {
  const store = await createRedisStore(new URL(url), { namespace });
  stores.push(store);
  return store;
}

function fresh(prefix: string): string {
  const namespace = `${prefix}${randomUUID().slice(0, 6)}`;
  namespaces.push(namespace);
  return namespace;
}

const request = (election: string, holder: string) => ({
  election,
  holder,
  token: randomUUID(),
  ttlMs: TTL_MS,
});

async function handOver(store: LeaseStore, lease: Lease, to: string, ms = 60_000) {
  expect(await store.transfer?.handOver(lease, to, ms)).toBe(true);
}

afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
  await Promise.all(servers.splice(0).map((server) => server.close()));
  const redis = new Redis(SHARED_URL);
  for (const namespace of namespaces.splice(0)) {
    const keys = await redis.keys(`${namespace}:*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  await redis.quit();
});

describe('redis transfer', () => {
  it('keeps the reservation under the election’s hash tag, expiring by the server', async () => {
    const namespace = fresh('rk');
    const store = await open(SHARED_URL, namespace);
    await handOver(store, await acquire(store, request('jobs', 'alpha')), 'beta', 4_000);
    const redis = new Redis(SHARED_URL);
    try {
      expect((await redis.keys(`${namespace}:{jobs}:*`)).sort()).toEqual(
        ['reserved', 'server', 'term'].map((k) => `${namespace}:{jobs}:${k}`),
      );
      const pttl = await redis.pttl(`${namespace}:{jobs}:reserved`);
      expect(pttl).toBeGreaterThan(3_000);
      expect(pttl).toBeLessThanOrEqual(4_000);
    } finally {
      await redis.quit();
    }
  });

  it('writes the reservation in the election’s slot on Redis Cluster', async () => {
    const namespace = `rc${randomUUID().slice(0, 6)}`;
    const store = await open(CLUSTER_URL, namespace);
    const cluster = new Cluster([{ host: '127.0.0.1', port: 7000 }]);
    try {
      for (const election of ['jobs', 'reports', 'with:colon']) {
        await handOver(store, await acquire(store, request(election, 'alpha')), 'beta');
        const key = `${namespace}:{${election}}:reserved`;
        expect(await cluster.exists(key)).toBe(1);
        const slot = async (k: string) => Number(await cluster.call('CLUSTER', 'KEYSLOT', k));
        expect(await slot(key)).toBe(await slot(`${namespace}:{${election}}:lease`));
        expect(await store.transfer?.reservation(election)).toMatchObject({ successor: 'beta' });
        await cluster.del(
          key,
          `${namespace}:{${election}}:term`,
          `${namespace}:{${election}}:server`,
        );
      }
    } finally {
      await cluster.quit();
    }
  });

  it('wakes the successor, not the first in line', async () => {
    const store = await open(SHARED_URL, fresh('rw'));
    const lease = await acquire(store, request('jobs', 'alpha'));
    // gamma is first in line (a higher priority): a release would wake it, a hand-over not.
    await store.members?.put('jobs', { ...member('gamma'), priority: 9 }, 60_000);
    await store.members?.put('jobs', member('beta'), 60_000);
    const woken: string[] = [];
    const controller = new AbortController();
    for (const id of ['gamma', 'beta']) {
      await store.watch?.('jobs', () => woken.push(id), controller.signal, id);
    }
    try {
      await handOver(store, lease, 'beta');
      await until('the successor woken', 2_000, () => woken.includes('beta'));
      // One message wakes every watcher it names at once: gamma would be woken by now.
      expect(woken).toEqual(['beta']);
    } finally {
      controller.abort();
    }
  });

  it(
    'makes the successor wait out a TTL after a failover, as any claim',
    { timeout: 30_000 },
    async () => {
      // A reservation survives a failover to a replica that got it; the promoted replica
      // (another run id) may have missed writes, so an admitted claim is not a clean one.
      const primary = await RedisServer.start();
      servers.push(primary);
      const replica = await RedisServer.start({
        args: ['--replicaof', '127.0.0.1', String(primary.port)],
      });
      servers.push(replica);
      const namespace = `fo${randomUUID().slice(0, 6)}`;
      const a = await open(primary.url, namespace);
      const held = await acquire(a, request('jobs', 'alpha'));
      await handOver(a, held, 'beta');
      const onReplica = new Redis(replica.url);
      await until('the reservation replicated', 20_000, async () => {
        return (await onReplica.exists(`${namespace}:{jobs}:reserved`)) === 1;
      });
      await onReplica.replicaof('NO', 'ONE'); // promoted, as Sentinel would
      await onReplica.quit();
      const b = await open(replica.url, namespace);
      expect(await b.tryAcquire(request('jobs', 'gamma'))).toMatchObject({
        acquired: false,
        reservedFor: 'beta',
      });
      const claimed = await acquire(b, request('jobs', 'beta'));
      expect(claimed.notBeforeMs).toBe(TTL_MS);
      expect(claimed.term).toBeGreaterThan(held.term);
    },
  );
});
