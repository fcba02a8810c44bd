import type { LeaseStore } from '@leasehold/core';
import { until } from '@leasehold/testkit';

/**
 * Six candidates c0…c5 on stores of their own watch one election that c0 holds; c4 and c5
 * rank first (priority), then the others by start time. c0 releases; then `flush` sends a
 * wake-up without names, which wakes everyone and, as each store delivers its messages in
 * order, arrives after the release's. Resolves to each candidate's wake-ups: the first in
 * line (c4, c5) twice, everyone else once, when a release wakes only the first in line.
 */
export async function wakeUpsOfOneRelease(
  stores: readonly LeaseStore[],
  flush: () => Promise<void>,
): Promise<Record<string, number>> {
  const ids = stores.map((_, i) => `c${i}`);
  const controller = new AbortController();
  const wakes = new Map(ids.map((id) => [id, 0]));
  try {
    const leader = stores[0];
    if (leader === undefined) throw new Error('no store');
    const held = await leader.tryAcquire({
      election: 'jobs',
      holder: 'c0',
      token: 't0',
      ttlMs: 60_000,
    });
    if (!held.acquired) throw new Error('c0 should acquire');
    await Promise.all(
      ids.map(async (id, i) => {
        const record = {
          id,
          priority: i >= 4 ? 1 : 0,
          startedAt: 1000 + i,
          heartbeatAt: 0,
          isLeader: i === 0,
          metadata: {},
        };
        await stores[i]?.members?.put('jobs', record, 60_000);
        const woke = () => wakes.set(id, (wakes.get(id) ?? 0) + 1);
        await stores[i]?.watch?.('jobs', woke, controller.signal, id);
      }),
    );
    await leader.release(held.lease);
    await flush();
    await until('every wake', 5_000, () => ids.every((id) => (wakes.get(id) ?? 0) >= 1));
    await until('c4, c5', 5_000, () => (wakes.get('c5') ?? 0) + (wakes.get('c4') ?? 0) === 4);
    return Object.fromEntries(wakes);
  } finally {
    controller.abort();
  }
}
