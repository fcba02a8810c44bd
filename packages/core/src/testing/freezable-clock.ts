import type { Clock, TimerHandle } from '../clock.js';

/**
 * One process's view of a shared clock, which the test can freeze as SIGSTOP would: time
 * goes on, but none of the process's timers run until it is resumed, when every overdue
 * one runs at once in due order.
 */
export class FreezableClock implements Clock {
  private frozen = false;
  private held: { dueAt: number; seq: number; callback: () => void }[] = [];
  private seq = 0;

  constructor(private readonly shared: Clock) {}

  now(): number {
    return this.shared.now();
  }

  setTimer(delayMs: number, callback: () => void): TimerHandle {
    const dueAt = this.shared.now() + Math.max(0, delayMs);
    const seq = this.seq++;
    let cancelled = false;
    const entry = { dueAt, seq, callback: () => !cancelled && callback() };
    const inner = this.shared.setTimer(delayMs, () => {
      if (this.frozen) this.held.push(entry);
      else entry.callback();
    });
    return {
      cancel: () => {
        cancelled = true;
        inner.cancel();
      },
    };
  }

  get isFrozen(): boolean {
    return this.frozen;
  }

  freeze(): void {
    this.frozen = true;
  }

  resume(): void {
    this.frozen = false;
    const overdue = this.held.sort((a, b) => a.dueAt - b.dueAt || a.seq - b.seq);
    this.held = [];
    for (const entry of overdue) entry.callback();
  }
}
