import { Elector, LeaseholdConfigError, StoreAuthError, type LeaseStore } from '@leasehold/core';
import { runConformanceSuite } from '@leasehold/core/testing';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore } from '../src/redis/index.js';
import { redisOptionsFromUrl } from '../src/redis/url.js';
import { waitUntil } from './helpers/free-port.js';
import { PrivateRedis } from './helpers/private-redis.js';

const SHARED_URL = 'redis://127.0.0.1:6379';
const open = (url: string, namespace = `t${randomUUID().slice(0, 8)}`) =>
  createRedisStore(new URL(url), { namespace });

runConformanceSuite({
  name: 'redis',
  createStore: ({ namespace }) => open(SHARED_URL, namespace),
  cleanup: async ({ namespace }) => {
    const redis = new Redis(SHARED_URL);
    const keys = await redis.keys(`${namespace}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  },
});

describe('redis keys', () => {
  it('keeps every key of an election in one Cluster hash slot, under the prefix', async () => {
    const store = await open(SHARED_URL, 'myprefix');
    const election = `slot-${randomUUID().slice(0, 6)}`;
    const result = await store.tryAcquire({
      election,
      holder: 'a',
      token: randomUUID(),
      ttlMs: 5_000,
    });
    expect(result.acquired).toBe(true);
    await store.putMember?.(
      election,
      { id: 'a', priority: 0, startedAt: 0, heartbeatAt: 0, isLeader: true, metadata: {} },
      5_000,
    );
    const redis = new Redis(SHARED_URL);
    const keys = await redis.keys(`myprefix:{${election}}:*`);
    expect(keys.sort()).toEqual(
      ['info', 'lease', 'members', 'members:expiry', 'term'].map(
        (k) => `myprefix:{${election}}:${k}`,
      ),
    );
    const slots = new Set(
      await Promise.all(keys.map((key) => redis.call('CLUSTER', 'KEYSLOT', key).catch(() => null))),
    );
    // CLUSTER KEYSLOT answers on non-cluster servers too; every key maps to one slot.
    expect(slots.size).toBe(1);
    await redis.del(...keys);
    await redis.quit();
    await store.close();
  });
});

describe('redis URLs', () => {
  it.each([
    ['redis://127.0.0.1:6380/3', { host: '127.0.0.1', port: 6380, db: 3 }],
    [
      'redis://app:s3cret@cache.internal',
      { host: 'cache.internal', port: 6379, username: 'app', password: 's3cret' },
    ],
    ['rediss://cache:6380', { host: 'cache', port: 6380, tls: {} }],
    [
      'redis://:pw@ignored/1?sentinels=s1:26379,s2:26380&sentinelMaster=main',
      {
        name: 'main',
        db: 1,
        password: 'pw',
        sentinels: [
          { host: 's1', port: 26379 },
          { host: 's2', port: 26380 },
        ],
      },
    ],
  ])('reads %s', (url, expected) => {
    expect(redisOptionsFromUrl(new URL(url), {})).toMatchObject(expected);
  });

  it.each([
    ['redis://h/abc', 'database number'],
    ['redis://h?timeout=5', 'accepts sentinels'],
    ['redis://h?sentinels=a:1', 'needs both'],
    ['redis://h?sentinels=nope&sentinelMaster=m', 'host:port pairs'],
  ])('refuses %s', (url, message) => {
    expect(() => redisOptionsFromUrl(new URL(url), {})).toThrow(LeaseholdConfigError);
    expect(() => redisOptionsFromUrl(new URL(url), {})).toThrow(message);
  });
});

describe('redis when the server fails', () => {
  let server: PrivateRedis;
  const stores: LeaseStore[] = [];

  beforeAll(async () => {
    server = await PrivateRedis.start();
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  afterAll(async () => {
    await server.stop();
  });

  async function track(store: Promise<LeaseStore>) {
    const opened = await store;
    stores.push(opened);
    return opened;
  }

  it('after Redis restarts empty, the next holder waits a full TTL and gets a higher term', async () => {
    const a = await track(open(server.url, 'flush'));
    const b = await track(open(server.url, 'flush'));
    const election = 'jobs';
    const terms: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      const result = await a.tryAcquire({
        election,
        holder: 'a',
        token: randomUUID(),
        ttlMs: 4_000,
      });
      if (!result.acquired) throw new Error('a should acquire');
      terms.push(result.lease.term);
      if (i < 2) await a.release(result.lease);
    }
    // a leads; Redis restarts empty (no persistence): the lease, info and counter are gone.
    await server.restart();
    await waitUntil(
      async () => (await b.read(election).catch(() => 'down')) === null,
      10_000,
      'b reconnects',
    );
    const next = await b.tryAcquire({ election, holder: 'b', token: randomUUID(), ttlMs: 4_000 });
    if (!next.acquired) throw new Error('b should acquire the forgotten lock');
    expect(next.lease.notBeforeMs).toBe(4_000);
    expect(next.lease.term).toBeGreaterThan(Math.max(...terms));
    // With the counter back, a clean handoff does not wait.
    await b.release(next.lease);
    const after = await a.tryAcquire({ election, holder: 'a', token: randomUUID(), ttlMs: 4_000 });
    if (!after.acquired) throw new Error('a should acquire after release');
    expect(after.lease.notBeforeMs).toBe(0);
    expect(after.lease.term).toBeGreaterThan(next.lease.term);
  });

  it(
    'FLUSHALL while an elector leads: the new holder never overlaps the old deadline',
    { timeout: 30_000 },
    async () => {
      const namespace = `fl${randomUUID().slice(0, 6)}`;
      const electors = await Promise.all(
        ['a', 'b'].map(async (id) => {
          const elector = new Elector({
            store: await track(open(server.url, namespace)),
            election: 'jobs',
            id,
            ttlMs: 2_000,
            retryIntervalMs: 200,
          });
          return elector;
        }),
      );
      const [first, second] = electors as [Elector, Elector];
      try {
        first.start();
        await waitUntil(() => first.isLeader(), 5_000, 'first leads');
        second.start();
        const firstTerm = first.currentTerm() ?? Infinity;
        const admin = new Redis(server.url);
        await admin.flushall();
        await admin.quit();
        // Whoever wins the forgotten lock waits out a full TTL; never two leaders meanwhile.
        const leaders = () => electors.filter((e) => e.isLeader());
        await waitUntil(
          () => {
            expect(leaders().length).toBeLessThanOrEqual(1);
            return (leaders()[0]?.currentTerm() ?? 0) > firstTerm;
          },
          10_000,
          'a new term leads after the flush',
        );
      } finally {
        await Promise.all(electors.map((e) => e.stop()));
      }
    },
  );

  it(
    'reports a store that went down as unavailable, and recovers by itself',
    { timeout: 30_000 },
    async () => {
      const store = await track(open(server.url, 'down'));
      await server.stop();
      const failure = await store.read('jobs').catch((error: unknown) => error);
      expect(failure).toMatchObject({ code: 'LEASEHOLD_E_STORE_UNAVAILABLE' });
      await server.start();
      await waitUntil(
        async () => (await store.read('jobs').catch(() => 'down')) === null,
        10_000,
        'reconnects',
      );
    },
  );
});

describe('redis credentials', () => {
  let server: PrivateRedis;
  beforeAll(async () => {
    server = await PrivateRedis.start(['--requirepass', 'right-password']);
  });
  afterAll(async () => {
    await server.stop();
  });

  it('fails at start-up with a clear auth error that does not show the password', async () => {
    const failure = await open(`redis://:wrong-password@127.0.0.1:${server.port}`).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(StoreAuthError);
    expect((failure as Error).message).toMatch(/refused the credentials/);
    expect((failure as Error).message).not.toContain('wrong-password');
  });

  it('works with the right password', async () => {
    const store = await open(`redis://:right-password@127.0.0.1:${server.port}`);
    expect(await store.read('jobs')).toBeNull();
    await store.close();
  });
});

describe('redis with electors', () => {
  it(
    'hands over within milliseconds of a stop, with a higher term',
    { timeout: 30_000 },
    async () => {
      const namespace = `e${randomUUID().slice(0, 6)}`;
      const electors = await Promise.all(
        ['a', 'b', 'c'].map(
          async (id) =>
            new Elector({
              store: await open(SHARED_URL, namespace),
              election: 'jobs',
              id,
              ttlMs: 3_000,
              retryIntervalMs: 1_000,
            }),
        ),
      );
      for (const elector of electors) elector.start();
      try {
        const leaders = () => electors.filter((e) => e.isLeader());
        await waitUntil(() => leaders().length === 1, 10_000, 'one leader');
        const [first] = leaders();
        const firstTerm = first?.currentTerm() ?? Infinity;
        const stoppedAt = performance.now();
        await first?.stop();
        await waitUntil(() => leaders().length === 1, 3_000, 'next leader');
        expect(performance.now() - stoppedAt).toBeLessThan(500);
        expect(leaders()[0]?.currentTerm()).toBeGreaterThan(firstTerm);
      } finally {
        await Promise.all(electors.map((e) => e.stop()));
      }
    },
  );
});
