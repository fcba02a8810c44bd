import { setTimerAt, type Clock, type TimerHandle } from './clock.js';
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
  /**
   * Whether anyone hears `request` now; when not, its event is not made (a sidecar counts
   * its requests in its store wrapper, and 1,000 elections end ~1,000 calls a second).
   */
  readonly hearsRequests?: () => boolean;
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
  private healthy = true;
  private lastOkAt: number | null = null;
  private error: StoreHealth['error'] = null;
  /** `health` as last read: a new object only when it changed since (not every call). */
  private shown: StoreHealth = { healthy: true, lastOkAt: null, error: null };
  private readonly timeouts: CallTimeouts;

  constructor(
    private readonly clock: Clock,
    private readonly defaultTimeoutMs: number,
    private readonly listeners: StoreCallListeners,
    /** Shared by the electors of one heartbeat (SharedHeartbeat.callTimeouts); else its own. */
    timeouts?: CallTimeouts,
  ) {
    this.timeouts = timeouts ?? new CallTimeouts(clock);
  }

  get health(): StoreHealth {
    const shown = this.shown;
    if (
      shown.healthy !== this.healthy ||
      shown.lastOkAt !== this.lastOkAt ||
      shown.error !== this.error
    ) {
      this.shown = { healthy: this.healthy, lastOkAt: this.lastOkAt, error: this.error };
    }
    return this.shown;
  }

  /**
   * One store round trip with a timeout, health reporting and a metrics event. A call we
   * stop waiting for may still complete; `onLate` sees its answer.
   */
  call<T>(op: StoreOperation, work: () => Promise<T>, options: StoreCallOptions<T> = {}) {
    return new Promise<T>((resolve, reject) => {
      const call = new PendingCall<T>(this, op, this.clock.now(), resolve, reject, options.onLate);
      this.timeouts.add(call, options.timeoutMs ?? this.defaultTimeoutMs);
      started(work).then(
        (value) => call.answered(value),
        (error: unknown) => call.failed(error),
      );
    });
  }

  /** A call ended (answered, failed, timed out): its metrics event and the store's health. */
  ended(call: PendingCall<never>, error: unknown): void {
    this.timeouts.delete(call);
    if (this.listeners.hearsRequests?.() !== false) {
      this.listeners.request({ op: call.op, durationMs: this.clock.now() - call.startedAt, error });
    }
    this.report(error);
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
      const wasHealthy = this.healthy;
      this.healthy = true;
      this.lastOkAt = Date.now();
      this.error = null;
      if (!wasHealthy) this.listeners.health(this.health);
      return;
    }
    const described = describeError(error);
    const previous = this.error;
    this.healthy = false;
    this.error = described;
    if (previous === null || previous.code !== described.code) {
      this.listeners.health(this.health);
    }
  }
}

/**
 * One call in flight: one object with its methods on the prototype. A sidecar of 1,000
 * elections makes about a thousand calls a second at idle; each used to carry four
 * closures, their context and a timer of its own (docs/design.md §3.8).
 */
class PendingCall<T> {
  settled = false;
  /** Its time-out, and the millisecond bucket it waits in (CallTimeouts). */
  timeoutMs = 0;
  dueMs = 0;

  constructor(
    private readonly owner: StoreCalls,
    readonly op: StoreOperation,
    readonly startedAt: number,
    private readonly resolve: (value: T) => void,
    private readonly reject: (error: unknown) => void,
    private readonly onLate: ((late: T) => void) | undefined,
  ) {}

  answered(value: T): void {
    if (this.settled) return this.onLate?.(value);
    this.end(null);
    this.resolve(value);
  }

  failed(error: unknown): void {
    if (this.settled) return;
    this.end(error);
    this.reject(error);
  }

  timedOut(): void {
    if (this.settled) return;
    const error = new StoreTimeoutError(this.op, this.timeoutMs);
    this.end(error);
    this.reject(error);
  }

  private end(error: unknown): void {
    this.settled = true;
    this.owner.ended(this as PendingCall<never>, error);
  }
}

/**
 * The time-outs of calls, by the millisecond they fall due (rounded up: a call is never
 * given up before its time-out): one timer per millisecond rather than one per call. One
 * set serves every elector of a shared heartbeat (made with it, once, at start-up): the
 * calls of one tick start within a few ms of each other, so a thousand renewals and member
 * records share a handful of timers. A time-out only bounds how long an elector waits for
 * an answer; leadership ends by its own deadline timer (elector.ts), whatever the calls
 * do, so sharing these timers changes nothing about safety.
 */
export class CallTimeouts {
  private readonly byMs = new Map<number, Set<PendingCall<never>>>();
  private readonly timers = new Map<number, TimerHandle>();

  constructor(private readonly clock: Clock) {}

  add(call: PendingCall<never>, timeoutMs: number): void {
    const dueMs = Math.ceil(call.startedAt + timeoutMs);
    call.dueMs = dueMs;
    call.timeoutMs = timeoutMs;
    let calls = this.byMs.get(dueMs);
    if (calls === undefined) {
      calls = new Set();
      this.byMs.set(dueMs, calls);
      const due = calls;
      const timer = setTimerAt(this.clock, dueMs, () => this.fire(dueMs, due));
      this.timers.set(dueMs, timer);
    }
    calls.add(call);
  }

  delete(call: PendingCall<never>): void {
    const calls = this.byMs.get(call.dueMs);
    if (calls === undefined || !calls.delete(call) || calls.size > 0) return;
    this.byMs.delete(call.dueMs);
    this.timers.get(call.dueMs)?.cancel();
    this.timers.delete(call.dueMs);
  }

  /** Time them all out; one whose listener throws does not spare the others (rethrown). */
  private fire(dueMs: number, calls: Set<PendingCall<never>>): void {
    if (this.byMs.get(dueMs) === calls) {
      this.byMs.delete(dueMs);
      this.timers.delete(dueMs);
    }
    let failure: { readonly error: unknown } | null = null;
    for (const call of [...calls]) {
      try {
        call.timedOut();
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure !== null) throw failure.error;
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
