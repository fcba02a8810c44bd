import type { Clock, TimerHandle } from '../clock.js';

interface ManualTimer {
  readonly id: number;
  readonly dueAt: number;
  readonly callback: () => void;
}

/**
 * A clock that moves only when a test says so. `advance()` fires due timers in time order and
 * lets promise callbacks settle after each one, so code awaiting store calls and timers makes
 * the same progress it would in real time.
 */
export class ManualClock implements Clock {
  private currentTime: number;
  private nextTimerId = 0;
  private timers: ManualTimer[] = [];

  constructor(startAt = 0) {
    this.currentTime = startAt;
  }

  now(): number {
    return this.currentTime;
  }

  setTimer(delayMs: number, callback: () => void): TimerHandle {
    const timer: ManualTimer = {
      id: this.nextTimerId++,
      dueAt: this.currentTime + Math.max(0, delayMs),
      callback,
    };
    this.timers.push(timer);
    return {
      cancel: () => {
        this.timers = this.timers.filter((t) => t !== timer);
      },
    };
  }

  /** Number of timers not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.timers.length;
  }

  /** When the earliest pending timer is due, or null when none is pending. */
  nextDueAt(): number | null {
    const next = this.earliest();
    return next === undefined ? null : next.dueAt;
  }

  /**
   * Move time forward by `ms`, firing every timer that falls due on the way (including
   * timers those callbacks set) at its own due time. `afterEach` runs after every timer
   * fires and its promise callbacks have settled: the place for invariant checks.
   */
  async advance(ms: number, afterEach?: (now: number) => void): Promise<void> {
    const target = this.currentTime + ms;
    await settle();
    for (;;) {
      const next = this.earliest();
      if (next === undefined || next.dueAt > target) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.currentTime = Math.max(this.currentTime, next.dueAt);
      next.callback();
      await settle();
      afterEach?.(this.currentTime);
    }
    this.currentTime = target;
    afterEach?.(this.currentTime);
  }

  /** Advance until `predicate` holds, checking after every timer; fails after `limitMs`. */
  async advanceUntil(predicate: () => boolean, limitMs: number): Promise<void> {
    const deadline = this.currentTime + limitMs;
    await settle();
    while (!predicate()) {
      const dueAt = this.nextDueAt();
      if (dueAt === null || dueAt > deadline) {
        throw new Error(`condition not met within ${limitMs} ms of manual time`);
      }
      await this.advance(Math.max(0, dueAt - this.currentTime));
    }
  }

  private earliest(): ManualTimer | undefined {
    let earliest: ManualTimer | undefined;
    for (const timer of this.timers) {
      if (
        earliest === undefined ||
        timer.dueAt < earliest.dueAt ||
        (timer.dueAt === earliest.dueAt && timer.id < earliest.id)
      ) {
        earliest = timer;
      }
    }
    return earliest;
  }
}

/**
 * Let every pending promise callback run. A macrotask turn runs only after the microtask
 * queue is empty, so one `setImmediate` flushes whole promise chains.
 */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
