import { Elector, StoreUnavailableError, type Lease, type LeaseStore } from '@leasehold/core';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore } from '../src/redis/index.js';
import { CuttableProxy, RedisServer, until } from '@leasehold/testkit';

// Everything here flushes, restarts, stalls or cuts its own private redis-server.

const open = (url: string, namespace = `t${randomUUID().slice(0, 8)}`) =>
  createRedisStore(new URL(url), { namespace });
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let server: RedisServer;
const stores: LeaseStore[] = [];
const electors: Elector[] = [];

beforeAll(async () => {
  server = await RedisServer.start();
});
afterEach(async () => {
  await Promise.all(electors.splice(0).map((e) => e.stop()));
  await Promise.all(stores.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await server.close();
});

async function track(store: Promise<LeaseStore>): Promise<LeaseStore> {
  const opened = await store;
  stores.push(opened);
  return opened;
}

async function acquire(store: LeaseStore, holder: string, ttlMs: number, election = 'jobs') {
  const result = await store.tryAcquire({ election, holder, token: randomUUID(), ttlMs });
  if (!result.acquired) throw new Error(`${holder} should acquire ${election}`);
  return result.lease;
}

/** Wait until the store answers again after the server came back. */
async function reconnected(store: LeaseStore): Promise<void> {
  await until(
    'reconnects',
    10_000,
    async () => (await store.read('jobs').catch(() => 'down')) !== 'down',
  );
}

describe('redis losing its data', () => {
  it('after a restart empty, the next holder waits a full TTL and gets a higher term', async () => {
    const namespace = `rs${randomUUID().slice(0, 6)}`;
    const a = await track(open(server.url, namespace));
    const b = await track(open(server.url, namespace));
    const terms: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      const lease = await acquire(a, 'a', 4_000);
      terms.push(lease.term);
      if (i < 2) await a.release(lease);
    }
    // a leads; Redis restarts empty (no persistence): the lease, info and counter are gone.
    await server.restart();
    await reconnected(b);
    await reconnected(a);
    expect(await b.read('jobs')).toBeNull();
    const next = await acquire(b, 'b', 4_000);
    expect(next.notBeforeMs).toBe(4_000);
    expect(next.term).toBeGreaterThan(Math.max(...terms));
    // a is deposed for good: its token is gone.
    expect(await a.renew({ ...next, token: 'a-token', holder: 'a' })).toEqual({ renewed: false });
    // With the counter back, a clean handoff does not wait.
    await b.release(next);
    const after = await acquire(a, 'a', 4_000);
    expect(after.notBeforeMs).toBe(0);
    expect(after.term).toBeGreaterThan(next.term);
  });

  it(
    'after a restart empty, an elector does not report leadership before the old holder’s lease would have ended',
    { timeout: 30_000 },
    async () => {
      const namespace = `rd${randomUUID().slice(0, 6)}`;
      const ttlMs = 3_000;
      const frozen = await track(open(server.url, namespace));
      const b = await track(open(server.url, namespace));
      // The old holder: alive but frozen (say, SIGSTOPped), so it never learns what happened.
      // The lease it holds, as its own elector sees it, ends at most ttl after it was sent.
      const sentAt = performance.now();
      const old = await acquire(frozen, 'a', ttlMs);
      const oldLeaseEnd = sentAt + ttlMs;

      await server.restart();
      const elector = new Elector({
        store: b,
        election: 'jobs',
        id: 'b',
        ttlMs,
        retryIntervalMs: 100,
      });
      electors.push(elector);
      let electedAt = 0;
      let electedTerm = 0;
      elector.on('elected', ({ term }) => {
        electedAt = performance.now();
        electedTerm = term;
      });
      elector.start();
      // b takes the forgotten lock at once, but holds back from reporting leadership.
      await until(
        'b acquires',
        5_000,
        async () => (await b.read('jobs').catch(() => null))?.holder === 'b',
      );
      const acquiredAt = performance.now();
      expect(acquiredAt).toBeLessThan(oldLeaseEnd);
      while (performance.now() < oldLeaseEnd) {
        expect(elector.isLeader()).toBe(false);
        await delay(10);
      }
      await until('b leads after the hold-off', 2 * ttlMs, () => elector.isLeader());
      expect(electedAt).toBeGreaterThanOrEqual(oldLeaseEnd);
      // It waited a full TTL from its own acquire, not from the restart.
      expect(electedAt - acquiredAt).toBeGreaterThanOrEqual(ttlMs - 50);
      expect(electedTerm).toBeGreaterThan(old.term);
    },
  );

  it(
    'FLUSHALL while an elector leads: a new term, and never two leaders',
    { timeout: 30_000 },
    async () => {
      const namespace = `fl${randomUUID().slice(0, 6)}`;
      const [first, second] = await Promise.all(
        ['a', 'b'].map(async (id) => {
          const elector = new Elector({
            store: await track(open(server.url, namespace)),
            election: 'jobs',
            id,
            ttlMs: 2_000,
            retryIntervalMs: 200,
          });
          electors.push(elector);
          return elector;
        }),
      );
      if (first === undefined || second === undefined) throw new Error('two electors');
      const terms: number[] = [];
      for (const e of [first, second]) e.on('elected', ({ term }) => terms.push(term));
      first.start();
      await until('first leads', 5_000, () => first.isLeader());
      second.start();
      const firstTerm = first.currentTerm() ?? Infinity;
      const admin = new Redis(server.url);
      await admin.flushall();
      await admin.quit();
      const leaders = () => [first, second].filter((e) => e.isLeader());
      await until('a new term leads after the flush', 10_000, () => {
        expect(leaders().length).toBeLessThanOrEqual(1);
        return (leaders()[0]?.currentTerm() ?? 0) > firstTerm;
      });
      for (let i = 1; i < terms.length; i += 1) {
        expect(terms[i]).toBeGreaterThan(terms[i - 1] ?? Infinity);
      }
    },
  );
});

