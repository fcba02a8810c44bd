import { Elector, SharedHeartbeat } from '@leasehold/core';
import { ManualClock, MemoryBackend, seededRandom } from '@leasehold/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { stopOnClock } from './harness.js';

/**
 * A resign on sidecars whose followers read on their heartbeat's grid (§3.8): a follower
 * that knows the election held reads it once a heartbeat period, not every retry interval.
 * When it misses the release's wake-up (a store without one here; a LISTEN not yet up or
 * lost on PostgreSQL), it reads the lock free only at its next tick. The resigner stood
 * back two retry intervals and took its election back long before that.
 */
const TTL_MS = 30_000;
const RETRY_MS = 200;
const RENEW_MS = 10_000;

describe('a resign where followers read on the grid and hear no wake-up', () => {
  const electors: Elector[] = [];
  const clock = new ManualClock(1_000_000);
  afterEach(() => stopOnClock(clock, electors.splice(0)));

  it('hands the election to the follower, whose next read finds it free', async () => {
    const backend = new MemoryBackend({ clock });
    const candidate = (id: string) => {
      // No watch: nobody is woken by the release.
      const store = Object.assign(backend.connect(), { watch: undefined });
      const sharedHeartbeat = new SharedHeartbeat({ store, periodMs: RENEW_MS, clock });
      const elector = new Elector({
        ...{ election: 'jobs', ttlMs: TTL_MS, retryIntervalMs: RETRY_MS, clock, id },
        ...{ store, renewIntervalMs: RENEW_MS, random: seededRandom(id.length), sharedHeartbeat },
      });
      electors.push(elector);
      elector.start();
      return { elector, sharedHeartbeat };
    };
    const { elector: a } = candidate('a');
    await clock.advanceUntil(() => a.isLeader(), 10_000);
    const { elector: b, sharedHeartbeat } = candidate('bb');
    await clock.advanceUntil(() => b.status().leader?.id === 'a', 10_000);
    // Just past one of b's ticks: its next read is a heartbeat period away.
    await clock.advance(sharedHeartbeat.readAt(clock.now() + RETRY_MS) - clock.now() + 100);

    expect(await a.resign()).toBe(true);
    await clock.advanceUntil(() => a.isLeader() || b.isLeader(), 2 * RENEW_MS);
    expect(b.isLeader()).toBe(true);
  });
});
