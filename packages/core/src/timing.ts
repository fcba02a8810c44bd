import { LeaseholdTimingError } from './errors.js';

/** The elector's timing, every field resolved. See docs/design.md §3 for the rules. */
export interface ElectionTiming {
  /** Lease time to live asked of the store. */
  readonly ttlMs: number;
  /** How often the holder renews. */
  readonly renewIntervalMs: number;
  /** How often a follower tries when it has no better hint (jittered ±20 %). */
  readonly retryIntervalMs: number;
  /** Largest rate difference assumed between our clock and the store's. */
  readonly maxClockDriftRatio: number;
  /** Subtracted from every deadline to absorb timer and store clock granularity. */
  readonly safetyMarginMs: number;
}

export type ElectionTimingOptions = Partial<ElectionTiming>;

export const TIMING_DEFAULTS = {
  ttlMs: 10_000,
  retryIntervalMs: 1_000,
  maxClockDriftRatio: 0.01,
  safetyMarginMs: 20,
} as const;

export const MIN_TTL_MS = 1_000;
export const MAX_TTL_MS = 24 * 60 * 60 * 1_000;

/**
 * Fill in defaults and check the rules, naming the one that broke. Done once, up front, so
 * that a bad combination fails at start-up rather than as a flapping leader.
 */
export function resolveTiming(options: ElectionTimingOptions = {}): ElectionTiming {
  const ttlMs = options.ttlMs ?? TIMING_DEFAULTS.ttlMs;
  requireInteger('ttlMs', ttlMs);
  if (ttlMs < MIN_TTL_MS || ttlMs > MAX_TTL_MS) {
    throw new LeaseholdTimingError(
      'ttlMs',
      ttlMs,
      `must be between ${MIN_TTL_MS} ms and ${MAX_TTL_MS} ms (24 h)`,
    );
  }

  const renewIntervalMs = options.renewIntervalMs ?? Math.floor(ttlMs / 3);
  requireInteger('renewIntervalMs', renewIntervalMs);
  if (renewIntervalMs < 10 || renewIntervalMs >= ttlMs / 2) {
    throw new LeaseholdTimingError(
      'renewIntervalMs',
      renewIntervalMs,
      `must be at least 10 ms and less than ttlMs / 2 (${ttlMs / 2} ms), so that a failed renew can be retried before the lease runs out`,
    );
  }

  const retryIntervalMs = options.retryIntervalMs ?? TIMING_DEFAULTS.retryIntervalMs;
  requireInteger('retryIntervalMs', retryIntervalMs);
  if (retryIntervalMs < 10 || retryIntervalMs > ttlMs) {
    throw new LeaseholdTimingError(
      'retryIntervalMs',
      retryIntervalMs,
      `must be at least 10 ms and at most ttlMs (${ttlMs} ms), so that a dead leader is replaced within about one lease`,
    );
  }

  const maxClockDriftRatio = options.maxClockDriftRatio ?? TIMING_DEFAULTS.maxClockDriftRatio;
  if (!Number.isFinite(maxClockDriftRatio) || maxClockDriftRatio < 0 || maxClockDriftRatio > 0.1) {
    throw new LeaseholdTimingError(
      'maxClockDriftRatio',
      maxClockDriftRatio,
      'must be a number from 0 to 0.1',
    );
  }

  const safetyMarginMs = options.safetyMarginMs ?? TIMING_DEFAULTS.safetyMarginMs;
  requireInteger('safetyMarginMs', safetyMarginMs);
  if (safetyMarginMs < 0) {
    throw new LeaseholdTimingError('safetyMarginMs', safetyMarginMs, 'must be 0 or more');
  }

  const timing = { ttlMs, renewIntervalMs, retryIntervalMs, maxClockDriftRatio, safetyMarginMs };
  const validityMs = leaseValidityMs(timing, ttlMs);
  if (validityMs <= renewIntervalMs) {
    throw new LeaseholdTimingError(
      'safetyMarginMs',
      safetyMarginMs,
      `leaves a lease valid for only ${validityMs} ms after drift and margin, which must exceed renewIntervalMs (${renewIntervalMs} ms)`,
    );
  }
  return timing;
}

/**
 * How long a lease granted for `grantedTtlMs` may be treated as ours, counted from when the
 * request was sent. The store starts its TTL no earlier than it receives the request, so this
 * ends before the store's expiry even if our clock runs slow by the full drift ratio.
 */
export function leaseValidityMs(timing: ElectionTiming, grantedTtlMs: number): number {
  return Math.floor(grantedTtlMs * (1 - timing.maxClockDriftRatio)) - timing.safetyMarginMs;
}

/**
 * How long the elector waits for one store call before it gives up on it: one renew
 * interval, so that a holder whose renewal hangs still has time to retry before its
 * deadline. Adapters are given the same bound for their own request timeouts.
 */
export function storeCallTimeoutMs(timing: ElectionTiming): number {
  return timing.renewIntervalMs;
}

/**
 * How long to hold off reporting leadership for a store-imposed wait of `waitMs`, counted
 * from when the answer arrived. Rounded up and padded in the opposite direction to
 * `leaseValidityMs`: here a slow clock would end the wait too early.
 */
/**
 * The longest the store can keep a lease it granted for `grantedTtlMs`, counted from when the
 * grant or renewal was answered, its clock running slow by up to the drift ratio.
 */
export function storeTtlBoundMs(timing: ElectionTiming, grantedTtlMs: number): number {
  return Math.ceil(grantedTtlMs * (1 + timing.maxClockDriftRatio));
}

export function holdOffMs(timing: ElectionTiming, waitMs: number): number {
  if (waitMs <= 0) return 0;
  return Math.ceil(waitMs * (1 + timing.maxClockDriftRatio)) + timing.safetyMarginMs;
}

function requireInteger(field: keyof ElectionTiming, value: number): void {
  if (!Number.isSafeInteger(value)) {
    throw new LeaseholdTimingError(field, value, 'must be a whole number of milliseconds');
  }
}

/**
 * Capped exponential backoff with "equal jitter": each delay is between half and all of the
 * current step, so candidates that failed together do not retry together.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly random: () => number,
  ) {}

  next(): number {
    const step = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    return Math.round(step / 2 + (this.random() * step) / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}
