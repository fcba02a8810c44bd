import {
  Elector,
  SharedHeartbeat,
  type Clock,
  type Lease,
  type LeaseStore,
  type StoreRequestEvent,
  type TermRegressionEvent,
} from '@leasehold/core';
import {
  createMemoryStore,
  ManualClock,
  MemoryBackend,
  seededRandom,
  type MemoryStore,
} from '@leasehold/core/testing';
import { describe, expect, it } from 'vitest';
import { stopOnClock, variantOf, withNotBefore } from './harness.js';

/**
 * Edges of the elector found in review (issue 14): each of these failed before its fix.
 */

function lone(store: LeaseStore, clock: Clock, ttlMs = 3_000): Elector {
  return new Elector({ store, clock, election: 'jobs', id: 'a', ttlMs, retryIntervalMs: 500 });
}

function stopped(elector: Elector, clock: ManualClock): Promise<void> {
  return stopOnClock(clock, [elector], 10_000);
}

describe('Elector edges', () => {
  it('releases a lease the store says it lost, so the store can free what else it held', async () => {
    // PostgreSQL keeps the session's advisory lock until it is released: stepping down
    // without a release left the lock held and every other candidate locked out.
    const clock = new ManualClock();
    const memory = createMemoryStore({ clock });
    const released: Lease[] = [];
    let lose = false;
    const store = variantOf(memory, {
      renew: async (lease) => (lose ? { renewed: false } : memory.renew(lease)),
      release: async (lease) => {
        released.push(lease);
        await memory.release(lease);
      },
    });
    const elector = lone(store, clock);
    const lost: number[] = [];
    elector.on('deposed', ({ term, reason }) => {
      if (reason === 'lost') lost.push(term);
    });
    elector.start();
    await clock.advanceUntil(() => elector.isLeader(), 1_000);
    lose = true;
    await clock.advanceUntil(() => released.length > 0, 2_000);
    expect(lost).toHaveLength(1);
    expect(released.map((lease) => lease.term)).toEqual(lost);
    lose = false;
    await stopped(elector, clock);
  });

  it('answers leadership and term from one reading of the clock', async () => {
    const clock = new ManualClock();
    const elector = lone(createMemoryStore({ clock }), clock);
    elector.start();
    await clock.advanceUntil(() => elector.isLeader(), 1_000);
    // A clock that moves on every reading, positioned 1 ms before the deadline: two
    // readings would say "leader" and then, for the term, "nobody".
    let reads = 0;
    const remaining = elector.status().leaseRemainingMs;
    const ticking = { now: () => clock.now() + remaining - 1 + reads++ };
    Object.assign(elector, {
      clock: { ...clock, setTimer: clock.setTimer.bind(clock), ...ticking },
    });
    const status = elector.status();
    expect(reads).toBe(1);
    expect(status.isLeader).toBe(true);
    expect(status.term).toBe(1);
    Object.assign(elector, { clock });
    await stopped(elector, clock);
  });

  it('leaves no timer behind when stopped while waiting out notBefore', async () => {
    // The pending notBefore timer kept a stopped sidecar's process alive for up to a TTL.
    const clock = new ManualClock();
    const memory = createMemoryStore({ clock });
    const elector = lone(withNotBefore(memory, 3_000), clock);
    elector.start();
    await clock.advanceUntil(() => elector.status().state === 'pending', 1_000);
    await stopped(elector, clock);
    expect(clock.pendingTimers).toBe(0);
  });

  it('never has two member heartbeats in flight on a slow store', async () => {
    const clock = new ManualClock();
    const memory = createMemoryStore({ clock });
    let inFlight = 0;
    let mostInFlight = 0;
    let writes = 0;
    const store: LeaseStore = {
      ...variantOf(memory),
      // Each member write takes 2.5 s: longer than the renew interval (1 s), which is also
      // the elector's call timeout, so the elector gives up on a write while the store is
      // still working on it. The next write must wait for it all the same.
      members: {
        ...memory.members,
        put: async (election, member, ttlMs) => {
          inFlight += 1;
          writes += 1;
          mostInFlight = Math.max(mostInFlight, inFlight);
          await new Promise<void>((resolve) => clock.setTimer(2_500, resolve));
          await memory.members.put(election, member, ttlMs);
          inFlight -= 1;
        },
      },
    };
    const elector = lone(store, clock);
    elector.start();
    await clock.advance(20_000);
    expect(writes).toBeGreaterThan(3);
    expect(mostInFlight).toBe(1);
    await stopped(elector, clock);
  });

  it('never has two member heartbeats in flight on a slow store, batched on a shared heartbeat', async () => {
    const clock = new ManualClock();
    const memory = createMemoryStore({ clock });
    let inFlight = 0;
    let mostInFlight = 0;
    let writes = 0;
    const putMembers = memory.batch.putMembers?.bind(memory.batch);
    if (putMembers === undefined) throw new Error('the memory store batches member records');
    // As above, through batch.putMembers (no beat): each batch of records takes 2.5 s.
    const store: LeaseStore = {
      ...variantOf(memory),
      members: memory.members,
      batch: {
        renewMany: (leases) => memory.batch.renewMany(leases),
        putMembers: async (puts) => {
          inFlight += 1;
          writes += 1;
          mostInFlight = Math.max(mostInFlight, inFlight);
          await new Promise<void>((resolve) => clock.setTimer(2_500, resolve));
          const answer = await putMembers(puts);
          inFlight -= 1;
          return answer;
        },
      },
    };
    const sharedHeartbeat = new SharedHeartbeat({ store, periodMs: 1_000, clock });
    const elector = new Elector({
      store,
      clock,
      election: 'jobs',
      id: 'a',
      ttlMs: 3_000,
      retryIntervalMs: 500,
      sharedHeartbeat,
    });
    elector.start();
    await clock.advance(20_000);
    expect(writes).toBeGreaterThan(3);
    expect(mostInFlight).toBe(1);
    await stopped(elector, clock);
  });

  it.each([
    ['release', 'release' as const],
    ['member removal', 'member' as const],
  ])('reports a %s that times out under its own name', async (_what, op) => {
    const clock = new ManualClock();
    const memory = createMemoryStore({ clock });
    const never = new Promise<void>(() => {});
    let hang = false;
    const store: LeaseStore = {
      ...variantOf(memory),
      release: (lease) => (hang && op === 'release' ? never : memory.release(lease)),
      members: {
        ...memory.members,
        remove: (election, id) =>
          hang && op === 'member' ? never : memory.members.remove(election, id),
      },
    };
    const elector = lone(store, clock);
    const timeouts: StoreRequestEvent[] = [];
    elector.on('store-request', (event) => {
      if ((event.error as { code?: string } | null)?.code === 'LEASEHOLD_E_STORE_TIMEOUT') {
        timeouts.push(event);
      }
    });
    elector.start();
    await clock.advanceUntil(() => elector.isLeader(), 1_000);
    hang = true;
    await stopped(elector, clock);
    expect(timeouts.map((event) => event.op)).toEqual([op]);
    expect((timeouts[0]?.error as Error).message).toContain(`store ${op} did not answer`);
  });

  it('notices terms going backwards once per reset, and keeps the highest term seen', async () => {
    // A store reset (data wiped, schema dropped, file deleted) restarts terms from 1.
    const clock = new ManualClock();
    let backend = new MemoryBackend({ clock });
    let connection: MemoryStore = backend.connect();
    const store = variantOf(connection, {
      tryAcquire: (request) => connection.tryAcquire(request),
      renew: (lease) => connection.renew(lease),
      release: (lease) => connection.release(lease),
      read: (election) => connection.read(election),
    });
    const elector = lone(store, clock);
    const regressions: TermRegressionEvent[] = [];
    elector.on('term-regression', (event) => regressions.push(event));
    elector.start();
    for (let term = 1; term <= 3; term += 1) {
      await clock.advanceUntil(() => elector.currentTerm() === term, 5_000);
      if (term < 3) await elector.resign();
    }
    backend = new MemoryBackend({ clock });
    connection = backend.connect();
    await clock.advanceUntil(() => elector.currentTerm() === 1, 10_000);
    await elector.resign();
    await clock.advanceUntil(() => elector.currentTerm() === 2, 5_000);
    expect(regressions).toEqual([
      { election: 'jobs', previous: 3, observed: 1, highest: 3, at: expect.any(Number) as number },
    ]);
    expect(elector.status()).toMatchObject({
      highestTerm: 3,
      termRegressions: 1,
      lastTermRegression: { previous: 3, observed: 1 },
    });
    await stopped(elector, clock);
  });

  it('lets only the first in line retry right at a dead leader’s expiry; the rest poll', async () => {
    // Every follower retrying at the expiry hint is a herd that grows with the candidates.
    // No watch here: only the retry-after hint can bring a follower in at the expiry.
    const clock = new ManualClock(1_000_000);
    const backend = new MemoryBackend({ clock });
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
    const candidates = ids.map((id, i) => {
      const memory = backend.connect();
      const store: LeaseStore = {
        ...variantOf(memory),
        members: memory.members,
      };
      const timing = { ttlMs: 3_000, retryIntervalMs: 3_000, random: seededRandom(i + 1) };
      const elector = new Elector({ store, clock, election: 'jobs', id, ...timing });
      return { id, memory, elector };
    });
    candidates.forEach((c) => c.elector.start());
    const leaderOf = () => candidates.find((c) => c.elector.isLeader());
    await clock.advanceUntil(() => leaderOf() !== undefined, 10_000);
    const leader = leaderOf();
    if (leader === undefined) throw new Error('no leader');
    await clock.advance(2_500); // everyone has heard of everyone
    leader.memory.faults.freeze(); // it can no longer renew, nor release
    const expiresAt = clock.now() + (backend.read('jobs')?.remainingMs ?? 0);
    const early: string[] = [];
    for (const candidate of candidates.filter((c) => c !== leader)) {
      candidate.elector.on('store-request', ({ op }) => {
        const now = clock.now();
        if (op === 'acquire' && now >= expiresAt && now <= expiresAt + 5) early.push(candidate.id);
      });
    }
    await clock.advanceUntil(() => (leaderOf() ?? leader) !== leader, 5_000);
    expect(clock.now() - expiresAt).toBeLessThanOrEqual(5);
    expect(early).toContain(leaderOf()?.id);
    expect(early.length).toBeLessThanOrEqual(2);
    leader.memory.faults.thaw();
    await stopOnClock(
      clock,
      candidates.map((c) => c.elector),
      10_000,
    );
  });

  it('acts on a wake-up that came while an attempt was in flight', async () => {
    // A release landing between a follower's refused claim and its answer woke nobody: the
    // follower then waited its whole retry interval (a transfer's successor, ~1 s on PostgreSQL).
    const clock = new ManualClock(1_000_000);
    const backend = new MemoryBackend({ clock });
    const timing = { ttlMs: 30_000, retryIntervalMs: 10_000 };
    const leader = new Elector({
      store: backend.connect(),
      clock,
      election: 'jobs',
      id: 'a',
      ...timing,
    });
    leader.start();
    await clock.advanceUntil(() => leader.isLeader(), 10_000);
    const memory = backend.connect();
    memory.faults.delay(50); // each way: the claim is refused at +50, answered at +100
    let releasedAt: number | null = null;
    const store: LeaseStore = {
      ...variantOf(memory),
      watch: (election, onChange, signal) => memory.watch(election, onChange, signal),
      tryAcquire: (request) => {
        if (releasedAt === null) {
          releasedAt = clock.now() + 60;
          clock.setTimer(60, () => void leader.resign());
        }
        return memory.tryAcquire(request);
      },
    };
    const follower = new Elector({ store, clock, election: 'jobs', id: 'b', ...timing });
    follower.start();
    await clock.advanceUntil(() => follower.isLeader(), 20_000);
    expect(clock.now() - (releasedAt ?? 0)).toBeLessThan(1_000);
    await stopped(follower, clock);
    await stopped(leader, clock);
  });

  it('stops within the time it is given, even when the store never answers the release', async () => {
    // A shutdown grace period passes what is left of it: stopping must not outlast it.
    const clock = new ManualClock();
    const memory = createMemoryStore({ clock });
    let hang = false;
    const store: LeaseStore = {
      ...variantOf(memory),
      release: (lease) => (hang ? new Promise<void>(() => {}) : memory.release(lease)),
      members: memory.members,
    };
    const elector = lone(store, clock);
    elector.start();
    await clock.advanceUntil(() => elector.isLeader(), 1_000);
    hang = true;
    const startedAt = clock.now();
    let stoppedAt: number | null = null;
    void elector.stop({ withinMs: 1_500 }).then(() => (stoppedAt = clock.now()));
    await clock.advanceUntil(() => stoppedAt !== null, 10_000);
    expect((stoppedAt ?? Infinity) - startedAt).toBeLessThanOrEqual(1_500);
  });
});
