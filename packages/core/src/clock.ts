/**
 * Time as the elector sees it. `now()` must be monotonic: leadership deadlines are computed
 * from it, and a wall clock that steps backwards (NTP, a VM resumed from a snapshot) would
 * stretch a deadline past the store's expiry.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale; only differences are meaningful. */
  now(): number;
  /** Run `callback` once after `delayMs`. */
  setTimer(delayMs: number, callback: () => void): TimerHandle;
}

export interface TimerHandle {
  cancel(): void;
}

/** The process's monotonic clock (`performance.now()`) and Node's timers. */
export class SystemClock implements Clock {
  now(): number {
    return performance.now();
  }

  setTimer(delayMs: number, callback: () => void): TimerHandle {
    return new SystemTimer(setTimeout(callback, Math.max(0, delayMs)));
  }
}

/**
 * A Node timer as a TimerHandle: one object, its method on the prototype. An elector arms
 * several timers per renewal (its pause, the store call's timeout, the deadline, the member
 * heartbeat), a sidecar of 1,000 elections thousands per renew interval; a closure and its
 * context each were garbage for the young generation to hold and sweep.
 */
class SystemTimer implements TimerHandle {
  constructor(private readonly timer: NodeJS.Timeout) {}

  cancel(): void {
    clearTimeout(this.timer);
  }
}

export const systemClock: Clock = new SystemClock();

/**
 * Run `callback` once `clock.now()` has reached `dueAt`. Node's timers run on a coarser
 * loop clock and may fire a fraction of a millisecond before `performance.now()` gets
 * there; a deadline callback that fired early and gave up would never run again.
 */
export function setTimerAt(clock: Clock, dueAt: number, callback: () => void): TimerHandle {
  let current: TimerHandle;
  const arm = (): void => {
    current = clock.setTimer(Math.max(0, dueAt - clock.now()), () => {
      if (clock.now() >= dueAt) callback();
      else arm();
    });
  };
  arm();
  return { cancel: () => current.cancel() };
}

/**
 * Wait for `work` to settle, but no longer than `ms`; never rejects. For the waits that may
 * be cut short (an elector's loop at stop, a heartbeat still in the store, a first
 * connection, QUIT or Terminate on a stalled server, a store's close at shutdown): the work
 * goes on or is torn down by its caller, only the waiting stops. The timer keeps the process
 * up until then, so the code after the wait runs (for at most `ms`).
 */
export function waitAtMost(
  work: Promise<unknown>,
  ms: number,
  clock: Clock = systemClock,
): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = clock.setTimer(ms, resolve);
    const done = (): void => {
      timer.cancel();
      resolve();
    };
    work.then(done, done);
  });
}
