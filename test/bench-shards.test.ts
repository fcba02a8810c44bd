// bench/shards.mjs (issue 27's shard rows): its checks on what the replicas said, and its
// quick mode (12 shards over 3 real sidecars on Redis) run end to end as `pnpm bench --quick`
// runs it, leaving no sidecar behind.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runningWithMarker, until } from '@leasehold/testkit';
import {
  overlaps,
  ownershipIntervals,
  settleTimes,
  staleAnswers,
  surplus,
} from '../bench/lib/shard-checks.mjs';
import { shardsSection } from '../bench/lib/shards-report.mjs';

const SCRIPT = new URL('../bench/shards.mjs', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'leasehold-bench-shards-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const line = (id: string, time: number, event: string, shard: number, term = 1) => ({
  id,
  time,
  event,
  shard,
  term,
});

describe('shard checks', () => {
  it('finds two owners in the lines: overlapping intervals of one shard', () => {
    const lines = [
      line('a', 100, 'shard-elected', 0),
      line('a', 200, 'shard-deposed', 0),
      line('b', 200, 'shard-elected', 0, 2), // a transfer: no overlap
      line('c', 150, 'shard-elected', 1),
      line('d', 180, 'shard-elected', 1, 2), // c never deposed: two owners from 180
    ];
    const intervals = ownershipIntervals(lines, new Map([['c', 250]]), 300);
    expect(overlaps(intervals)).toEqual([{ shard: 1, ids: ['c', 'd'], ms: 70 }]);
  });

  it('finds two owners in the answers only when an older term was answered after a newer', () => {
    const answer = (id: string, sent: number, recv: number, term: number) => ({
      id,
      sent,
      recv,
      owned: [{ shard: 3, term }],
    });
    // Asked together, answered across a transfer: not proof.
    expect(staleAnswers([answer('a', 100, 120, 1), answer('b', 100, 130, 2)])).toEqual([]);
    // a still said term 1 when asked after b's term 2 had been received: proof.
    expect(staleAnswers([answer('b', 100, 110, 2), answer('a', 115, 125, 1)])).toEqual([
      { shard: 3, term: 2 },
    ]);
  });

  it('times the first instant all are owned and the balance that holds to the end', () => {
    const lines = [
      line('a', 10, 'shard-elected', 0),
      line('a', 12, 'shard-elected', 1),
      line('a', 20, 'shard-deposed', 1),
      line('b', 25, 'shard-elected', 1, 2),
    ];
    const intervals = ownershipIntervals(lines, new Map(), 100);
    const fair = (counts: Map<string, number>) => counts.get('a') === 1 && counts.get('b') === 1;
    expect(settleTimes(intervals, { count: 2, since: 0, until: 100, fair })).toEqual({
      allOwnedAt: 12,
      balancedFrom: 25,
    });
  });

  it('counts the surplus as the fewest moves that balance', () => {
    expect(
      surplus(
        new Map([
          ['a', 16],
          ['b', 16],
          ['c', 16],
          ['d', 16],
          ['e', 0],
        ]),
        64,
      ),
    ).toBe(12);
    expect(
      surplus(
        new Map([
          ['a', 17],
          ['b', 15],
          ['c', 16],
          ['d', 16],
        ]),
        64,
      ),
    ).toBe(1);
  });
});

describe('bench/shards.mjs --quick', () => {
  const marker = randomUUID();
  afterEach(async () => {
    // The script stops its sidecars itself; a failed run's are killed here.
    await until('no bench sidecar left', 20_000, () => {
      const left = runningWithMarker(`LHTEST_MARK=${marker}`);
      for (const pid of left) process.kill(pid, 'SIGKILL');
      return left.length === 0 ? true : undefined;
    });
  });

  it(
    'spreads 12 shards over 3 sidecars, survives a SIGKILL and a join, never two owners',
    { timeout: 180_000 },
    async () => {
      const out = join(dir, 'shards.json');
      const stdout = await new Promise<string>((resolve, reject) =>
        execFile(
          process.execPath,
          [
            SCRIPT,
            '--quick',
            '--backend',
            'redis',
            '--implementations',
            'leasehold',
            '--json',
            '--out',
            out,
          ],
          { env: { ...process.env, LHTEST_MARK: marker }, timeout: 170_000 },
          (error, text) => (error ? reject(error) : resolve(text)),
        ),
      );
      const run = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as {
        failed: unknown[];
        rows: {
          start: { counts: number[]; balancedMs: number | null };
          kill: { counts: number[]; allOwnedMs: number | null; orphans: number };
          join: { counts: number[] };
          twoOwners: { overlaps: number; staleAnswers: number; answers: number };
        }[];
      };
      expect(run.failed).toEqual([]);
      const [row] = run.rows;
      expect(row?.start.counts).toEqual([4, 4, 4]);
      expect(row?.start.balancedMs).not.toBeNull();
      expect(row?.kill.orphans).toBe(4);
      expect(row?.kill.allOwnedMs).not.toBeNull();
      expect(row?.kill.counts).toEqual([6, 6]);
      expect(row?.join.counts).toEqual([4, 4, 4]);
      expect(row?.twoOwners).toMatchObject({ overlaps: 0, staleAnswers: 0 });
      expect(row?.twoOwners.answers).toBeGreaterThan(0);

      const saved = JSON.parse(readFileSync(out, 'utf8')) as { runs: unknown[] };
      const section = shardsSection(saved, { names: { redis: 'Redis' } });
      expect(section.filter((l) => l.startsWith('| Redis, 12 over 3 | leasehold |'))).toHaveLength(
        1,
      );
    },
  );
});
