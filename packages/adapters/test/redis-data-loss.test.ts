import type { Lease, LeaseStore } from '@leasehold/core';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisStore } from '../src/redis/index.js';
import { RedisServer, until } from '@leasehold/testkit';

/**
 * When may Redis have forgotten a live holder, so that the next holder must wait out a TTL
 * (issue 14, item 3)? Each case runs on private redis-servers. The first two failed before
 * the fix: only a missing term counter was taken as a sign of data loss.
 */

const TTL_MS = 5_000;
const servers: RedisServer[] = [];
const stores: LeaseStore[] = [];

async function server(args: readonly string[] = []): Promise<RedisServer> {
  const started = await RedisServer.start({ args });
  servers.push(started);
  return started;
}

async function open(url: string, namespace: string): Promise<LeaseStore> {
  const store = await createRedisStore(new URL(url), { namespace });
  stores.push(store);
  return store;
}

async function acquire(store: LeaseStore, holder: string, election = 'jobs', ttlMs = TTL_MS) {
  const result = await store.tryAcquire({ election, holder, token: randomUUID(), ttlMs });
  if (!result.acquired) throw new Error(`${holder} should acquire ${election}`);
  return result.lease;
}

async function admin<T>(url: string, work: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(url);
  try {
    return await work(redis);
  } finally {
    redis.disconnect();
  }
}

afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('redis data loss', () => {
  it('waits a full TTL after a restart from an older snapshot', { timeout: 30_000 }, async () => {
    const redis = await server();
    const namespace = `snap${randomUUID().slice(0, 6)}`;
    const a = await open(redis.url, namespace);
    await a.release(await acquire(a, 'a'));
    await admin(redis.url, (r) => r.save());
    // h leads after the snapshot; the restart loads the snapshot, which has the term
    // counter but not h's lease.
    const held: Lease = await acquire(a, 'h');
    await redis.kill();
    await redis.start();
    const b = await open(redis.url, namespace);
    const lease = await acquire(b, 'b');
    expect(lease.notBeforeMs).toBe(TTL_MS);
    expect(lease.term).toBeGreaterThan(held.term);
  });

  it(
    'waits a full TTL after a failover to a replica that missed the last acquire',
    { timeout: 30_000 },
    async () => {
      const primary = await server();
      const replica = await server(['--replicaof', '127.0.0.1', String(primary.port)]);
      const namespace = `fo${randomUUID().slice(0, 6)}`;
      const a = await open(primary.url, namespace);
      await a.release(await acquire(a, 'a'));
      await admin(primary.url, (r) => r.wait(1, 5_000));
      // The replica stops following (as if the link broke) and misses h's acquire; then it
      // is promoted, as Sentinel would.
      await admin(replica.url, (r) => r.replicaof('NO', 'ONE'));
      const held = await acquire(a, 'h');
      const b = await open(replica.url, namespace);
      const lease = await acquire(b, 'b');
      expect(lease.notBeforeMs).toBe(TTL_MS);
      expect(lease.term).toBeGreaterThan(held.term);
    },
  );

  it('lets the first holder of a never-used election lead at once on a server it knows', async () => {
    const redis = await server();
    const namespace = `new${randomUUID().slice(0, 6)}`;
    const store = await open(redis.url, namespace);
    // A namespace this server has never served: it may have lost everything, so wait.
    const first = await acquire(store, 'a', 'first', 200);
    expect(first.notBeforeMs).toBe(200);
    // Once it has served the namespace for longer than a TTL, nothing it could have
    // forgotten is still running: a never-used election's first holder need not wait.
    let fresh: Lease | undefined;
    await until('a never-used election without a wait', 5_000, async () => {
      fresh = await acquire(store, 'a', `fresh-${randomUUID().slice(0, 6)}`, 200);
      return fresh.notBeforeMs === 0;
    });
    expect(fresh?.notBeforeMs).toBe(0);
  });

  it('waits a full TTL again after FLUSHALL, for every election', async () => {
    const redis = await server();
    const namespace = `fl${randomUUID().slice(0, 6)}`;
    const store = await open(redis.url, namespace);
    const before = await acquire(store, 'a', 'jobs');
    await store.release(before);
    await admin(redis.url, (r) => r.flushall());
    const after = await acquire(store, 'b', 'jobs');
    expect(after.notBeforeMs).toBe(TTL_MS);
    expect(after.term).toBeGreaterThan(before.term);
    const other = await acquire(store, 'b', 'other');
    expect(other.notBeforeMs).toBeGreaterThan(TTL_MS - 1_000);
  });

  it('hands over without a wait after a clean release on the same server', async () => {
    const redis = await server();
    const store = await open(redis.url, `cl${randomUUID().slice(0, 6)}`);
    await store.release(await acquire(store, 'a'));
    expect((await acquire(store, 'b')).notBeforeMs).toBe(0);
  });
  it(
    'names no holder that another server wrote last, until it renews here',
    { timeout: 30_000 },
    async () => {
      // As after a failover to a replica that missed a release: the lease is there, but the
      // server that answers now never saw its holder renew. A holder that released never
      // will; a live one does within its renew interval.
      const redis = await server();
      const namespace = `conf${randomUUID().slice(0, 6)}`;
      const a = await open(redis.url, namespace);
      const b = await open(redis.url, namespace);
      const held = await acquire(a, 'a');
      await admin(redis.url, (r) => r.set(`${namespace}:{jobs}:server`, 'another-server'));
      const refused = await b.tryAcquire({
        election: 'jobs',
        holder: 'b',
        token: randomUUID(),
        ttlMs: TTL_MS,
      });
      expect(refused).toMatchObject({ acquired: false, current: null });
      if (refused.acquired) throw new Error('unreachable');
      expect(refused.retryAfterMs).toBeGreaterThan(0);
      expect(await b.read('jobs')).toBeNull();
      expect(await a.renew(held)).toMatchObject({ renewed: true });
      expect(await b.read('jobs')).toMatchObject({ holder: 'a', term: held.term });
    },
  );

  it(
    'waits a full TTL for every claim of a batch after a restart from an older snapshot',
    { timeout: 30_000 },
    async () => {
      // batch.claimMany (CLAIM_MANY) judges stale state as ACQUIRE does: a batch that took
      // a lease Redis may have forgotten, or an election this server never served, without
      // the wait would let its holder lead beside one Redis forgot.
      const redis = await server();
      const namespace = `snapb${randomUUID().slice(0, 6)}`;
      const a = await open(redis.url, namespace);
      await a.release(await acquire(a, 'a', 'jobs'));
      await a.release(await acquire(a, 'a', 'mail'));
      await admin(redis.url, (r) => r.save());
      const held = [await acquire(a, 'h', 'jobs'), await acquire(a, 'h', 'mail')];
      await redis.kill();
      await redis.start();
      const b = await open(redis.url, namespace);
      const claim = (election: string) => ({
        election,
        holder: 'b',
        token: randomUUID(),
        ttlMs: TTL_MS,
      });
      const answers = await b.batch?.claimMany?.([
        claim('jobs'),
        claim('never-used'),
        claim('mail'),
      ]);
      expect(answers).toHaveLength(3);
      for (const answer of answers ?? []) {
        expect(answer).toMatchObject({ acquired: true, lease: { notBeforeMs: TTL_MS } });
      }
      for (const [i, lease] of held.entries()) {
        const answer = answers?.[2 * i];
        if (answer?.acquired !== true) throw new Error('expected a lease');
        expect(answer.lease.term).toBeGreaterThan(lease.term);
      }
    },
  );

  it('claims in a batch without a wait on a server that kept everything', async () => {
    const redis = await server();
    const namespace = `keptb${randomUUID().slice(0, 6)}`;
    const store = await open(redis.url, namespace);
    await store.release(await acquire(store, 'a', 'jobs', 200));
    const claim = (election: string) => ({
      election,
      holder: 'b',
      token: randomUUID(),
      ttlMs: 200,
    });
    // A clean release on this server, then (once it has served the namespace for a TTL) a
    // never-used election: neither waits, as tryAcquire's would not.
    let answers = await store.batch?.claimMany?.([claim('jobs')]);
    expect(answers).toMatchObject([{ acquired: true, lease: { notBeforeMs: 0 } }]);
    await until('a never-used election claimed in a batch without a wait', 5_000, async () => {
      answers = await store.batch?.claimMany?.([claim(`fresh-${randomUUID().slice(0, 6)}`)]);
      return answers?.[0]?.acquired === true && answers[0].lease.notBeforeMs === 0;
    });
  });
});
