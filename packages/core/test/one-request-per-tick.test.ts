import { Elector, SharedHeartbeat, type DeposedEvent } from '@leasehold/core';
import {
  ManualClock,
  MemoryBackend,
  seededRandom,
  type MemoryStore,
} from '@leasehold/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { recordStoreCalls, stopOnClock, type StoreCall } from './harness.js';

/**
 * One request per tick (docs/design.md §3.8): on a store with `batch.beat`, a sidecar's
 * renewals, member heartbeats and followers' reads of one tick go out in ONE request,
 * counted as bench/many-sidecars.mjs counts them (every call the store receives), and each
 * item is still judged alone. Before `beat`, 1,000 elections cost a leader 4 requests per
 * renew interval (renewals and member records, each split at 500) and a follower 3.
 */

const TTL_MS = 3_000;
const RENEW_MS = 1_000;
const ELECTIONS = 600;

/** One process: `count` electors of one store sharing one heartbeat. */
class Sidecar {
  readonly store: MemoryStore;
  readonly calls: StoreCall[];
  readonly electors: Elector[];
  readonly deposed: DeposedEvent[] = [];

  constructor(backend: MemoryBackend, clock: ManualClock, id: string, count: number) {
    this.store = backend.connect();
    this.calls = recordStoreCalls(this.store, clock);
    const heartbeat = new SharedHeartbeat({ store: this.store, periodMs: RENEW_MS, clock });
    this.electors = Array.from({ length: count }, (_, i) => {
      const elector = new Elector({
        store: this.store,
        election: `e${i}`,
        id,
        ttlMs: TTL_MS,
        renewIntervalMs: RENEW_MS,
        clock,
        random: seededRandom(i + 1),
        sharedHeartbeat: heartbeat,
      });
      elector.on('deposed', (event) => this.deposed.push(event));
      return elector;
    });
  }

  start(): void {
    for (const elector of this.electors) elector.start();
  }

  callsBetween(from: number, to: number): StoreCall[] {
    return this.calls.filter((call) => call.at >= from && call.at < to);
  }
}

let clock: ManualClock;
let sidecars: Sidecar[] = [];

afterEach(async () => {
  await stopOnClock(
    clock,
    sidecars.flatMap((s) => s.electors),
  );
  sidecars = [];
});

/** A leader sidecar in every election, then a follower sidecar, both past their start. */
async function leaderAndFollower(count: number): Promise<[Sidecar, Sidecar]> {
  clock = new ManualClock(1_000_000);
  const backend = new MemoryBackend({ clock });
  const leader = new Sidecar(backend, clock, 'a', count);
  const follower = new Sidecar(backend, clock, 'b', count);
  sidecars = [leader, follower];
  leader.start();
  await clock.advanceUntil(() => leader.electors.every((e) => e.isLeader()), 10_000);
  follower.start();
  await clock.advanceUntil(
    () => follower.electors.every((e) => e.status().leader?.id === 'a'),
    10_000,
  );
  // Past the first claims and member lists, onto the heartbeat's grid.
  await clock.advance(3 * RENEW_MS);
  return [leader, follower];
}

describe('one request per tick (batch.beat)', () => {
  it('an idle leader and an idle follower of 600 elections each (past the old split at 500) send one request per renew interval', async () => {
    const [leader, follower] = await leaderAndFollower(ELECTIONS);
    const from = clock.now();
    const intervals = 10;
    await clock.advance(intervals * RENEW_MS);
    for (const sidecar of [leader, follower]) {
      const calls = sidecar.callsBetween(from, clock.now());
      const ops = [...new Set(calls.map((call) => call.op))];
      expect({ perInterval: calls.length / intervals, ops }).toEqual({
        perInterval: expect.any(Number) as number,
        ops: ['batch.beat'],
      });
      // One a tick; the window may hold one tick more or less.
      expect(calls.length).toBeLessThanOrEqual(intervals + 1);
    }
    expect(leader.electors.every((e) => e.isLeader())).toBe(true);
    expect(follower.electors.every((e) => e.status().leader?.id === 'a')).toBe(true);
  }, 180_000);

  it('carries a leader’s renewals and member records, and a follower’s reads, all in one beat', async () => {
    const [leader, follower] = await leaderAndFollower(20);
    const beats: { renewals: number; puts: number; reads: number }[] = [];
    for (const sidecar of [leader, follower]) {
      const beat = sidecar.store.batch.beat?.bind(sidecar.store.batch);
      if (beat === undefined) throw new Error('the memory store offers batch.beat');
      Object.assign(sidecar.store.batch, {
        beat: (request: Parameters<typeof beat>[0]) => {
          beats.push({
            renewals: request.renewals.length,
            puts: request.puts.length,
            reads: request.reads.length,
          });
          return beat(request);
        },
      });
    }
    await clock.advance(5 * RENEW_MS);
    expect(beats).toContainEqual({ renewals: 20, puts: 20, reads: 0 });
    // A follower's reads ride with its member records (each follower reads on its own poll).
    expect(beats.some((b) => b.renewals === 0 && b.puts === 20 && b.reads > 0)).toBe(true);
  });

  it('claims the elections whose leases ran out together in a few requests, not one each', async () => {
    const [leader, follower] = await leaderAndFollower(200);
    leader.store.faults.freeze();
    const frozenAt = clock.now();
    await clock.advanceUntil(() => follower.electors.every((e) => e.isLeader()), 3 * TTL_MS);
    // Within the TTL (plus the batch's gathering) of the last renewal before the freeze.
    expect(clock.now() - frozenAt).toBeLessThanOrEqual(TTL_MS + RENEW_MS);
    const claims = follower.callsBetween(frozenAt, clock.now());
    const single = claims.filter((call) => call.op === 'tryAcquire').length;
    const batched = claims.filter((call) => call.op === 'batch.claimMany').length;
    expect({ single, batchedAtMost10: batched <= 10 }).toEqual({
      single: 0,
      batchedAtMost10: true,
    });
    leader.store.faults.thaw();
  });

  it('counts a failed beat as a failed renewal of each lease, each expiring by its own deadline', async () => {
    const [leader, follower] = await leaderAndFollower(20);
    leader.store.faults.fail(1);
    await clock.advance(2 * RENEW_MS);
    // One failed beat: retried, nobody stepped down.
    expect(leader.deposed).toEqual([]);
    expect(leader.electors.every((e) => e.isLeader())).toBe(true);
    leader.store.faults.fail();
    const failingFrom = clock.now();
    await clock.advanceUntil(() => leader.deposed.length === 20, 10_000);
    expect(leader.deposed.every((event) => event.reason === 'lease-expired')).toBe(true);
    // Each deadline came from a renewal handed over before the failures began.
    expect(clock.now() - failingFrom).toBeLessThanOrEqual(TTL_MS);
    // And the follower took over every election, never while a's lease was valid.
    await clock.advanceUntil(() => follower.electors.every((e) => e.isLeader()), 2 * TTL_MS);
    expect(leader.electors.some((e) => e.isLeader())).toBe(false);
    leader.store.faults.clear();
  });
});
