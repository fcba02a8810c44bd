import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  FOLLOWERS_WOKEN_ON_RELEASE,
  LeaseholdError,
  type AcquireRequest,
  type Lease,
  type LeaseStore,
  type MemberRecord,
} from '@leasehold/core';
import { delay, POLL_MS, uniqueElection, until } from './support.js';
import {
  defineBatchCases,
  defineBeatCases,
  defineClaimBatchCases,
  defineClaimBatchMixCases,
  defineMemberBatchCases,
  defineReadBatchCases,
} from './batch-cases.js';
import { defineTransferCases } from './transfer-cases.js';

/**
 * The conformance suite every `LeaseStore` passes (docs/design.md §6). Adapters call
 * `runConformanceSuite` from a vitest file with a factory that connects to a real store.
 * It runs in real time: expiry cases wait for TTLs to pass, polling with deadlines.
 */
export interface ConformanceContext {
  /** Unique per test: use it as key prefix, schema or table suffix to isolate the test. */
  readonly namespace: string;
}

export interface ConformanceOptions {
  /** Label for the describe block, e.g. "redis". */
  readonly name: string;
  /** A new connection to the store under test. Called several times per test. */
  createStore(context: ConformanceContext): Promise<LeaseStore> | LeaseStore;
  /** Drop whatever the test left behind (after its stores are closed). */
  cleanup?(context: ConformanceContext): Promise<void> | void;
  /** TTL the cases ask for. Default 1000 ms; etcd grants whole seconds. */
  readonly ttlMs?: number;
  /** How long after the TTL a store may take to free an expired lease. Default 1000 ms. */
  readonly expiryGraceMs?: number;
  /** Whether the store must implement `watch`. Default: true. */
  readonly watch?: boolean;
  /** Whether the store must implement member records (docs/design.md §3.5). Default: true. */
  readonly members?: boolean;
  /**
   * Whether the store must implement transfers (`LeaseStore.transfer`, docs/design.md §3.6).
   * Default: false until every adapter implements them; then true, like `watch`.
   */
  readonly transfer?: boolean;
  /**
   * Whether member records must keep the steering fields (drained, health, version).
   * Default: false until every adapter keeps them; then it folds into `members`.
   */
  readonly memberSteering?: boolean;
  /**
   * Whether a release wakes only the first `FOLLOWERS_WOKEN_ON_RELEASE` followers in line
   * (docs/design.md §3.5), which the suite then checks are the ones core's candidate order
   * puts first. Default: false (a release wakes every watcher).
   */
  readonly wakesFirstInLine?: boolean;
  /**
   * Whether the store must renew many leases in one call (`LeaseStore.batch`,
   * docs/design.md §3.8). Default: false; the capability is optional.
   */
  readonly batch?: boolean;
  /** Whether `batch` must also write member records (`batch.putMembers`). Default: false. */
  readonly batchMembers?: boolean;
  /** Whether `batch` must also read many elections (`batch.readMany`). Default: false. */
  readonly batchReads?: boolean;
  /** Whether `batch` must also send a whole tick in one call (`batch.beat`). Default: false. */
  readonly batchBeat?: boolean;
  /** Whether `batch` must also claim many elections in one call (`batch.claimMany`). */
  readonly batchClaims?: boolean;
}

/** A member record for the suite's cases: only the fields that rank it vary. */
function candidate(id: string, priority: number, startedAt: number): MemberRecord {
  return { id, priority, startedAt, heartbeatAt: Date.now(), isLeader: false, metadata: {} };
}

