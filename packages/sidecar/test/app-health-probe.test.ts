import { Elector } from '@leasehold/core';
import { createMemoryStore } from '@leasehold/core/testing';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '@leasehold/testkit';
import { AppHealthProbe } from '../src/app-health/probe.js';

/**
 * The probe's pace (src/app-health/probe.ts, docs/design.md §3.6): one check every interval
 * while the checks agree with the gate's verdict, half an interval while a streak is under
 * way, so the verdict comes after (failures − 1) half intervals instead of whole ones.
 * Timing bounds here are lower bounds (a loaded machine only makes gaps longer) except the
 * one that tells the two paces apart, which has a whole interval of slack.
 */
const INTERVAL_MS = 1_000;
const FAILURES = 3;

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

/** An app whose health endpoint answers `status()`, recording when each check came. */
interface App {
  readonly url: string;
  /** performance.now() of each check received. */
  readonly checks: number[];
  close(): Promise<void>;
}

async function app(status: () => number): Promise<App> {
  const checks: number[] = [];
  const server: Server = createServer((_request, response) => {
    checks.push(performance.now());
    response.writeHead(status()).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return { url: `http://127.0.0.1:${port}/health`, checks, close };
}

/** The time between each check and the next. */
const gaps = (times: readonly number[]): number[] =>
  times.slice(1).map((time, i) => time - (times[i] ?? time));

describe('the app-health probe', () => {
  it('checks every interval while healthy and every half interval to confirm a failure', async () => {
    let failing = false;
    const served = await app(() => (failing ? 500 : 200));
    const elector = new Elector({
      store: createMemoryStore(),
      election: 'probe-pace',
      id: 'p1',
      steering: { health: { failureThreshold: FAILURES } },
    });
    const probe = new AppHealthProbe({
      check: { kind: 'url', url: served.url },
      intervalMs: INTERVAL_MS,
      timeoutMs: INTERVAL_MS,
      elector,
      logger: pino({ level: 'silent' }),
    });
    cleanup = async () => {
      await probe.stop();
      await served.close();
    };
    const health = () => elector.status().steering.health;
    probe.start();
    await until('three healthy checks', 10_000, () => served.checks.length >= 3);
    expect(health()).toBe('healthy');
    for (const gap of gaps(served.checks.slice(0, 3))) {
      expect(gap).toBeGreaterThanOrEqual(INTERVAL_MS - 5);
    }

    failing = true;
    const before = served.checks.length;
    await until('unhealthy', 15_000, () => health() === 'unhealthy');
    const streak = served.checks.slice(before, before + FAILURES);
    expect(streak).toHaveLength(FAILURES);
    const streakGaps = gaps(streak);
    for (const gap of streakGaps) expect(gap).toBeGreaterThanOrEqual(INTERVAL_MS / 2 - 5);
    // Whole intervals would take at least (FAILURES − 1) × INTERVAL_MS from the first failed
    // check to the last; half intervals take about half that.
    const sum = streakGaps.reduce((a, b) => a + b, 0);
    expect(sum).toBeLessThan((FAILURES - 1) * INTERVAL_MS);

    // Settled unhealthy: whole intervals again.
    const settledFrom = served.checks.length;
    await until('two more checks', 10_000, () => served.checks.length >= settledFrom + 2);
    for (const gap of gaps(served.checks.slice(settledFrom - 1, settledFrom + 2))) {
      expect(gap).toBeGreaterThanOrEqual(INTERVAL_MS - 5);
    }
  });
});
