import { StoreClosedError, StoreUnavailableError } from '@leasehold/core';
import { FreezableClock, MemoryBackend, seededRandom, ManualClock } from '@leasehold/core/testing';
import { describe, expect, it } from 'vitest';
import { settledState } from './harness.js';

// The simulations are only as good as their tools: these pin down what each fault means.

function setup() {
  const clock = new ManualClock();
  const backend = new MemoryBackend({ clock });
  return { clock, backend, store: backend.connect() };
}

const request = { election: 'jobs', holder: 'a', token: 't-a', ttlMs: 1_000 };

describe('ManualClock', () => {
  it('fires timers in due order, including ones set by callbacks, and then stops', async () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    clock.setTimer(30, () => fired.push(`c@${clock.now()}`));
    clock.setTimer(10, () => {
      fired.push(`a@${clock.now()}`);
      clock.setTimer(5, () => fired.push(`b@${clock.now()}`));
    });
    const cancelled = clock.setTimer(20, () => fired.push('never'));
    cancelled.cancel();
    await clock.advance(25);
    expect(fired).toEqual(['a@10', 'b@15']);
    expect(clock.now()).toBe(25);
    await clock.advance(5);
    expect(fired).toEqual(['a@10', 'b@15', 'c@30']);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('FreezableClock', () => {
  it('holds a frozen process\u2019s timers and runs them in order on resume', async () => {
    const shared = new ManualClock(0);
    const process = new FreezableClock(shared);
    const fired: number[] = [];
    process.setTimer(10, () => fired.push(10));
    process.setTimer(20, () => fired.push(20));
    const cancelled = process.setTimer(15, () => fired.push(15));
    process.freeze();
    cancelled.cancel();
    await shared.advance(100);
    expect(fired).toEqual([]);
    expect(process.now()).toBe(100);
    process.resume();
    expect(fired).toEqual([10, 20]);
  });
});

describe('MemoryStore faults', () => {
  it('delays requests and answers on the store clock', async () => {
    const { clock, backend, store } = setup();
    store.faults.delay(100, 50);
    const acquiring = settledState(store.tryAcquire(request));
    await clock.advance(99);
    expect(backend.read('jobs')).toBeNull();
    await clock.advance(1);
    // Applied when the request arrives (100 ms), so the lease runs until 1100 ms.
    expect(backend.read('jobs')).toMatchObject({ holder: 'a', remainingMs: 1_000 });
    expect(acquiring.settled).toBe(false);
    await clock.advance(50);
    expect(acquiring.value).toMatchObject({ acquired: true });
    const reading = settledState(store.read('jobs'));
    await clock.advance(150);
    // Read sent at 150 ms, applied at 250 ms, answered at 300 ms.
    expect(reading.value).toMatchObject({ holder: 'a', remainingMs: 1_100 - 250 });
  });

  it('fails the next calls without reaching the store', async () => {
    const { clock, backend, store } = setup();
    store.faults.fail(2);
    await expect(store.tryAcquire(request)).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.tryAcquire(request)).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(backend.read('jobs')).toBeNull();
    await expect(store.tryAcquire(request)).resolves.toMatchObject({ acquired: true });
    await clock.advance(0);
  });

  it('drops a request before the store sees it, or an answer after it applied', async () => {
    const { clock, backend, store } = setup();
    store.faults.drop('request', 1);
    const lost = settledState(store.tryAcquire(request));
    await clock.advance(10_000);
    expect(lost.settled).toBe(false);
    expect(backend.read('jobs')).toBeNull();

    store.faults.drop('response', 1);
    const unanswered = settledState(store.tryAcquire(request));
    await clock.advance(10);
    expect(unanswered.settled).toBe(false);
    expect(backend.read('jobs')).toMatchObject({ holder: 'a' });

    await store.close();
    await clock.advance(0);
    expect(lost.error).toBeInstanceOf(StoreClosedError);
    expect(unanswered.error).toBeInstanceOf(StoreClosedError);
  });

  it('freezes both directions until thawed', async () => {
    const { clock, backend, store } = setup();
    store.faults.freeze();
    const acquiring = settledState(store.tryAcquire(request));
    await clock.advance(5_000);
    expect(acquiring.settled).toBe(false);
    expect(backend.read('jobs')).toBeNull();
    store.faults.thaw();
    await clock.advance(0);
    expect(acquiring.value).toMatchObject({ acquired: true });
  });

  it('wakes watchers on release and on expiry, until aborted', async () => {
    const { clock, backend, store } = setup();
    const controller = new AbortController();
    let changes = 0;
    await store.watch('jobs', () => (changes += 1), controller.signal);
    const result = await store.tryAcquire(request);
    await clock.advance(0);
    const afterAcquire = changes;
    expect(afterAcquire).toBeGreaterThanOrEqual(1);
    if (!result.acquired) throw new Error('expected to acquire');
    await store.release(result.lease);
    await clock.advance(0);
    expect(changes).toBe(afterAcquire + 1);
    await store.tryAcquire({ ...request, token: 't-2' });
    await clock.advance(1_000);
    expect(backend.read('jobs')).toBeNull();
    expect(changes).toBe(afterAcquire + 3);
    controller.abort();
    const again = await store.tryAcquire({ ...request, token: 't-3' });
    await clock.advance(0);
    expect(again.acquired).toBe(true);
    expect(changes).toBe(afterAcquire + 3);
  });
});

describe('seededRandom', () => {
  it('replays the same sequence from the same seed', () => {
    const [a, b, c] = [seededRandom(42), seededRandom(42), seededRandom(43)];
    const seqA = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(seqA);
    expect(Array.from({ length: 5 }, c)).not.toEqual(seqA);
    expect(seqA.every((x) => x >= 0 && x < 1)).toBe(true);
  });
});
