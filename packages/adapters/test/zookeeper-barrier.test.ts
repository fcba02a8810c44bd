import { until } from '@leasehold/testkit';
import { describe, expect, it } from 'vitest';
import { LeaderBarrier } from '../src/zookeeper/barrier.js';

/**
 * The member lists' ordering barrier (zookeeper/barrier.ts, docs/design.md §3.8): a waiter is
 * let go only by the answer to a leader-ordered request sent after it asked, its own or the
 * renewals' multi it rides on.
 */

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve = (): void => {};
  let reject = (_: Error): void => {};
  const promise = new Promise<void>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
}

/** Whether `promise` has settled by now (after the microtasks and one turn of the loop). */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise<void>((resolve) => setImmediate(resolve));
  return done;
}

describe('LeaderBarrier', () => {
  it('lets every waiter of one gathering go on one round trip of its own', async () => {
    const trips: ReturnType<typeof deferred>[] = [];
    const barrier = new LeaderBarrier(() => {
      trips.push(deferred());
      return trips.at(-1)?.promise ?? Promise.resolve();
    }, 10);
    const waits = [barrier.wait(), barrier.wait(), barrier.wait()];
    expect(trips).toHaveLength(0);
    await until('the gathering to end', 5_000, () => trips.length === 1);
    expect(await settled(Promise.race(waits))).toBe(false);
    trips[0]?.resolve();
    await Promise.all(waits);
    expect(trips).toHaveLength(1);
  });

  it('rides on a request sent after the wait, even one handed over just before it', async () => {
    let ownTrips = 0;
    // A gathering long enough that a loaded machine cannot end it first.
    const barrier = new LeaderBarrier(() => {
      ownTrips += 1;
      return Promise.resolve();
    }, 60_000);
    const renewals = deferred();
    const before = barrier.wait();
    const sent = barrier.ride(() => renewals.promise);
    // Handed over in the same turn, after the renewals: it rides too.
    const after = barrier.wait();
    expect(await settled(before)).toBe(false);
    expect(await settled(after)).toBe(false);
    renewals.resolve();
    await Promise.all([sent, before, after]);
    expect(ownTrips).toBe(0);
  });

  it('does not let a wait ride on a request already sent', async () => {
    const own = deferred();
    let ownTrips = 0;
    const barrier = new LeaderBarrier(() => {
      ownTrips += 1;
      return own.promise;
    }, 10);
    const renewals = deferred();
    const sent = barrier.ride(() => renewals.promise);
    await new Promise<void>((resolve) => setImmediate(resolve));
    const late = barrier.wait();
    renewals.resolve();
    await sent;
    expect(await settled(late)).toBe(false);
    await until('its own round trip', 5_000, () => ownTrips === 1);
    own.resolve();
    await late;
  });

  it('sends its own round trip when the request it rode on got no answer, and fails with it', async () => {
    let ownTrips = 0;
    const barrier = new LeaderBarrier(() => {
      ownTrips += 1;
      return Promise.reject(new Error('no connection'));
    }, 10);
    const waiting = barrier.wait();
    const sent = barrier.ride(() => Promise.reject(new Error('timed out')));
    await expect(sent).rejects.toThrow('timed out');
    await expect(waiting).rejects.toThrow('no connection');
    expect(ownTrips).toBe(1);
  });
});
