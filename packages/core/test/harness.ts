import {
  Elector,
  type DeposedEvent,
  type ElectedEvent,
  type ElectorOptions,
} from '@leasehold/core';
import type { Clock, LeaseStore } from '@leasehold/core';
import {
  FreezableClock,
  MemoryBackend,
  type MemoryStore,
  ManualClock,
} from '@leasehold/core/testing';

/** One simulated candidate process: its elector, its connection and its own clock view. */
export interface Candidate {
  readonly id: string;
  readonly elector: Elector;
  readonly store: MemoryStore;
  readonly clock: FreezableClock;
  readonly elected: ElectedEvent[];
  readonly deposed: DeposedEvent[];
  /** Freeze the whole process, as SIGSTOP would: timers and store answers wait. */
  freeze(): void;
  resume(): void;
}

export class Cluster {
  readonly clock = new ManualClock(1_000_000);
  readonly backend = new MemoryBackend({ clock: this.clock });
  readonly candidates: Candidate[] = [];

  constructor(private readonly defaults: Partial<ElectorOptions> = {}) {}

  add(id: string, options: Partial<ElectorOptions> = {}): Candidate {
    const store = this.backend.connect();
    const clock = new FreezableClock(this.clock);
    const elector = new Elector({
      election: 'jobs',
      id,
      store,
      clock,
      ttlMs: 3_000,
      retryIntervalMs: 500,
      ...this.defaults,
      ...options,
    });
    const candidate: Candidate = {
      id,
      elector,
      store,
      clock,
      elected: [],
      deposed: [],
      freeze: () => {
        clock.freeze();
        store.faults.freeze();
      },
      resume: () => {
        store.faults.thaw();
        clock.resume();
      },
    };
    elector.on('elected', (event) => candidate.elected.push(event));
    elector.on('deposed', (event) => candidate.deposed.push(event));
    this.candidates.push(candidate);
    return candidate;
  }

  start(): void {
    for (const candidate of this.candidates) candidate.elector.start();
  }

  leaders(): Candidate[] {
    return this.candidates.filter((candidate) => candidate.elector.isLeader());
  }

  /** Advance manual time until exactly one candidate leads; returns it. */
  async leader(withinMs = 20_000): Promise<Candidate> {
    await this.clock.advanceUntil(() => this.leaders().length === 1, withinMs);
    const [leader] = this.leaders();
    if (leader === undefined) throw new Error('no leader');
    return leader;
  }

  async stopAll(): Promise<void> {
    for (const candidate of this.candidates) candidate.resume();
    await stopOnClock(
      this.clock,
      this.candidates.map((c) => c.elector),
    );
  }
}

/**
 * A store that behaves like `memory` except where `overrides` say otherwise, and keeps no
 * member records (so its first call is the acquire). For tests of adapter quirks.
 */
export function variantOf(memory: MemoryStore, overrides: Partial<LeaseStore> = {}): LeaseStore {
  return {
    backend: 'memory',
    tryAcquire: (request) => memory.tryAcquire(request),
    renew: (lease) => memory.renew(lease),
    release: (lease) => memory.release(lease),
    read: (election) => memory.read(election),
    close: () => memory.close(),
    ...overrides,
  };
}

/** Every granted lease asks its holder to wait `notBeforeMs` first. */
export function withNotBefore(memory: MemoryStore, notBeforeMs: number): LeaseStore {
  return variantOf(memory, {
    tryAcquire: async (request) => {
      const result = await memory.tryAcquire(request);
      return result.acquired ? { acquired: true, lease: { ...result.lease, notBeforeMs } } : result;
    },
  });
}

/** A call a store received: its operation (`renew`, `members.put`, `batch.beat`…) and when. */
export interface StoreCall {
  readonly at: number;
  readonly op: string;
}

/**
 * Record every call `store` receives from now on, by operation, with the time on `clock`:
 * what bench/many-sidecars.mjs counts as requests (a batch is one).
 */
export function recordStoreCalls(store: MemoryStore, clock: Clock): StoreCall[] {
  const calls: StoreCall[] = [];
  const wrap = (target: object, op: string, name: string): void => {
    const record = target as Record<string, unknown>;
    const original = record[name];
    if (typeof original !== 'function') return;
    record[name] = (...args: unknown[]): unknown => {
      calls.push({ at: clock.now(), op });
      return (original as (...a: unknown[]) => unknown).apply(target, args);
    };
  };
  for (const name of ['tryAcquire', 'renew', 'release', 'read']) wrap(store, name, name);
  for (const name of ['put', 'list', 'remove']) wrap(store.members, `members.${name}`, name);
  for (const name of ['renewMany', 'putMembers', 'readMany', 'beat', 'claimMany']) {
    wrap(store.batch, `batch.${name}`, name);
  }
  return calls;
}

/**
 * Stop them all, advancing the manual clock meanwhile: stop() may wait on store calls that
 * need manual time to pass.
 */
export async function stopOnClock(
  clock: ManualClock,
  stoppable: readonly { stop(): Promise<void> }[],
  withinMs = 60_000,
): Promise<void> {
  const stopping = Promise.all(stoppable.map((s) => s.stop()));
  const state = settledState(stopping);
  await clock.advanceUntil(() => state.settled, withinMs);
  await stopping;
}

/** How a promise ended, once it has: read it after advancing a manual clock. */
export function settledState<T>(promise: Promise<T>) {
  const state: { value?: T; error?: unknown; settled: boolean } = { settled: false };
  promise.then(
    (value) => Object.assign(state, { value, settled: true }),
    (error: unknown) => Object.assign(state, { error, settled: true }),
  );
  return state;
}
