import { StoreUnavailableError } from '@leasehold/core';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore } from '../src/redis/index.js';
import { RedisServer, until } from '@leasehold/testkit';
import { exerciseStore, exerciseTransfer } from './helpers/exercise-store.js';

// Redis Cluster and Sentinel, each on private redis-servers.

const open = (url: string, namespace = `t${randomUUID().slice(0, 8)}`) =>
  createRedisStore(new URL(url), { namespace });

describe('redis cluster', () => {
  let node: RedisServer;
  beforeAll(async () => {
    // One cluster node that owns every slot: it enforces Cluster's rule that all keys of a
    // script hash to one slot (CROSSSLOT otherwise), without a client that follows MOVED.
    node = await RedisServer.start({ args: ['--cluster-enabled', 'yes'] });
    const admin = new Redis(node.url);
    await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    await until('cluster state ok', 10_000, async () =>
      /cluster_state:ok/.test(String(await admin.call('CLUSTER', 'INFO'))),
    );
    await admin.quit();
  });
  afterAll(() => node.close());

  it('runs every script, because each touches one election’s hash tag only', async () => {
    const admin = new Redis(node.url);
    // The node does refuse a script whose keys span slots.
    await expect(admin.eval('return 1', 2, 'a', 'b')).rejects.toThrow(/CROSSSLOT/);
    await admin.quit();
    const store = await open(node.url, 'cluster');
    try {
      for (const election of ['jobs', 'reports', 'with:colon', 'x'.repeat(100)]) {
        await exerciseStore(store, election);
        await exerciseTransfer(store, election);
      }
    } finally {
      await store.close();
    }
  });
});

describe('redis sentinel', () => {
  const master = 'leasehold-master';
  let primary: RedisServer;
  let replica: RedisServer;
  let sentinel: RedisServer;
  let url: string;
  beforeAll(async () => {
    primary = await RedisServer.start();
    replica = await RedisServer.start({
      args: ['--replicaof', '127.0.0.1', String(primary.port)],
    });
    sentinel = await RedisServer.start({ sentinelOf: { name: master, port: primary.port } });
    url = `redis://ignored/0?sentinels=127.0.0.1:${sentinel.port}&sentinelMaster=${master}`;
    // Sentinel finds replicas through the master's INFO; wait until it knows this one.
    const admin = new Redis(sentinel.url);
    await until(
      'sentinel knows the replica',
      20_000,
      async () => ((await admin.call('SENTINEL', 'REPLICAS', master)) as unknown[]).length === 1,
    );
    admin.disconnect(); // Sentinel 7.0 has no QUIT.
  });
  afterAll(async () => {
    await Promise.all([sentinel, replica, primary].map((s) => s?.close()));
  });

  it('connects to the master Sentinel names', async () => {
    const namespace = `s${randomUUID().slice(0, 6)}`;
    const store = await open(url, namespace);
    try {
      await exerciseStore(store, 'jobs');
      await exerciseTransfer(store, 'jobs');
      const direct = new Redis(primary.url);
      expect(await direct.exists(`${namespace}:{jobs}:term`)).toBe(1);
      await direct.quit();
    } finally {
      await store.close();
    }
  });

  it('reports an unknown master as unavailable, naming it', { timeout: 15_000 }, async () => {
    const store = await open(
      `redis://ignored?sentinels=127.0.0.1:${sentinel.port}&sentinelMaster=nope`,
    );
    try {
      const failure = await store.read('jobs').catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(StoreUnavailableError);
      expect((failure as Error).message).toContain('sentinel master "nope"');
    } finally {
      await store.close();
    }
  });

  it('follows a failover to the replica, and terms keep rising', { timeout: 60_000 }, async () => {
    const namespace = `f${randomUUID().slice(0, 6)}`;
    const store = await open(url, namespace);
    try {
      const before = await exerciseStore(store, 'jobs');
      // Make sure the replica has it, then lose the master.
      const direct = new Redis(primary.url);
      await direct.wait(1, 2_000);
      await direct.quit();
      await primary.kill();
      await until('acquires on the promoted replica', 45_000, async () => {
        const result = await store
          .tryAcquire({ election: 'jobs', holder: 'b', token: randomUUID(), ttlMs: 5_000 })
          .catch(() => null);
        if (result?.acquired !== true) return false;
        // Another server answers now (another run id): it may lack the last writes, so
        // the new holder waits out (up to) a TTL. Terms still rise.
        expect(result.lease.notBeforeMs).toBeGreaterThan(0);
        expect(result.lease.notBeforeMs).toBeLessThanOrEqual(5_000);
        expect(result.lease.term).toBeGreaterThan(before.term);
        return true;
      });
      const promoted = new Redis(replica.url);
      expect(await promoted.call('ROLE')).toContain('master');
      await promoted.quit();
    } finally {
      await store.close();
    }
  });
});
