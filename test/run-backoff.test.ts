import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { SIDECAR_BIN as BIN, until } from '@leasehold/testkit';
import { runCandidatesPerTest } from './support/run-candidates.js';

/**
 * A command that fails at once is not restarted every ~2 s for ever (issue 24): each
 * restart waits twice as long as the one before (1 s, 2 s, 4 s, … up to 60 s), is logged
 * with its count and wait, counted in /metrics and shown by GET /v1/command (the status
 * page) and `leasehold status`.
 */

const perTest = runCandidatesPerTest('backoff');

interface LogLine {
  readonly time: number;
  readonly event?: string;
  readonly restarts?: number;
  readonly waitMs?: number;
  readonly url?: string;
}

it('backs off a command that keeps failing: 1 s, 2 s, 4 s', { timeout: 60_000 }, async () => {
  const candidates = perTest.candidates({
    store: `sqlite://${join(perTest.dir, 'leases.db')}`,
    job: ['/bin/false'],
    // Two retry intervals (the old wait after a resignation) are far below the backoff.
    args: ['--ttl', '10s', '--retry-interval', '200ms'],
  });
  const candidate = await candidates.start('c1');
  const log = (): LogLine[] =>
    candidate.lines
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine);
  const backoffs = await until('three restarts', 40_000, () => {
    const found = log().filter((line) => line.event === 'command-backoff');
    return found.length >= 3 && log().filter((l) => l.event === 'command-started').length >= 4
      ? found.slice(0, 3)
      : undefined;
  });
  expect(backoffs.map((line) => [line.restarts, line.waitMs])).toEqual([
    [1, 1_000],
    [2, 2_000],
    [3, 4_000],
  ]);
  // Each start after a restart comes no sooner than the wait logged for it.
  const starts = log().filter((line) => line.event === 'command-started');
  backoffs.forEach((backoff, i) => {
    const next = starts[i + 1];
    expect(next, `start after restart ${i + 1}`).toBeDefined();
    expect((next?.time ?? 0) - backoff.time).toBeGreaterThanOrEqual(backoff.waitMs ?? Infinity);
  });
  const url = log().find((line) => line.url !== undefined)?.url ?? '';
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const restarts = /^leasehold_command_restarts_total\{[^}]*\} (\d+)$/m.exec(metrics)?.[1];
  expect(Number(restarts)).toBeGreaterThanOrEqual(3);
  expect(metrics).toMatch(/^leasehold_command_backoff_seconds\{[^}]*\} \d+/m);

  // The same for the status page and `leasehold status`.
  const command = (await (await fetch(`${url}/v1/command`)).json()) as {
    restarts: number;
    backoffMs: number;
  };
  expect(command.restarts).toBeGreaterThanOrEqual(3);
  const status = spawnSync(process.execPath, [BIN, 'status', '--url', url], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  expect(status.stdout).toMatch(/^command +.*ended by itself \d+ times$/m);
});
