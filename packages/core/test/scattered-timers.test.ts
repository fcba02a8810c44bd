import { Elector, SharedHeartbeat, type Clock, type TimerHandle } from '@leasehold/core';
import { ManualClock, MemoryBackend, seededRandom } from '@leasehold/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { recordStoreCalls, stopOnClock, type StoreCall } from './harness.js';

/**
 * The heartbeat owns the ticks (docs/design.md §3.8, "One timer per tick"): on a loaded
 * machine every timer fires late, each by its own amount, and when 1,000 electors each
 * waited for a tick with a timer of their own, their renewals (and member records, and
 * reads) reached the heartbeat spread over more than its gathering window: a tick became
 * two or three requests (bench: Redis 1.4-1.6 per renew interval). Now the tick's one timer
 * wakes every elector waiting for it in one macrotask, so however late that timer fires,
 * the whole tick is handed over before the window can close: ONE beat per tick.
 */

const TTL_MS = 3_000;
const RENEW_MS = 1_000;
const ELECTIONS = 1_000;
/** How late a timer may fire: a loop at a load of 20 ran 1,000 timers over ~100 ms. */
const MAX_LATE_MS = 120;
/** How far each reading of the clock is past the one before. */
const CREEP_MS = 0.002;

/**
 * The test's manual clock, but every timer fires up to MAX_LATE_MS late, each its own, and
 * time passes while code runs: each reading is CREEP_MS after the one before (a wait
 * computed as `tick - now` and handed on after another reading lands just past the tick).
 */
class ScatteredClock implements Clock {
  private readonly random = seededRandom(27);
  private creep = 0;

  constructor(readonly manual: ManualClock) {}

  now(): number {
    this.creep += CREEP_MS;
    return this.manual.now() + this.creep;
  }

  setTimer(delayMs: number, callback: () => void): TimerHandle {
    return this.manual.setTimer(delayMs + this.random() * MAX_LATE_MS, callback);
  }
}

interface Sidecar {
  readonly electors: Elector[];
  readonly requests: StoreCall[];
  readonly heartbeatStartedAt: number;
}

function sidecar(backend: MemoryBackend, clock: ScatteredClock, id: string): Sidecar {
  const store = backend.connect();
  const requests = recordStoreCalls(store, clock);
  const heartbeatStartedAt = clock.now();
  const heartbeat = new SharedHeartbeat({ store, periodMs: RENEW_MS, clock });
  const electors = Array.from(
    { length: ELECTIONS },
    (_, i) =>
      new Elector({
        store,
        election: `tick27-e${i}`,
        id,
        ttlMs: TTL_MS,
        renewIntervalMs: RENEW_MS,
        clock,
        random: seededRandom(i + 1),
        sharedHeartbeat: heartbeat,
      }),
  );
  return { electors, requests, heartbeatStartedAt };
}

/** How many requests the sidecar sent in each renew interval [tick, next tick) from `from`. */
function requestsPerTick(s: Sidecar, from: number, ticks: number): number[] {
  const first =
    s.heartbeatStartedAt + Math.ceil((from - s.heartbeatStartedAt) / RENEW_MS) * RENEW_MS;
  return Array.from({ length: ticks }, (_, k) => {
    const start = first + k * RENEW_MS;
    return s.requests.filter((r) => r.at >= start && r.at < start + RENEW_MS).length;
  });
}

let manual: ManualClock;
let running: Sidecar[] = [];

afterEach(async () => {
  await stopOnClock(
    manual,
    running.flatMap((s) => s.electors),
  );
  running = [];
});

describe('one timer per tick', () => {
  it('1,000 electors whose timers fire at scattered times still send exactly one beat per tick, leader and follower', async () => {
    manual = new ManualClock(1_000_000);
    const clock = new ScatteredClock(manual);
    const backend = new MemoryBackend({ clock: manual });
    const leader = sidecar(backend, clock, 'a');
    // The follower's heartbeat starts half a period later: its ticks are its own.
    await manual.advance(RENEW_MS / 2);
    const follower = sidecar(backend, clock, 'b');
    running = [leader, follower];
    for (const elector of leader.electors) elector.start();
    await manual.advanceUntil(() => leader.electors.every((e) => e.isLeader()), 10_000);
    for (const elector of follower.electors) elector.start();
    await manual.advanceUntil(
      () => follower.electors.every((e) => e.status().leader?.id === 'a'),
      10_000,
    );
    // Past the first claims and member lists, onto the grid.
    await manual.advance(3 * RENEW_MS);
    const from = manual.now();
    const ticks = 8;
    await manual.advance((ticks + 1) * RENEW_MS);
    for (const s of [leader, follower]) {
      const ops = [...new Set(s.requests.filter((r) => r.at >= from).map((r) => r.op))];
      expect({ ops, perTick: requestsPerTick(s, from, ticks) }).toEqual({
        ops: ['batch.beat'],
        perTick: Array.from({ length: ticks }, () => 1),
      });
    }
    expect(leader.electors.every((e) => e.isLeader())).toBe(true);
    expect(follower.electors.every((e) => e.status().leader?.id === 'a')).toBe(true);
  }, 300_000);
});