export function runConformanceSuite(options: ConformanceOptions): void {
  const ttlMs = options.ttlMs ?? 1_000;
  const expiryGraceMs = options.expiryGraceMs ?? 1_000;
  const caseTimeoutMs = 4 * ttlMs + 2 * expiryGraceMs + 10_000;

  describe(`LeaseStore conformance: ${options.name}`, () => {
    let opened: LeaseStore[] = [];
    let context: ConformanceContext = { namespace: '' };

    beforeEach(() => {
      context = { namespace: `lh${randomUUID().replaceAll('-', '').slice(0, 12)}` };
    });

    afterEach(async () => {
      const stores = opened;
      opened = [];
      await Promise.allSettled(stores.map((store) => store.close()));
      await options.cleanup?.(context);
    });

    async function connect(): Promise<LeaseStore> {
      const store = await options.createStore(context);
      opened.push(store);
      return store;
    }

    /** Every case gets the same generous timeout: some wait out several TTLs. */
    function conformanceCase(name: string, body: () => Promise<void>): void {
      it(name, { timeout: caseTimeoutMs }, body);
    }

    function request(election: string, holder: string, extra: Partial<AcquireRequest> = {}) {
      return { election, holder, token: randomUUID(), ttlMs, ...extra } satisfies AcquireRequest;
    }

    async function acquireOrFail(store: LeaseStore, req: AcquireRequest): Promise<Lease> {
      const result = await store.tryAcquire(req);
      if (!result.acquired) {
        throw new Error(`expected ${req.holder} to acquire ${req.election}, but it is held`);
      }
      return result.lease;
    }

    /** Poll tryAcquire until it succeeds or `withinMs` passes. */
    async function acquireWithin(store: LeaseStore, req: AcquireRequest, withinMs: number) {
      const deadline = performance.now() + withinMs;
      for (;;) {
        const result = await store.tryAcquire(req);
        if (result.acquired) return result.lease;
        if (performance.now() > deadline) {
          throw new Error(`${req.holder} could not acquire ${req.election} within ${withinMs} ms`);
        }
        await delay(POLL_MS);
      }
    }

    conformanceCase('acquires a free election and reports the holder', async () => {
      const store = await connect();
      const election = uniqueElection();
      expect(await store.read(election)).toBeNull();
      const req = request(election, 'alpha', { metadata: { zone: 'a', url: 'http://alpha' } });
      const lease = await acquireOrFail(store, req);
      expect(lease.election).toBe(election);
      expect(lease.holder).toBe('alpha');
      expect(lease.token).toBe(req.token);
      expect(Number.isSafeInteger(lease.term) && lease.term > 0).toBe(true);
      expect(lease.ttlMs).toBeGreaterThanOrEqual(ttlMs);
      expect(lease.notBeforeMs).toBeGreaterThanOrEqual(0);
      expect(lease.notBeforeMs).toBeLessThanOrEqual(lease.ttlMs + expiryGraceMs);
      const record = await store.read(election);
      expect(record).toMatchObject({
        election,
        holder: 'alpha',
        term: lease.term,
        metadata: { zone: 'a', url: 'http://alpha' },
      });
      if (record?.remainingMs != null) {
        expect(record.remainingMs).toBeGreaterThan(0);
        expect(record.remainingMs).toBeLessThanOrEqual(lease.ttlMs);
      }
    });

    conformanceCase('refuses a second candidate while the lease is held', async () => {
      const [a, b] = [await connect(), await connect()];
      const election = uniqueElection();
      const lease = await acquireOrFail(a, request(election, 'alpha'));
      const result = await b.tryAcquire(request(election, 'beta'));
      expect(result.acquired).toBe(false);
      if (result.acquired) return;
      if (result.current !== null) {
        expect(result.current).toMatchObject({ holder: 'alpha', term: lease.term });
      }
      if (result.retryAfterMs !== null) {
        expect(result.retryAfterMs).toBeGreaterThan(0);
        expect(result.retryAfterMs).toBeLessThanOrEqual(lease.ttlMs);
      }
      expect(await a.read(election)).toMatchObject({ holder: 'alpha' });
    });

    conformanceCase('grants exactly one of many simultaneous candidates', async () => {
      const stores = await Promise.all(Array.from({ length: 6 }, () => connect()));
      const election = uniqueElection();
      const results = await Promise.all(
        stores.map((store, i) => store.tryAcquire(request(election, `candidate-${i}`))),
      );
      const winners = results.filter((result) => result.acquired);
      expect(winners).toHaveLength(1);
    });

    conformanceCase('keeps a renewed lease beyond its first TTL', async () => {
      const [a, b] = [await connect(), await connect()];
      const election = uniqueElection();
      const lease = await acquireOrFail(a, request(election, 'alpha'));
      const until = performance.now() + 2 * lease.ttlMs;
      while (performance.now() < until) {
        const renewed = await a.renew(lease);
        expect(renewed.renewed).toBe(true);
        if (renewed.renewed) expect(renewed.ttlMs).toBeGreaterThanOrEqual(ttlMs);
        expect((await b.tryAcquire(request(election, 'beta'))).acquired).toBe(false);
        await delay(lease.ttlMs / 5);
      }
      expect(await b.read(election)).toMatchObject({ holder: 'alpha', term: lease.term });
    });

    conformanceCase('refuses a renew with a token that does not hold the lease', async () => {
      const [a, b] = [await connect(), await connect()];
      const election = uniqueElection();
      const lease = await acquireOrFail(a, request(election, 'alpha'));
      expect(await b.renew({ ...lease, holder: 'beta', token: randomUUID() })).toEqual({
        renewed: false,
      });
      expect(await a.renew(lease)).toMatchObject({ renewed: true });
    });

    conformanceCase('answers lost to a renew after the lease expired and was taken', async () => {
      const [a, b] = [await connect(), await connect()];
      const election = uniqueElection();
      const first = await acquireOrFail(a, request(election, 'alpha'));
      const second = await acquireWithin(
        b,
        request(election, 'beta'),
        first.ttlMs + expiryGraceMs + 1_000,
      );
      expect(await a.renew(first)).toEqual({ renewed: false });
      expect(await b.read(election)).toMatchObject({ holder: 'beta', term: second.term });
      expect(await b.renew(second)).toMatchObject({ renewed: true });
    });

    conformanceCase('answers lost to a renew after the lease was released', async () => {
      const store = await connect();
      const election = uniqueElection();
      const lease = await acquireOrFail(store, request(election, 'alpha'));
      await store.release(lease);
      expect(await store.renew(lease)).toEqual({ renewed: false });
    });

    conformanceCase(
      'frees the election on release so the next candidate needs no wait',
      async () => {
        const [a, b] = [await connect(), await connect()];
        const election = uniqueElection();
        const first = await acquireOrFail(a, request(election, 'alpha'));
        await a.release(first);
        expect(await a.read(election)).toBeNull();
        const second = await acquireOrFail(b, request(election, 'beta'));
        expect(second.notBeforeMs).toBe(0);
        expect(second.term).toBeGreaterThan(first.term);
        // Releasing twice, or a lease already gone, is not an error.
        await a.release(first);
        expect(await b.read(election)).toMatchObject({ holder: 'beta' });
      },
    );

    conformanceCase('ignores a release by a token that does not hold the lease', async () => {
      const [a, b] = [await connect(), await connect()];
      const election = uniqueElection();
      const lease = await acquireOrFail(a, request(election, 'alpha'));
      await b.release({ ...lease, holder: 'beta', token: randomUUID() });
      expect(await b.read(election)).toMatchObject({ holder: 'alpha', term: lease.term });
      expect((await b.tryAcquire(request(election, 'beta'))).acquired).toBe(false);
      expect(await a.renew(lease)).toMatchObject({ renewed: true });
    });

    conformanceCase('does not let a deposed holder release its successor', async () => {
      const [a, b] = [await connect(), await connect()];
      const election = uniqueElection();
      const stale = await acquireOrFail(a, request(election, 'alpha'));
      const successor = await acquireWithin(
        b,
        request(election, 'beta'),
        stale.ttlMs + expiryGraceMs + 1_000,
      );
      await a.release(stale);
      expect(await a.read(election)).toMatchObject({ holder: 'beta', term: successor.term });
    });

    conformanceCase('frees an unrenewed lease after its TTL, not before', async () => {
      const [a, b] = [await connect(), await connect()];
      const election = uniqueElection();
      const sentAt = performance.now();
      const first = await acquireOrFail(a, request(election, 'alpha'));
      const second = await acquireWithin(
        b,
        request(election, 'beta'),
        first.ttlMs + expiryGraceMs + 1_000,
      );
      const elapsed = performance.now() - sentAt;
      // The store starts the TTL after it received the first request, which was after
      // sentAt; 2 ms absorb the store clock's millisecond rounding.
      expect(elapsed).toBeGreaterThanOrEqual(first.ttlMs - 2);
      expect(elapsed).toBeLessThanOrEqual(first.ttlMs + expiryGraceMs + 1_000);
      expect(second.term).toBeGreaterThan(first.term);
    });

    conformanceCase(
      'raises the term on every acquisition, across release, expiry and reconnect',
      async () => {
        const [a, b] = [await connect(), await connect()];
        const election = uniqueElection();
        const terms: number[] = [];
        const t1 = await acquireOrFail(a, request(election, 'alpha'));
        terms.push(t1.term);
        await a.release(t1);
        const t2 = await acquireOrFail(b, request(election, 'beta'));
        terms.push(t2.term);
        // beta never renews: the next term comes after an expiry
        const t3 = await acquireWithin(
          a,
          request(election, 'alpha'),
          t2.ttlMs + expiryGraceMs + 1_000,
        );
        terms.push(t3.term);
        await a.release(t3);
        const t4 = await acquireOrFail(a, request(election, 'alpha'));
        terms.push(t4.term);
        await a.release(t4);
        await a.close();
        const fresh = await connect();
        const t5 = await acquireOrFail(fresh, request(election, 'gamma'));
        terms.push(t5.term);
        for (let i = 1; i < terms.length; i += 1) {
          expect(terms[i]).toBeGreaterThan(terms[i - 1] ?? Number.POSITIVE_INFINITY);
        }
      },
    );

    conformanceCase('keeps elections independent of each other', async () => {
      const store = await connect();
      const [one, two] = [uniqueElection(), uniqueElection()];
      const first = await acquireOrFail(store, request(one, 'alpha'));
      const second = await acquireOrFail(store, request(two, 'beta'));
      await store.release(first);
      expect(await store.read(one)).toBeNull();
      expect(await store.read(two)).toMatchObject({ holder: 'beta', term: second.term });
    });

    if (options.watch ?? true) {
      conformanceCase('wakes a watcher when the lease is released', async () => {
        const [a, b] = [await connect(), await connect()];
        expect(typeof b.watch).toBe('function');
        const election = uniqueElection();
        const lease = await acquireOrFail(a, request(election, 'alpha'));
        const controller = new AbortController();
        let calls = 0;
        await b.watch?.(election, () => (calls += 1), controller.signal);
        const before = calls;
        const releasedAt = performance.now();
        await a.release(lease);
        await until('watcher was not called after release', 2_000, () => calls > before);
        expect(performance.now() - releasedAt).toBeLessThan(2_000);
        controller.abort();
      });
    }

    if (options.members ?? true) {
      conformanceCase(
        'keeps member records for their TTL, lists live ones, removes on request',
        async () => {
          const [a, b] = [await connect(), await connect()];
          const election = uniqueElection();
          const member = (id: string, priority: number) => ({
            id,
            priority,
            startedAt: Date.now(),
            heartbeatAt: Date.now(),
            isLeader: id === 'alpha',
            metadata: { zone: `z-${id}` },
          });
          expect(await a.members?.list(election)).toEqual([]);
          await a.members?.put(election, member('alpha', 10), 60_000);
          await b.members?.put(election, member('beta', 0), 60_000);
          await b.members?.put(election, member('gamma', 5), ttlMs);
          const listed = await b.members?.list(election);
          expect(listed?.map((m) => m.id).sort()).toEqual(['alpha', 'beta', 'gamma']);
          expect(listed?.find((m) => m.id === 'alpha')).toEqual(
            expect.objectContaining({
              priority: 10,
              isLeader: true,
              metadata: { zone: 'z-alpha' },
            }),
          );
          // A second heartbeat replaces the record rather than adding one.
          await a.members?.put(election, { ...member('alpha', 10), isLeader: false }, 60_000);
          const relisted = await a.members?.list(election);
          expect(relisted?.filter((m) => m.id === 'alpha')).toMatchObject([{ isLeader: false }]);
          await a.members?.remove(election, 'beta');
          const deadline = performance.now() + ttlMs + expiryGraceMs + 1_000;
          for (;;) {
            const ids = ((await a.members?.list(election)) ?? []).map((m) => m.id).sort();
            expect(ids).not.toContain('beta');
            if (!ids.includes('gamma')) break;
            if (performance.now() > deadline) throw new Error('member gamma did not expire');
            await delay(POLL_MS);
          }
          expect(((await a.members?.list(election)) ?? []).map((m) => m.id)).toEqual(['alpha']);
          expect(await a.members?.list(uniqueElection())).toEqual([]);
        },
      );
    }

    if (options.memberSteering ?? false) {
      conformanceCase('keeps the steering fields of member records', async () => {
        const [a, b] = [await connect(), await connect()];
        const election = uniqueElection();
        const member = (id: string, extra: Partial<MemberRecord>): MemberRecord => ({
          ...candidate(id, 0, Date.now()),
          ...extra,
        });
        await a.members?.put(
          election,
          member('alpha', { drained: true, health: 'unhealthy', version: '2.0.0-rc.1' }),
          60_000,
        );
        await a.members?.put(
          election,
          member('beta', { drained: false, health: 'healthy', version: null }),
          60_000,
        );
        const listed = await b.members?.list(election);
        expect(listed?.find((m) => m.id === 'alpha')).toMatchObject({
          drained: true,
          health: 'unhealthy',
          version: '2.0.0-rc.1',
        });
        const beta = listed?.find((m) => m.id === 'beta');
        expect(beta?.drained ?? false).toBe(false);
        expect(beta?.health ?? 'unknown').toBe('healthy');
        expect(beta?.version ?? null).toBeNull();
      });
    }

    if (options.transfer ?? false) {
      defineTransferCases({ connect, conformanceCase, request, acquireOrFail, acquireWithin });
    }

    if (options.batch ?? false) {
      const tools = { connect, conformanceCase, request, acquireOrFail, acquireWithin };
      defineBatchCases({ ...tools, expiryGraceMs });
      if (options.batchMembers ?? false) defineMemberBatchCases({ ...tools, expiryGraceMs });
      if (options.batchReads ?? false) defineReadBatchCases({ ...tools, expiryGraceMs });
      if (options.batchBeat ?? false) defineBeatCases({ ...tools, expiryGraceMs });
      if (options.batchClaims ?? false) {
        defineClaimBatchCases({ ...tools, expiryGraceMs });
        defineClaimBatchMixCases({ ...tools, expiryGraceMs });
      }
    }

    /**
     * The candidates watch one held election; its release wakes the first in line. Resolves
     * to the ids of the first FOLLOWERS_WOKEN_ON_RELEASE watchers woken.
     */
    async function firstWoken(line: readonly MemberRecord[]): Promise<string[]> {
      const [leader, watcher] = [await connect(), await connect()];
      const election = uniqueElection();
      const lease = await acquireOrFail(leader, request(election, 'the-leader'));
      const woken: string[] = [];
      const controller = new AbortController();
      try {
        for (const member of line) await watcher.members?.put(election, member, 60_000);
        await watcher.members?.list(election); // a store may place watchers by its last list
        for (const { id } of line) {
          const wake = () => void (woken.includes(id) || woken.push(id));
          await watcher.watch?.(election, wake, controller.signal, id);
        }
        await leader.release(lease);
        await until('nobody woke', 5_000, () => woken.length >= FOLLOWERS_WOKEN_ON_RELEASE);
        return woken.slice().sort();
      } finally {
        controller.abort();
      }
    }

    if (options.wakesFirstInLine ?? false) {
      conformanceCase('wakes, among equals, the first in line by id bytewise', async () => {
        // In a locale's collation (en_US, say) 'ab' and 'a-c' come first: punctuation and
        // case weigh less there. Bytewise, 'B' (0x42) and '_z' (0x5f) come before 'a'.
        const ids = ['b', 'ab', 'B', 'a-c', '_z'];
        const woken = await firstWoken(ids.map((id) => candidate(id, 0, 1_000)));
        expect(woken).toEqual(['B', '_z']);
      });

      conformanceCase('wakes the highest priority, then the longest running', async () => {
        const woken = await firstWoken([
          candidate('a-low', 0, 1_000),
          candidate('b-mid-late', 1, 5_000),
          candidate('c-high-latest', 2, 9_000),
          candidate('d-mid-early', 1, 2_000),
          candidate('e-negative', -1, 1),
        ]);
        expect(woken).toEqual(['c-high-latest', 'd-mid-early']);
      });

      conformanceCase('wakes eligible first, then the newest version (the order key)', async () => {
        const woken = await firstWoken([
          { ...candidate('a-drained-high', 9, 1), drained: true },
          { ...candidate('b-unhealthy-high', 9, 1), health: 'unhealthy' },
          { ...candidate('c-old', 0, 1), version: '1.9.0' },
          { ...candidate('d-new-late', 0, 9_000), version: '1.10.0' },
          { ...candidate('e-text', 0, 1), version: 'nightly' },
          { ...candidate('f-new-early', 0, 5_000), version: 'v1.10.0' },
        ]);
        expect(woken).toEqual(['d-new-late', 'f-new-early']);
      });
    }

    conformanceCase('rejects calls after close with LEASEHOLD_E_STORE_CLOSED', async () => {
      const store = await connect();
      const election = uniqueElection();
      await store.close();
      await store.close();
      const failure = await store.tryAcquire(request(election, 'alpha')).then(
        () => null,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(LeaseholdError);
      expect((failure as LeaseholdError).code).toBe('LEASEHOLD_E_STORE_CLOSED');
    });
  });
}
