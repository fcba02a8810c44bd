import type { Clock } from './clock.js';
import { LeaseholdError, StoreTimeoutError } from './errors.js';

/**
 * Every round trip from the elector to its store goes through here: a timeout, the
 * store's health as the elector reports it, and an event per call for metrics. The
 * election logic (elector.ts) then only decides what a result or a failure means.
 */

export type StoreOperation = 'acquire' | 'renew' | 'release' | 'read' | 'member';

export interface StoreHealth {
  readonly healthy: boolean;
  /** Wall-clock ms of the last successful store call, or null before the first. */
  readonly lastOkAt: number | null;
  readonly error: { readonly code: string; readonly message: string } | null;
}

export interface StoreRequestEvent {
  readonly op: StoreOperation;
  readonly durationMs: number;
  readonly error: unknown;
}

export interface StoreCallListeners {
  /** Every call, when it ends (answered, failed or timed out). */
  readonly request: (event: StoreRequestEvent) => void;
  /** The store became healthy, or failed with a new error code. */
  readonly health: (health: StoreHealth) => void;
}

export interface StoreCallOptions<T> {
  /** Give up after this long (default: the caller's default timeout). */
  readonly timeoutMs?: number;
  /** Sees the answer of a call we had already given up on. */
  readonly onLate?: (late: T) => void;
}

export class StoreCalls {
  private current: StoreHealth = { healthy: true, lastOkAt: null, error: null };

  constructor(
    private readonly clock: Clock,
    private readonly defaultTimeoutMs: number,
    private readonly listeners: StoreCallListeners,
  ) {}

  get health(): StoreHealth {
    return this.current;
  }

  /**
   * One store round trip with a timeout, health reporting and a metrics event. A call we
   * stop waiting for may still complete; `onLate` sees its answer.
   */
  call<T>(op: StoreOperation, work: () => Promise<T>, options: StoreCallOptions<T> = {}) {
    const startedAt = this.clock.now();
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const finish = (error: unknown): void => {
        settled = true;
        timer.cancel();
        this.listeners.request({ op, durationMs: this.clock.now() - startedAt, error });
        this.report(error);
      };
      const timer = this.clock.setTimer(timeoutMs, () => {
        if (settled) return;
        const error = new StoreTimeoutError(op, timeoutMs);
        finish(error);
        reject(error);
      });
      started(work).then(
        (value) => {
          if (settled) return options.onLate?.(value);
          finish(null);
          resolve(value);
        },
        (error: unknown) => {
          if (settled) return;
          finish(error);
          reject(error);
        },
      );
    });
  }

  /**
   * Best-effort work (release, member removal): bounded in time and reported like any
   * call, its failure not thrown.
   */
  async quietly(op: StoreOperation, work: () => Promise<void>, timeoutMs: number): Promise<void> {
    try {
      await this.call(op, work, { timeoutMs });
    } catch {
      // Best effort by design.
    }
  }

  /** Record the outcome of a call (null: success) in the store's health. */
  report(error: unknown): void {
    if (error === null) {
      const wasHealthy = this.current.healthy;
      this.current = { healthy: true, lastOkAt: Date.now(), error: null };
      if (!wasHealthy) this.listeners.health(this.current);
      return;
    }
    const described = describeError(error);
    const previous = this.current.error;
    this.current = { healthy: false, lastOkAt: this.current.lastOkAt, error: described };
    if (previous === null || previous.code !== described.code) {
      this.listeners.health(this.current);
    }
  }
}

/** A store whose method throws synchronously fails like one that rejects. */
function started<T>(work: () => Promise<T>): Promise<T> {
  try {
    return work();
  } catch (error) {
    return Promise.reject(error);
  }
}

/** The code and message of a store failure, as health and answers report it. */
export function describeError(error: unknown): { code: string; message: string } {
  if (error instanceof LeaseholdError) return { code: error.code, message: error.message };
  const code =
    typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
      ? error.code
      : 'LEASEHOLD_E_STORE_UNAVAILABLE';
  return { code, message: error instanceof Error ? error.message : String(error) };
}
