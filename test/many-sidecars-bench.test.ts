// bench/many-sidecars.mjs in its --quick mode (three real sidecars × 20 elections on
// Redis): every number the RESULTS.md rows are made of is there, the leader's SIGKILL is
// survived with every election led again and none ever led twice, and the section renders
// one row per backend measured.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { manySidecarsSection, verdicts } from '../bench/lib/many-sidecars-report.mjs';

const dir = mkdtempSync(join(tmpdir(), 'lh-many-sidecars-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Sidecar {
  role: string;
  requestsPerRenewInterval: number;
  requests: Record<string, number>;
  rssMb: number;
  metricsSeries: number;
}

describe('bench/many-sidecars.mjs --quick', () => {
  it('measures three sidecars, kills the leader, and finds every election led again, once', async () => {
    const out = join(dir, 'many-sidecars.json');
    const bench = new URL('../bench/many-sidecars.mjs', import.meta.url).pathname;
    // Its own children (the sidecars) are stopped by it, the killed one included.
    await promisify(execFile)(
      process.execPath,
      [bench, '--quick', '--backend', 'redis', '--out', out],
      {
        maxBuffer: 1 << 24,
      },
    );
    const saved = JSON.parse(readFileSync(out, 'utf8')) as { runs: { rows: unknown[] }[] };
    const run = saved.runs.at(-1) as {
      elections: number;
      ttlMs: number;
      rows: {
        backend: string;
        aLeads: { count: number };
        followersSeeing: number[];
        sidecars: Sidecar[];
        ledAgainAfterKillMs: number | null;
        twoLeaders: number;
        leaderAnswersChecked: number;
        baseline: { rssMb: number };
      }[];
    };
    expect(run.elections).toBe(20);
    const [row] = run.rows;
    expect(row?.backend).toBe('redis');
    expect(row?.aLeads.count).toBe(20);
    expect(row?.followersSeeing).toEqual([20, 20]);
    expect(row?.sidecars.map((s) => s.role)).toEqual(['leader', 'follower', 'follower']);
    const leader = row?.sidecars[0];
    // The leader renews on its heartbeat: batched, a few requests a renew interval.
    expect(leader?.requests.renew).toBeGreaterThan(0);
    expect(leader?.requests.renew).toBeLessThan(5);
    expect(row?.ledAgainAfterKillMs).not.toBeNull();
    expect(row?.twoLeaders).toBe(0);
    expect(row?.leaderAnswersChecked).toBeGreaterThan(20);
    const section = manySidecarsSection(saved, { names: { redis: 'Redis' }, notes: [] });
    expect(section.filter((line) => line.startsWith('| Redis | 20 |'))).toHaveLength(1);
    expect(verdicts(run, row).oneLeader).toBe(true);
  }, 180_000);
});
