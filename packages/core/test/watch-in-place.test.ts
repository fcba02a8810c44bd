import { Elector, SharedHeartbeat } from '@leasehold/core';
import { ManualClock, MemoryBackend, seededRandom } from '@leasehold/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { stopOnClock } from './harness.js';

/**
 * Listen, then look. An elector's first claim goes out while its watch is still being set
 * up (a PostgreSQL LISTEN on a connection of its own), and a release between the two is
 * heard by nobody. A follower on a shared heartbeat reads on its grid, a renew interval
 * apart: it learned of that release only then, and a resigner, back after its hold-off (2
 * retry intervals), had long taken its election back (elections-process.test on
 * PostgreSQL, 1 of 15 runs under load). Once the watch is in place, the elector looks.
 */
const TTL_MS = 30_000;
const RETRY_MS = 200;
const RENEW_MS = 10_000;

describe('a follower whose watch is in place only after its first claim', () => {
  const electors: Elector[] = [];
  const clock = new ManualClock(1_000_000);
  afterEach(() => stopOnClock(clock, electors.splice(0)));

  it('claims a lease released meanwhile once the watch is in place', async () => {
    const backend = new MemoryBackend({ clock });
    const common = { election: 'jobs', ttlMs: TTL_MS, retryIntervalMs: RETRY_MS, clock };
    const a = new Elector({ ...common, store: backend.connect(), id: 'a' });
    electors.push(a);
    a.start();
    await clock.advanceUntil(() => a.isLeader(), 10_000);

    const bStore = backend.connect();
    const watch = bStore.watch.bind(bStore);
    let openWatch = (): void => {};
    const watchOpened = new Promise<void>((resolve) => (openWatch = resolve));
    bStore.watch = async (election, onChange, signal) => {
      await watchOpened;
      return watch(election, onChange, signal);
    };
    const heartbeat = new SharedHeartbeat({ store: bStore, periodMs: RENEW_MS, clock });
    const b = new Elector({
      ...common,
      store: bStore,
      id: 'b',
      renewIntervalMs: RENEW_MS,
      random: seededRandom(7),
      sharedHeartbeat: heartbeat,
    });
    electors.push(b);
    b.start();
    await clock.advanceUntil(() => b.status().leader?.id === 'a', 10_000);

    // a resigns before b's watch is in place: nobody hears the release.
    expect(await a.resign()).toBe(true);
    openWatch();
    await clock.advanceUntil(() => b.isLeader() || a.isLeader(), 5 * RETRY_MS);
    expect(b.isLeader()).toBe(true);
  });
});