describe('redis outages', () => {
  it(
    'reports a store that went down as unavailable, and recovers by itself',
    { timeout: 30_000 },
    async () => {
      const store = await track(open(server.url, 'down'));
      await server.kill();
      const failure = await store.read('jobs').catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(StoreUnavailableError);
      expect((failure as Error).message).toMatch(/ECONNREFUSED|closed|writeable/);
      await server.start();
      await reconnected(store);
    },
  );

  it('abandons a request on a stalled server after the timeout it was given', async () => {
    // The sidecar passes the elector's call timeout (one renew interval): a short TTL means
    // a short request timeout, not the adapter's own 2 s.
    const store = await track(
      createRedisStore(new URL(server.url), { namespace: 'short', requestTimeoutMs: 400 }),
    );
    expect(await store.read('jobs')).toBeNull();
    server.pause();
    try {
      const startedAt = performance.now();
      const failure = await store.read('jobs').catch((error: unknown) => error);
      const tookMs = performance.now() - startedAt;
      expect(failure).toBeInstanceOf(StoreUnavailableError);
      expect(tookMs).toBeGreaterThanOrEqual(350);
      expect(tookMs).toBeLessThan(1_500);
    } finally {
      server.resume();
    }
    await reconnected(store);
  });

  it('fails fast while the server is stalled, then recovers', { timeout: 30_000 }, async () => {
    const store = await track(open(server.url, 'stall'));
    const watcher = await open(server.url, 'stall');
    await watcher.watch?.('jobs', () => {}, new AbortController().signal);
    expect(await store.read('jobs')).toBeNull();
    server.pause();
    try {
      // close() does not wait for QUITs a stalled server never answers.
      const closing = performance.now();
      await watcher.close();
      expect(performance.now() - closing).toBeLessThan(2_500);
      const startedAt = performance.now();
      const failure = await store.read('jobs').catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(StoreUnavailableError);
      expect(performance.now() - startedAt).toBeLessThan(3_000);
      // Meanwhile, no call waits for the stalled connection.
      const again = performance.now();
      await store.read('jobs').catch(() => {});
      expect(performance.now() - again).toBeLessThan(2_500);
    } finally {
      server.resume();
    }
    await reconnected(store);
  });

  it(
    'never replays a request that was in flight when the connection broke',
    { timeout: 30_000 },
    async () => {
      const proxy = await CuttableProxy.start(server.port);
      const namespace = `rp${randomUUID().slice(0, 6)}`;
      try {
        const store = await track(open(proxy.url, namespace));
        expect(await store.read('jobs')).toBeNull();
        proxy.hold();
        const pending = store
          .tryAcquire({ election: 'jobs', holder: 'a', token: randomUUID(), ttlMs: 10_000 })
          .catch((error: unknown) => error);
        await delay(50);
        proxy.cut();
        expect(await pending).toBeInstanceOf(StoreUnavailableError);
        await reconnected(store);
        await delay(300);
        // The acquire the caller saw fail must not land later and hold the lock for nobody.
        const admin = new Redis(server.url);
        expect(await admin.exists(`${namespace}:{jobs}:lease`)).toBe(0);
        await admin.quit();
      } finally {
        await proxy.stop();
      }
    },
  );
});

describe('redis watch across reconnects', () => {
  it('wakes watchers once it is back, and is subscribed again', { timeout: 30_000 }, async () => {
    const namespace = `ws${randomUUID().slice(0, 6)}`;
    const [a, b] = [
      await track(open(server.url, namespace)),
      await track(open(server.url, namespace)),
    ];
    let calls = 0;
    const controller = new AbortController();
    await b.watch?.('jobs', () => (calls += 1), controller.signal);
    await server.restart();
    // Releases published while it was away are lost: the watcher is woken on reconnect.
    await until('woken after the reconnect', 10_000, () => calls >= 1);
    await reconnected(a);
    const admin = new Redis(server.url);
    await until(
      'resubscribed',
      5_000,
      async () => Number((await admin.pubsub('NUMSUB', `${namespace}:{jobs}:released`))[1]) === 1,
    );
    await admin.quit();
    const before = calls;
    const lease: Lease = await acquire(a, 'a', 5_000);
    await a.release(lease);
    await until('woken by a release after the reconnect', 2_000, () => calls > before);
    controller.abort();
  });

  it(
    'watch called while Redis is down resolves, and subscribes once it is back',
    { timeout: 30_000 },
    async () => {
      const namespace = `wd${randomUUID().slice(0, 6)}`;
      const [a, b] = [
        await track(open(server.url, namespace)),
        await track(open(server.url, namespace)),
      ];
      await server.kill();
      let calls = 0;
      const controller = new AbortController();
      const startedAt = performance.now();
      await b.watch?.('jobs', () => (calls += 1), controller.signal);
      expect(performance.now() - startedAt).toBeLessThan(5_000);
      await server.start();
      await reconnected(a);
      const admin = new Redis(server.url);
      await until(
        'subscribed',
        10_000,
        async () => Number((await admin.pubsub('NUMSUB', `${namespace}:{jobs}:released`))[1]) === 1,
      );
      await admin.quit();
      const before = calls;
      await a.release(await acquire(a, 'a', 5_000));
      await until('woken by the release', 2_000, () => calls > before);
      controller.abort();
    },
  );
});
