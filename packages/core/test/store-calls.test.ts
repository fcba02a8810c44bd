import { StoreTimeoutError } from '@leasehold/core';
import { ManualClock } from '@leasehold/core/testing';
import { describe, expect, it } from 'vitest';
import { StoreCalls, type StoreRequestEvent } from '../src/store-calls.js';
import { settledState as outcome } from './harness.js';

/** A store answer the test settles by hand. */
function deferred<T>() {
  let resolve: (value: T) => void = () => {};
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function callsOn(clock: ManualClock, events: StoreRequestEvent[] = []) {
  return new StoreCalls(clock, 1_000, { request: (e) => events.push(e), health: () => {} });
}

describe('StoreCalls time-outs (shared per millisecond)', () => {
  it('times out each call at its own time-out, never before, and not an answered one', async () => {
    const clock = new ManualClock(0.25);
    const events: StoreRequestEvent[] = [];
    const a = callsOn(clock, events);
    const b = callsOn(clock, events); // another elector on the same clock
    const answered = deferred<string>();
    const first = outcome(a.call('renew', () => answered.promise));
    const second = outcome(b.call('member', () => new Promise<string>(() => {})));
    const longer = outcome(
      b.call('read', () => new Promise<string>(() => {}), { timeoutMs: 1_500 }),
    );
    answered.resolve('ok');
    await clock.advance(999);
    expect(first).toMatchObject({ settled: true, value: 'ok' });
    expect(second.settled).toBe(false);
    await clock.advance(1);
    // 1,000.25 rounds up to 1,001: a call is given up at or after its time-out, never before.
    expect(second.settled).toBe(false);
    await clock.advance(1);
    expect(second.error).toBeInstanceOf(StoreTimeoutError);
    expect((second.error as Error).message).toContain('1000');
    expect(longer.settled).toBe(false);
    await clock.advance(500);
    expect(longer.error).toBeInstanceOf(StoreTimeoutError);
    expect(events.map((e) => [e.op, e.error === null])).toEqual([
      ['renew', true],
      ['member', false],
      ['read', false],
    ]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('hands a late answer to onLate, and leaves no timer once every call is answered', async () => {
    const clock = new ManualClock();
    const calls = callsOn(clock);
    const late = deferred<number>();
    const seenLate: number[] = [];
    const slow = outcome(
      calls.call('renew', () => late.promise, { onLate: (v) => seenLate.push(v) }),
    );
    await clock.advance(1_000);
    expect(slow.error).toBeInstanceOf(StoreTimeoutError);
    late.resolve(7);
    await clock.advance(0);
    expect(seenLate).toEqual([7]);
    const quick = Array.from({ length: 50 }, (_, i) => calls.call('member', async () => i));
    expect(await Promise.all(quick)).toHaveLength(50);
    expect(clock.pendingTimers).toBe(0);
    expect(calls.health).toMatchObject({ healthy: true });
  });
});
