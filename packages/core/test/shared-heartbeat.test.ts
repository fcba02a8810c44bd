import {
  Elector,
  LeaseholdConfigError,
  leaseValidityMs,
  SharedHeartbeat,
  type AcquireRequest,
  type DeposedEvent,
  type Lease,
  type LeaseEvent,
  type MemberPut,
} from '@leasehold/core';
import {
  ManualClock,
  MemoryBackend,
  seededRandom,
  type MemoryStore,
} from '@leasehold/core/testing';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * The shared heartbeat (docs/design.md §3.8) on the memory store: many electors of one
 * store renew in one request per tick, each renewal early and never late, each deadline
 * counted from when its renewal was handed over, each lease judged alone.
 */

interface Sent {
  readonly at: number;
  readonly elections: readonly string[];
}

/** Many electors (one election each) on ONE connection, sharing one heartbeat. */
class Sidecar {
  readonly clock = new ManualClock(1_000_000);
  readonly backend = new MemoryBackend({ clock: this.clock });
  readonly store: MemoryStore = this.backend.connect();
  readonly batches: Sent[] = [];
  readonly single: Sent[] = [];
  readonly memberBatches: Sent[] = [];
  readonly acquires: { readonly at: number; readonly election: string }[] = [];
  readonly leaseEvents: LeaseEvent[] = [];
  readonly deposed: DeposedEvent[] = [];
  readonly electors: Elector[] = [];
  readonly heartbeat: SharedHeartbeat;

  constructor(periodMs: number, options: { readonly batch?: boolean } = {}) {
    this.countRequests(options.batch ?? true);
    this.heartbeat = new SharedHeartbeat({ store: this.store, periodMs, clock: this.clock });
  }

  add(election: string, ttlMs: number, random = Math.random): Elector {
    const elector = new Elector({
      store: this.store,
      election,
      id: 'me',
      ttlMs,
      clock: this.clock,
      random,
      sharedHeartbeat: this.heartbeat,
    });
    elector.on('lease', (event) => this.leaseEvents.push(event));
    elector.on('deposed', (event) => this.deposed.push(event));
    this.electors.push(elector);
    return elector;
  }

  /** When renewals of `election` were sent, in order. */
  renewalsOf(election: string): number[] {
    return [...this.batches, ...this.single]
      .filter((sent) => sent.elections.includes(election))
      .map((sent) => sent.at)
      .sort((a, b) => a - b);
  }

  /** When requests (acquires and renewals) for `election` were sent. */
  requestsFor(election: string): number[] {
    return [
      ...this.renewalsOf(election),
      ...this.acquires.filter((a) => a.election === election).map((a) => a.at),
    ];
  }

  async allLeading(): Promise<void> {
    for (const elector of this.electors) elector.start();
    await this.clock.advanceUntil(() => this.electors.every((e) => e.isLeader()), 10_000);
  }

  async stop(): Promise<void> {
    const stopping = Promise.all(this.electors.map((elector) => elector.stop()));
    let done = false;
    void stopping.then(() => (done = true));
    await this.clock.advanceUntil(() => done, 60_000);
  }

  /** Record every renewal request as the store receives it. */
  private countRequests(withBatch: boolean): void {
    const { store, clock } = this;
    const batch = store.batch;
    const renew = store.renew.bind(store);
    const tryAcquire = store.tryAcquire.bind(store);
    Object.assign(store, {
      tryAcquire: (request: AcquireRequest) => {
        this.acquires.push({ at: clock.now(), election: request.election });
        return tryAcquire(request);
      },
      batch: withBatch
        ? {
            renewMany: (leases: readonly Lease[]) => {
              this.batches.push({ at: clock.now(), elections: leases.map((l) => l.election) });
              return batch.renewMany(leases);
            },
            putMembers: (puts: readonly MemberPut[]) => {
              this.memberBatches.push({ at: clock.now(), elections: puts.map((p) => p.election) });
              return batch.putMembers?.(puts);
            },
          }
        : undefined,
      renew: (lease: Lease) => {
        this.single.push({ at: clock.now(), elections: [lease.election] });
        return renew(lease);
      },
    });
  }
}

