import { Elector, SharedHeartbeat, type AcquireRequest, type BeatRequest } from '@leasehold/core';
import {
  FreezableClock,
  ManualClock,
  MemoryBackend,
  seededRandom,
  type MemoryStore,
} from '@leasehold/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { stopOnClock } from './harness.js';

/**
 * Followers read in batches (docs/design.md §3.8): a follower of a sidecar whose store
 * offers `batch.readMany` does not claim an election held by another every retry interval;
 * it reads it in its heartbeat's batch, one request for every election, and claims once a
 * read shows the lock free or running out. At 1,000 elections a follower sidecar sent
 * ~1,900 claims per renew interval on Redis and SQLite.
 */
const TTL_MS = 3_000;
const RETRY_MS = 500;
const RENEW_MS = 1_000;
const ELECTIONS = ['e0', 'e1', 'e2', 'e3', 'e4'];

interface Reads {
  readonly at: number;
  readonly elections: readonly string[];
}

/** Leader `a` (its own process) and follower `b` (a sidecar with a shared heartbeat). */
class Pair {
  readonly clock = new ManualClock(1_000_000);
  readonly backend = new MemoryBackend({ clock: this.clock });
  readonly aClock = new FreezableClock(this.clock);
  readonly aStore = this.backend.connect();
  readonly bStore: MemoryStore = this.backend.connect();
  readonly claims: { readonly at: number; readonly election: string }[] = [];
  readonly reads: Reads[] = [];
  readonly singleReads: string[] = [];
  /** Batch reads still to fail. */
  failReads = 0;
  readonly a: Elector[];
  readonly b: Elector[];

  constructor() {
    this.instrument();
    const heartbeat = new SharedHeartbeat({
      store: this.bStore,
      periodMs: RENEW_MS,
      clock: this.clock,
    });
    const common = { ttlMs: TTL_MS, retryIntervalMs: RETRY_MS, renewIntervalMs: RENEW_MS };
    this.a = ELECTIONS.map(
      (election) =>
        new Elector({ ...common, store: this.aStore, election, id: 'a', clock: this.aClock }),
    );
    this.b = ELECTIONS.map(
      (election) =>
        new Elector({
          ...common,
          store: this.bStore,
          election,
          id: 'b',
          clock: this.clock,
          random: seededRandom(7),
          sharedHeartbeat: heartbeat,
        }),
    );
  }

  async start(): Promise<void> {
    for (const elector of this.a) elector.start();
    await this.clock.advanceUntil(() => this.a.every((e) => e.isLeader()), 10_000);
    for (const elector of this.b) elector.start();
    await this.clock.advanceUntil(() => this.b.every((e) => e.status().leader?.id === 'a'), 10_000);
    // Past the first claims and onto the heartbeat's grid.
    await this.clock.advance(3 * RENEW_MS);
  }

  claimsSince(at: number): number {
    return this.claims.filter((claim) => claim.at >= at).length;
  }

  /** The leader's process stops dead: no renewal, no release. */
  freezeLeader(): void {
    this.aClock.freeze();
    this.aStore.faults.freeze();
  }

  async stop(): Promise<void> {
    this.aStore.faults.thaw();
    this.aClock.resume();
    await stopOnClock(this.clock, [...this.a, ...this.b]);
  }

  /** Count b's claims and reads; b's store has no watch (Redis wakes on releases only). */
  private instrument(): void {
    const { bStore: store, clock } = this;
    const batch = store.batch;
    const tryAcquire = store.tryAcquire.bind(store);
    const read = store.read.bind(store);
    Object.assign(store, {
      watch: undefined,
      tryAcquire: (request: AcquireRequest) => {
        this.claims.push({ at: clock.now(), election: request.election });
        return tryAcquire(request);
      },
      read: (election: string) => {
        this.singleReads.push(election);
        return read(election);
      },
      batch: {
        ...batch,
        readMany: (elections: readonly string[]) => {
          this.reads.push({ at: clock.now(), elections });
          if (this.failReads > 0) {
            this.failReads -= 1;
            return Promise.reject(new Error('injected batch read failure'));
          }
          return batch.readMany?.(elections);
        },
        // Claims on a shared heartbeat go in its batch of claims: each one counts.
        claimMany: (requests: readonly AcquireRequest[]) => {
          for (const request of requests) {
            this.claims.push({ at: clock.now(), election: request.election });
          }
          return batch.claimMany?.(requests);
        },
        // One request per tick: b's reads go in its heartbeat's beat.
        beat: (request: BeatRequest) => {
          if (request.reads.length > 0) {
            this.reads.push({ at: clock.now(), elections: request.reads });
            if (this.failReads > 0) {
              this.failReads -= 1;
              return Promise.reject(new Error('injected batch read failure'));
            }
          }
          return batch.beat?.(request);
        },
      },
    });
  }
}

let pair: Pair;

afterEach(() => pair.stop());

describe('followers reading in batches', () => {
  it('send no claims while the holder lives, and one read a renew interval for all', async () => {
    pair = new Pair();
    await pair.start();
    const from = pair.clock.now();
    const intervals = 10;
    await pair.clock.advance(intervals * RENEW_MS);
    // Claiming every retry interval, that would be 2 × 5 × 10 = 100 claims.
    expect(pair.claimsSince(from)).toBe(0);
    const reads = pair.reads.filter((read) => read.at >= from);
    expect(reads.length).toBeGreaterThanOrEqual(intervals - 1);
    expect(reads.length).toBeLessThanOrEqual(intervals + 1);
    for (const read of reads) expect([...read.elections].sort()).toEqual(ELECTIONS);
    expect(pair.singleReads).toEqual([]);
    for (const elector of pair.b) expect(elector.status().leader?.id).toBe('a');
  });

  it('claim as soon as a read shows the lease running out, and take over within the TTL', async () => {
    pair = new Pair();
    await pair.start();
    pair.freezeLeader();
    const frozenAt = pair.clock.now();
    await pair.clock.advanceUntil(() => pair.b.every((e) => e.isLeader()), 3 * TTL_MS);
    // The last renewal was at most a renew interval before the freeze: every lease has run
    // out within a TTL of it, and the first in line claimed right then, not a poll later.
    expect(pair.clock.now() - frozenAt).toBeLessThanOrEqual(TTL_MS + 50);
    // About one claim per election, not one per retry interval during the TTL.
    expect(pair.claimsSince(frozenAt)).toBeLessThanOrEqual(2 * ELECTIONS.length);
  });

  it('fall back to claiming each election after a batch read fails, then read again', async () => {
    pair = new Pair();
    await pair.start();
    const readsBefore = pair.reads.length;
    pair.failReads = 1;
    await pair.clock.advanceUntil(() => pair.reads.length > readsBefore, 2 * RENEW_MS);
    const failedAt = pair.clock.now();
    await pair.clock.advance(RENEW_MS);
    // Every election claimed once after the failed read, as it would without batching.
    const claimed = pair.claims.filter((claim) => claim.at >= failedAt).map((c) => c.election);
    expect([...claimed].sort()).toEqual(ELECTIONS);
    // And then back to reading, without claims.
    const settled = pair.clock.now();
    await pair.clock.advance(5 * RENEW_MS);
    expect(pair.claimsSince(settled)).toBe(0);
    expect(pair.reads.filter((read) => read.at >= settled).length).toBeGreaterThanOrEqual(4);
    for (const elector of pair.b) expect(elector.status().leader?.id).toBe('a');
  });
});
