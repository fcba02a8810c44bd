// bench/churn.mjs in its --quick mode (three real sidecars on Redis, the leader resigning
// every 0.5 s for 6 s): the resigns go through and move the leadership, every number the
// RESULTS.md rows are made of is there, the section renders one row per sidecar with its
// verdict, and no sidecar is left running.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { leftRunning } from '@leasehold/testkit';
import { CHURN_RSS_RATIO, churnSection, mergeChurn } from '../bench/lib/churn-report.mjs';

interface ChurnSidecar {
  id: string;
  idleRssMb: number;
  midRssMb: number;
  peakRssMb: number;
  endRssMb: number;
  ratio: number;
  fdsIdle: number;
  fdsEnd: number;
}
interface ChurnRun {
  date: string;
  rows: { backend: string; sidecars: ChurnSidecar[]; resigned: number; failed: number }[];
}

const MARKER = `LH_CHURN_BENCH_TEST=${process.pid}`;

describe('bench/churn.mjs --quick', () => {
  it(
    'resigns the leader every half second and samples each sidecar under it',
    { timeout: 60_000 },
    async () => {
      const bench = new URL('../bench/churn.mjs', import.meta.url).pathname;
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [bench, '--quick', '--backend', 'redis', '--json'],
        { maxBuffer: 1 << 24, env: { ...process.env, LH_CHURN_BENCH_TEST: String(process.pid) } },
      );
      expect(await leftRunning(MARKER)).toEqual([]);
      const run = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as ChurnRun;
      const [row] = run.rows;
      expect(row?.backend).toBe('redis');
      // Twelve half-second ticks in 6 s; a loaded machine may fit fewer.
      expect(row?.resigned).toBeGreaterThanOrEqual(4);
      expect(row?.failed).toBe(0);
      expect(row?.sidecars.map((s) => s.id)).toEqual(['churn-a', 'churn-b', 'churn-c']);
      for (const sidecar of row?.sidecars ?? []) {
        expect(sidecar.idleRssMb).toBeGreaterThan(20);
        expect(sidecar.peakRssMb).toBeGreaterThan(20);
        expect(sidecar.fdsIdle).toBeGreaterThan(0);
        expect(sidecar.ratio).toBeCloseTo(sidecar.peakRssMb / sidecar.idleRssMb, 1);
      }
      const lines = churnSection(mergeChurn(undefined, run), { names: { redis: 'Redis' } });
      const rows = lines.filter((line) => line.startsWith('| Redis |'));
      expect(rows).toHaveLength(3);
      for (const [i, line] of rows.entries()) {
        const met = (row?.sidecars[i]?.ratio ?? Infinity) <= CHURN_RSS_RATIO;
        expect(line).toContain(met ? '| met |' : '| missed |');
      }
    },
  );

  it('keeps the rows of backends a new run did not measure', () => {
    const row = (backend: string) => ({ backend, sidecars: [], resigned: 1, failed: 0 });
    const first = { date: '2026-12-07T00:00:00Z', rows: [row('redis'), row('etcd')] };
    const second = { date: '2026-12-07T01:00:00Z', rows: [row('etcd')] };
    const merged = mergeChurn(mergeChurn(undefined, first), second);
    expect(merged.runs.map((r) => r.rows.map((x) => x.backend))).toEqual([['redis'], ['etcd']]);
  });
});
