import { createStore } from '@leasehold/adapters';
import {
  Elector,
  FOLLOWERS_WOKEN_ON_RELEASE,
  type AcquireRequest,
  type Lease,
  type LeaseStore,
  type MemberRecord,
} from '@leasehold/core';
import { runConformanceSuite } from '@leasehold/conformance';
import { Etcd3 } from 'etcd3';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { until } from '@leasehold/testkit';

/**
 * The queue-ordered campaign on etcd: candidates with a member record wait in line on it
 * and claim the leader key on its lease (src/etcd/waiting-line.ts, src/etcd/store.ts).
 * The shared etcd only; every test has a namespace of its own.
 */
const ETCD_URL = 'etcd://127.0.0.1:2379';
const inspector = new Etcd3({ hosts: 'http://127.0.0.1:2379' });
afterAll(() => inspector.close());

const TTL_MS = 2_000;

/** The conformance suite again, every candidate holding a member record as electors do. */
runConformanceSuite({
  name: 'etcd, claiming on member leases',
  createStore: async ({ namespace }) =>
    withMemberRecords(await createStore(ETCD_URL, { namespace })),
  cleanup: async ({ namespace }) => {
    await inspector.delete().prefix(`${namespace}/`);
  },
  ttlMs: TTL_MS,
  expiryGraceMs: 1_500,
});

