import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { LeaseholdConfigError } from './errors.js';
import type { Lease, LeaseStore, RenewResult } from './store.js';

/**
 * One heartbeat for the many electors of one store (docs/design.md §3.7): electors that
 * share it renew on a common grid of ticks, and the renewals handed over at one tick go to
 * the store together (`LeaseStore.batch.renewMany`), so a sidecar with a thousand elections
 * sends one request per renew interval rather than a thousand.
 *
 * Safety does not depend on it. A renewal is only ever pulled EARLIER, to the last tick at
 * or before it is due; each elector still counts its deadline from the moment it handed its
 * renewal over (never after the batch is sent), and judges the batch's answer for its own
 * lease alone. A store without `batch` renews each lease on its own, as without a heartbeat.
 */

export interface SharedHeartbeatOptions {
  /** The one store every elector sharing this heartbeat uses. */
  readonly store: LeaseStore;
  /**
   * Spacing of the ticks. Renewals due within one period are sent together at its start.
   * Use the shortest renew interval of the electors sharing it: with a longer period, a
   * renewal whose tick has passed goes out alone, on time.
   */
  readonly periodMs: number;
  readonly clock?: Clock;
  /**
   * How long a batch stays open after its first renewal, for the electors whose timers for
   * the same tick fire a moment later. Default 5 ms; it delays a renewal's send, never its
   * deadline's start.
   */
  readonly gatherMs?: number;
}

interface PendingRenewal {
  readonly lease: Lease;
  readonly resolve: (result: RenewResult) => void;
  readonly reject: (error: unknown) => void;
}

const DEFAULT_GATHER_MS = 5;
/** Larger batches are split: a request's size stays bounded on every backend. */
const DEFAULT_MAX_LEASES = 500;

export class SharedHeartbeat {
  readonly store: LeaseStore;
  readonly periodMs: number;
  private readonly clock: Clock;
  private readonly gatherMs: number;
  private readonly origin: number;
  private pending: PendingRenewal[] = [];
  private gatherTimer: TimerHandle | null = null;

  constructor(options: SharedHeartbeatOptions) {
    this.store = options.store;
    this.periodMs = checkPositive('periodMs', options.periodMs);
    this.gatherMs = checkPositive('gatherMs', options.gatherMs ?? DEFAULT_GATHER_MS);
    this.clock = options.clock ?? systemClock;
    this.origin = this.clock.now();
  }

  /**
   * When to send a renewal due at `dueAt`: the last tick at or before it, or `dueAt` itself
   * when that tick has already passed. Never later than `dueAt`.
   */
  renewAt(dueAt: number): number {
    if (this.store.batch === undefined) return dueAt;
    const tick = this.origin + Math.floor((dueAt - this.origin) / this.periodMs) * this.periodMs;
    return tick > this.clock.now() ? tick : dueAt;
  }

  /** Renew `lease` in the batch being gathered (alone on a store without `batch`). */
  renew(lease: Lease): Promise<RenewResult> {
    if (this.store.batch === undefined) return this.store.renew(lease);
    return new Promise<RenewResult>((resolve, reject) => {
      this.pending.push({ lease, resolve, reject });
      this.gatherTimer ??= this.clock.setTimer(this.gatherMs, () => this.flush());
    });
  }

  /** Send what was gathered: one request per chunk, a second election's lease alone. */
  private flush(): void {
    this.gatherTimer = null;
    const gathered = this.pending;
    this.pending = [];
    const { batched, alone } = splitByElection(gathered);
    const max = this.store.batch?.maxLeases ?? DEFAULT_MAX_LEASES;
    for (let start = 0; start < batched.length; start += max) {
      this.sendBatch(batched.slice(start, start + max));
    }
    for (const one of alone) this.store.renew(one.lease).then(one.resolve, one.reject);
  }

  private sendBatch(chunk: readonly PendingRenewal[]): void {
    const batch = this.store.batch;
    if (batch === undefined) return;
    settleEach(chunk, batch.renewMany(chunk.map((entry) => entry.lease)));
  }
}

/** Each renewal gets its own lease's answer; a failed batch fails every renewal in it. */
function settleEach(chunk: readonly PendingRenewal[], answer: Promise<RenewResult[]>): void {
  answer.then(
    (results) => {
      chunk.forEach((entry, index) => {
        const result = results[index];
        if (result === undefined) entry.reject(new Error('renewMany answered too few results'));
        else entry.resolve(result);
      });
    },
    (error: unknown) => {
      for (const entry of chunk) entry.reject(error);
    },
  );
}

/** A batch holds one lease per election (the contract); a second one goes alone. */
function splitByElection(gathered: readonly PendingRenewal[]): {
  batched: PendingRenewal[];
  alone: PendingRenewal[];
} {
  const seen = new Set<string>();
  const batched: PendingRenewal[] = [];
  const alone: PendingRenewal[] = [];
  for (const entry of gathered) {
    if (seen.has(entry.lease.election)) alone.push(entry);
    else {
      seen.add(entry.lease.election);
      batched.push(entry);
    }
  }
  return { batched, alone };
}

function checkPositive(field: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new LeaseholdConfigError(field, value, 'a number of milliseconds greater than 0');
  }
  return value;
}
