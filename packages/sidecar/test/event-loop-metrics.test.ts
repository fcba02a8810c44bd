import { createStore } from '@leasehold/adapters';
import { Elector, type LeaseStore } from '@leasehold/core';
import { createMetrics } from '@leasehold/sidecar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The event-loop lag gauges report the loop's lag, not the sampling interval of the monitor
 * behind them (which an idle loop's samples otherwise equal: 0.1 s at 100 ms).
 */
let store: LeaseStore;
let elector: Elector;
beforeAll(async () => {
  store = await createStore('redis://127.0.0.1:6379', { namespace: 'leasehold' });
  elector = new Elector({ store, election: 'event-loop-metrics', id: 'm1' });
});
afterAll(() => store.close());

function gauge(text: string, name: string): number {
  const line = new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text);
  if (line?.[1] === undefined) throw new Error(`no ${name} in the metrics`);
  return Number(line[1]);
}

/** A measuring window: the monitor samples on its own timer meanwhile. */
const during = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('event-loop lag metrics', () => {
  it('read about 0 on an idle loop, and the length of a stall', async () => {
    const metrics = createMetrics(elector);
    await metrics.render(); // starts a window
    await during(1_000);
    const idle = await metrics.render();
    expect(gauge(idle, 'nodejs_eventloop_lag_min_seconds')).toBeLessThan(0.05);
    expect(gauge(idle, 'nodejs_eventloop_lag_p50_seconds')).toBeLessThan(0.1);

    await during(200);
    const stalledAt = performance.now();
    while (performance.now() - stalledAt < 300) {
      // the loop is blocked for 300 ms
    }
    await during(200);
    const stalled = await metrics.render();
    // A sample is late by the stall less the part of its interval (100 ms) already gone when
    // the stall began: at least 0.2 s of a 0.3 s stall.
    expect(gauge(stalled, 'nodejs_eventloop_lag_max_seconds')).toBeGreaterThanOrEqual(0.2);
  });
});