/** A store whose every acquire comes from a candidate that wrote its member record first. */
function withMemberRecords(store: LeaseStore): LeaseStore {
  const written = new Set<string>();
  return new Proxy(store, {
    get(target, property) {
      if (property === 'tryAcquire') {
        return async (request: AcquireRequest) => {
          const key = `${request.election}\n${request.holder}\n${request.ttlMs}`;
          if (!written.has(key)) {
            await target.members?.put(request.election, member(request.holder), request.ttlMs);
            written.add(key);
          }
          return target.tryAcquire(request);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
}

function member(id: string, startedAt = Date.now(), priority = 0): MemberRecord {
  return { id, priority, startedAt, heartbeatAt: Date.now(), isLeader: false, metadata: {} };
}

describe('etcd waiting line', () => {
  const opened: LeaseStore[] = [];
  const namespaces: string[] = [];
  const controller = new AbortController();

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
    await Promise.all(
      namespaces.splice(0).map((namespace) => inspector.delete().prefix(`${namespace}/`)),
    );
  });
  afterAll(() => controller.abort());

  async function openStores(count: number): Promise<{ stores: LeaseStore[]; namespace: string }> {
    const namespace = `lhpf${randomUUID().slice(0, 8)}`;
    namespaces.push(namespace);
    const stores = await Promise.all(
      Array.from({ length: count }, () => createStore(ETCD_URL, { namespace })),
    );
    opened.push(...stores);
    return { stores, namespace };
  }

  function request(holder: string, extra: Partial<AcquireRequest> = {}): AcquireRequest {
    return { election: 'jobs', holder, token: randomUUID(), ttlMs: TTL_MS, ...extra };
  }

  async function acquire(store: LeaseStore, req: AcquireRequest): Promise<Lease> {
    const result = await store.tryAcquire(req);
    if (!result.acquired) throw new Error(`${req.holder} could not acquire ${req.election}`);
    return result.lease;
  }

  /**
   * Six candidates c0…c5 on stores of their own, c0 leading, everyone's record written with
   * the given priorities and start times, every store having listed the line and read the
   * leader, every candidate watching with its id. Counts each candidate's wake-ups.
   */
  async function line(priorities: readonly number[]) {
    const ids = priorities.map((_, i) => `c${i}`);
    const { stores } = await openStores(ids.length);
    const storeOf = (i: number): LeaseStore => {
      const store = stores[i];
      if (store === undefined) throw new Error(`no store ${i}`);
      return store;
    };
    const records = ids.map((id, i) => member(id, 1_000 + i, priorities[i]));
    await Promise.all(records.map((r, i) => storeOf(i).members?.put('jobs', r, 60_000)));
    const lease = await acquire(storeOf(0), request('c0', { ttlMs: 60_000 }));
    const wakes = new Map(ids.map((id) => [id, 0]));
    const flushes = new Map(ids.map((id) => [id, 0]));
    for (const [i, id] of ids.entries()) {
      const store = storeOf(i);
      await store.members?.list('jobs');
      await store.read('jobs');
      await store.watch?.(
        'jobs',
        () => wakes.set(id, (wakes.get(id) ?? 0) + 1),
        controller.signal,
        id,
      );
      await store.watch?.(
        'flush',
        () => flushes.set(id, (flushes.get(id) ?? 0) + 1),
        controller.signal,
      );
    }
    let flushed = 0;
    /**
     * Run `step`, wait for the wake-ups expected of it (one behind the first in line comes
     * a moment late), then make sure no others follow. Each store hears every key it
     * watches on one etcd stream, in revision order: once all have heard of a write made
     * after that, they have heard of everything `step` did.
     */
    const settle = async (
      step: () => Promise<void>,
      expected: readonly string[],
    ): Promise<Record<string, number>> => {
      const before = new Map(wakes);
      await step();
      await until(`${expected.join(', ')} woken`, 5_000, () =>
        expected.every((id) => (wakes.get(id) ?? 0) > (before.get(id) ?? 0)),
      );
      flushed += 1;
      const flush = await acquire(storeOf(0), request('c0', { election: 'flush' }));
      await storeOf(0).release(flush);
      const target = flushed * 2;
      await until('flush', 5_000, () => ids.every((id) => (flushes.get(id) ?? 0) >= target));
      return Object.fromEntries(wakes);
    };
    return { ids, storeOf, lease, settle };
  }

  it('wakes only the first in line on a release, by priority, however many wait', async () => {
    // c4 and c5 rank first (priority), then c1, c2, c3 by start time; c0 leads.
    const { storeOf, lease, settle } = await line([0, 0, 0, 0, 1, 1]);
    const wakes = await settle(() => storeOf(0).release(lease), ['c4', 'c5']);
    expect(FOLLOWERS_WOKEN_ON_RELEASE).toBe(2);
    expect({ ...wakes, c0: 0 }).toEqual({ c0: 0, c1: 0, c2: 0, c3: 0, c4: 1, c5: 1 });
  });

  it('moves a candidate up when one ahead of it leaves, and wakes it once it is first', async () => {
    // In line: c1, c2 (watching the leader key), c3 behind c1, c4 behind c2, c5 behind c3.
    const { storeOf, lease, settle } = await line([0, 0, 0, 0, 0, 0]);
    // c1 stops: its record goes with its lease, and c3 is among the first two now.
    let wakes = await settle(
      () => storeOf(1).members?.remove('jobs', 'c1') ?? Promise.resolve(),
      ['c3'],
    );
    expect({ ...wakes, c0: 0 }).toEqual({ c0: 0, c1: 0, c2: 0, c3: 1, c4: 0, c5: 0 });
    wakes = await settle(() => storeOf(0).release(lease), ['c2', 'c3']);
    expect({ ...wakes, c0: 0, c1: 0 }).toEqual({ c0: 0, c1: 0, c2: 1, c3: 2, c4: 0, c5: 0 });
  });

  it('hands over to the longest-waiting candidate, which claims on its member lease', async () => {
    const { stores, namespace } = await openStores(4);
    const electors = stores.map(
      (store, i) =>
        new Elector({
          store,
          election: 'queue',
          id: `e${i}`,
          ttlMs: 3_000,
          retryIntervalMs: 3_000,
        }),
    );
    try {
      for (const elector of electors) {
        elector.start();
        // Distinct start times: the line is ordered by them.
        await until(`${elector.id} observed`, 10_000, () => elector.status().observed);
      }
      const order = electors.map((e) => e.id);
      for (let round = 0; round < 3; round += 1) {
        const leader = electors.find((e) => e.isLeader());
        if (leader === undefined) throw new Error('no leader');
        // Everyone knows the whole line and the leader.
        await Promise.all(electors.map((e) => e.members()));
        const firstInLine = order
          .filter((id) => id !== leader.id && electors.some((e) => e.id === id))
          .slice(0, FOLLOWERS_WOKEN_ON_RELEASE);
        await leader.stop();
        await until('next leader', 5_000, () => electors.some((e) => e.isLeader()));
        const next = electors.find((e) => e.isLeader())?.id ?? '';
        expect(firstInLine).toContain(next);
        const key = await inspector.get(`${namespace}/elections/queue/leader`).exec();
        const memberKey = await inspector
          .get(`${namespace}/elections/queue/members/${next}`)
          .exec();
        // The leader key lives on the new leader's member lease: no lease was granted for it.
        expect(key.kvs[0]?.lease).toBe(memberKey.kvs[0]?.lease);
        electors.splice(electors.indexOf(leader), 1);
      }
    } finally {
      await Promise.all(electors.map((e) => e.stop()));
    }
  });

  it('keeps the holder’s deadline inside etcd’s expiry when the member lease was last renewed long ago', async () => {
    const { stores, namespace } = await openStores(1);
    const store = stores[0];
    if (store === undefined) throw new Error('no store');
    const ttlMs = 4_000;
    await store.members?.put('jobs', member('alpha'), ttlMs);
    // No heartbeat for most of a TTL: the member lease has 1.5 s left.
    const idleUntil = performance.now() + 2_500;
    await until('idle', 5_000, () => performance.now() >= idleUntil);
    const sentAt = performance.now();
    const lease = await acquire(store, request('alpha', { ttlMs }));
    const key = (await inspector.get(`${namespace}/elections/jobs/leader`).exec()).kvs[0];
    const { TTL } = await inspector.leaseClient.leaseTimeToLive({ ID: key?.lease ?? '0' });
    // etcd reports whole seconds, rounded down: the lease runs at least TTL s more, and
    // must run at least until sentAt + ttlMs, the latest the holder's deadline can be.
    const etcdExpiresBy = performance.now() + (Number(TTL) + 1) * 1_000;
    expect(etcdExpiresBy).toBeGreaterThanOrEqual(sentAt + lease.ttlMs);
  });

  it('never lets an earlier acquisition’s late release free a later one on the same member lease', async () => {
    const { stores } = await openStores(2);
    const [store, rival] = stores as [LeaseStore, LeaseStore];
    await store.members?.put('jobs', member('alpha'), TTL_MS);
    const first = await acquire(store, request('alpha'));
    await store.release(first);
    const second = await acquire(store, request('alpha'));
    expect(second.term).toBeGreaterThan(first.term);
    // A release of the first acquisition arriving late (a retry, a timed-out call).
    await store.release(first);
    expect(await rival.read('jobs')).toMatchObject({ holder: 'alpha', term: second.term });
    expect((await rival.tryAcquire(request('beta'))).acquired).toBe(false);
    // Removing the member record while it leads must not free the election either.
    await store.members?.remove('jobs', 'alpha');
    expect(await rival.read('jobs')).toMatchObject({ holder: 'alpha', term: second.term });
    expect(await store.renew(second)).toMatchObject({ renewed: true });
    await store.release(second);
    expect(await rival.read('jobs')).toBeNull();
  });
});