let sidecar: Sidecar | null = null;
afterEach(async () => {
  await sidecar?.stop();
  sidecar = null;
});

describe('SharedHeartbeat', () => {
  it('renews 100 elections with one request per renew interval', async () => {
    const s = (sidecar = new Sidecar(1_000));
    for (let i = 0; i < 100; i += 1) s.add(`e${i}`, 3_000);
    await s.allLeading();
    // The first renewals after the acquires (spread over the start) align to the ticks.
    await s.clock.advance(2_000);
    const from = s.batches.length;
    await s.clock.advance(10_000);
    const window = s.batches.slice(from);
    expect(window.length).toBeLessThanOrEqual(11);
    expect(window.every((sent) => sent.elections.length === 100)).toBe(true);
    expect(s.single).toEqual([]);
    expect(s.electors.every((e) => e.isLeader())).toBe(true);
  });

  it('writes the member records of 100 elections in one request per renew interval', async () => {
    const s = (sidecar = new Sidecar(1_000));
    for (let i = 0; i < 100; i += 1) s.add(`e${i}`, 3_000);
    const put = s.store.members.put.bind(s.store.members);
    let alone = 0;
    Object.assign(s.store.members, {
      put: (...args: Parameters<typeof put>) => {
        alone += 1;
        return put(...args);
      },
    });
    await s.allLeading();
    await s.clock.advance(2_000);
    const from = s.memberBatches.length;
    await s.clock.advance(10_000);
    expect(s.memberBatches.length - from).toBeLessThanOrEqual(11);
    expect(alone).toBe(0);
    const members = await s.electors[7]?.members();
    expect(members?.map((m) => [m.id, m.isLeader])).toEqual([['me', true]]);
  });

  it('never renews later than due, and counts each deadline from its handover', async () => {
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const random = seededRandom(seed);
      const s = (sidecar = new Sidecar(200 + Math.floor(random() * 2_000)));
      const ttls = Array.from({ length: 12 }, () => 1_000 + Math.floor(random() * 9_000));
      ttls.forEach((ttlMs, i) => s.add(`e${i}`, ttlMs, random));
      await s.allLeading();
      await s.clock.advance(30_000);
      s.electors.forEach((elector, i) => {
        const sends = s.renewalsOf(`e${i}`);
        expect(sends.length).toBeGreaterThan(2);
        // Sent at most one renew interval (plus the batch's gathering) after the last one.
        const gaps = sends.slice(1).map((at, k) => at - (sends[k] ?? at));
        expect(Math.max(...gaps)).toBeLessThanOrEqual(elector.timing.renewIntervalMs + 5);
        expect(elector.isLeader()).toBe(true);
      });
      for (const event of s.leaseEvents) {
        const elector = s.electors.find((e) => e.election === event.election);
        const timing = elector?.timing;
        if (timing === undefined) throw new Error(`no elector for ${event.election}`);
        const validity = leaseValidityMs(timing, timing.ttlMs);
        // The request that set this deadline left no earlier than the deadline's start.
        const carriedAt = s.requestsFor(event.election);
        expect(carriedAt.some((at) => at + validity >= event.validUntil)).toBe(true);
      }
      await s.stop();
      sidecar = null;
    }
  });

  it('steps down only the elector whose lease the batch did not renew', async () => {
    const s = (sidecar = new Sidecar(1_000));
    for (let i = 0; i < 5; i += 1) s.add(`e${i}`, 3_000);
    await s.allLeading();
    s.backend.forget('e2');
    await s.clock.advanceUntil(() => s.deposed.length > 0, 5_000);
    await s.clock.advance(5_000);
    expect(s.deposed.map((event) => [event.election, event.reason])).toEqual([['e2', 'lost']]);
    expect(s.electors.filter((e) => e.isLeader()).length).toBeGreaterThanOrEqual(4);
  });

  it('counts a failed batch as a failed renewal of each lease: retried, then expired', async () => {
    const s = (sidecar = new Sidecar(1_000));
    for (let i = 0; i < 5; i += 1) s.add(`e${i}`, 3_000);
    await s.allLeading();
    s.store.faults.fail(1);
    await s.clock.advance(4_000);
    expect(s.deposed).toEqual([]);
    s.store.faults.fail();
    const failingFrom = s.clock.now();
    await s.clock.advanceUntil(() => s.deposed.length === 5, 10_000);
    expect(s.deposed.every((event) => event.reason === 'lease-expired')).toBe(true);
    // Each deadline came from a renewal handed over before the failures began.
    expect(s.clock.now() - failingFrom).toBeLessThanOrEqual(3_000);
    s.store.faults.clear();
  });

  it('fails the renewals of a batch whose store throws synchronously, and nothing else', async () => {
    const s = (sidecar = new Sidecar(1_000));
    for (let i = 0; i < 3; i += 1) s.add(`e${i}`, 3_000);
    await s.allLeading();
    const batch = s.store.batch;
    const renewMany = batch.renewMany;
    Object.assign(batch, {
      renewMany: () => {
        throw new Error('a driver bug');
      },
    });
    await s.clock.advanceUntil(() => s.deposed.length === 3, 10_000);
    expect(s.deposed.every((event) => event.reason === 'lease-expired')).toBe(true);
    Object.assign(batch, { renewMany });
    await s.clock.advanceUntil(() => s.electors.every((e) => e.isLeader()), 10_000);
  });

  it('renews each lease on its own on a store without batch', async () => {
    const s = (sidecar = new Sidecar(1_000, { batch: false }));
    for (let i = 0; i < 3; i += 1) s.add(`e${i}`, 3_000);
    await s.allLeading();
    await s.clock.advance(5_000);
    expect(s.batches).toEqual([]);
    expect(s.single.length).toBeGreaterThanOrEqual(3 * 4);
  });

  it('wakes every wait for a tick from one timer, in one macrotask, and never before the tick', async () => {
    const clock = new ManualClock(1_000_000);
    const store = new MemoryBackend({ clock }).connect();
    const heartbeat = new SharedHeartbeat({ store, periodMs: 1_000, clock });
    const tick = heartbeat.renewAt(clock.now() + 1_500);
    expect(tick).toBe(1_001_000);
    const woken: number[] = [];
    const handles = Array.from({ length: 100 }, (_, i) =>
      // As an elector computes it: `tick - now` from one moment, added back at a later one.
      heartbeat.wakeAt(clock.now() + (tick - clock.now()), () => woken.push(i)),
    );
    handles[7]?.cancel();
    expect(clock.pendingTimers).toBe(1);
    // A time that is no tick has a timer of its own.
    heartbeat.wakeAt(tick + 3, () => woken.push(-1));
    expect(clock.pendingTimers).toBe(2);
    await clock.advance(999);
    expect(woken).toEqual([]);
    await clock.advance(1);
    expect(woken).toEqual(Array.from({ length: 100 }, (_, i) => i).filter((i) => i !== 7));
    await clock.advance(3);
    expect(woken.at(-1)).toBe(-1);
    // Nobody waiting any more: no timer left behind, and a cancel after the wake is harmless.
    handles[0]?.cancel();
    const last = heartbeat.wakeAt(tick + 1_000, () => woken.push(-2));
    last.cancel();
    expect(clock.pendingTimers).toBe(0);
  });

  it('gives every wait a timer of its own on a store without batch', () => {
    const clock = new ManualClock(1_000_000);
    const store = new MemoryBackend({ clock }).connect();
    Object.assign(store, { batch: undefined });
    const heartbeat = new SharedHeartbeat({ store, periodMs: 1_000, clock });
    for (let i = 0; i < 3; i += 1) heartbeat.wakeAt(1_001_000, () => {});
    expect(clock.pendingTimers).toBe(3);
  });

  it('refuses a heartbeat made for another store, naming the option', () => {
    const backend = new MemoryBackend();
    const heartbeat = new SharedHeartbeat({ store: backend.connect(), periodMs: 1_000 });
    const other = backend.connect();
    const make = () =>
      new Elector({ store: other, election: 'x', id: 'a', sharedHeartbeat: heartbeat });
    expect(make).toThrow(LeaseholdConfigError);
    expect(make).toThrow(/sharedHeartbeat/);
  });
});
