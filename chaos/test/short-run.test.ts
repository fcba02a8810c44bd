import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Violation } from '../src/checker.js';
import { SCENARIOS } from '../src/scenarios/index.js';

/**
 * The chaos suite's short run in CI: one round of every scenario on every backend it applies
 * to, through the real `pnpm chaos` command (built by the test command before vitest runs),
 * one test per scenario and backend, failing with the violations and the raw history's file.
 * - Every scenario runs in commands mode: every sidecar runs `leasehold run -- <job>`, and the
 *   job's stamps are checked too (no two jobs at once, none on a stale term). The store and
 *   network faults ran without commands here while each candidate had a Node watchdog and a
 *   standby one (a cut leader's answers came 1-2 times later than the check's 400 ms on two
 *   cores); with one bash watchdog of about 4 MB started per run they run with commands too.
 * - `many` (fifty candidates) and `bad-input` (1,000 connections) cost most of a minute per
 *   backend and load the machine for the others: Redis only here, on their own, and without
 *   jobs (fifty watchdogs and jobs would be the load, not the fault; bad-input attacks the
 *   HTTP listener, which is the same with or without a job). `pnpm chaos` runs them
 *   everywhere, and the soak with commands.
 */

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Kept after the run (git ignores it): a failure names raw histories in it. */
const out = join(ROOT, 'chaos-results', 'ci-latest');

interface PairSummary {
  scenario: string;
  backend: string;
  rounds: { round: number; file: string; violations: Violation[] }[];
  /** Rounds run again because this host stalled across their violations (host-stall.ts). */
  inconclusive: { round: number; file: string; violations: Violation[]; stall: object }[];
}

/**
 * The steering scenarios (issue 26) other than `transfer` run in `pnpm chaos` and `pnpm
 * soak`, not here, to keep the short run short (`transfer-cut` costs 13-23 s a round).
 * `transfer` is here (one round per backend, about 12 s each): it was out while a ZooKeeper round once found no leader (a first
 * acquire timed out while the sidecar loaded its admin routes, and the late call queued a
 * znode nobody owned; fixed by running one candidate's calls in turns, 2026-12-07). The
 * others are in CI through packages/sidecar/test/steering.test.ts (every backend) and
 * test/run-transfer.test.ts (jobs never overlap).
 */
const STEERING_NOT_IN_SHORT_RUN = ['transfer-kill', 'transfer-freeze', 'transfer-cut', 'drain'];

/**
 * Scenarios too slow for CI's short run (a round each, on this 2-core machine under load):
 * pg-failover makes a primary and a standby per round and waits out a 6 s TTL twice, 39 to
 * 107 s a round; the Redis Cluster faults make a six-node cluster per round (30 to 50 s a
 * round). `pnpm chaos` runs them. The process faults do run on redis-cluster here.
 */
/**
 * `multi` (three sidecars of three elections, issue 27) costs more than the 15 s a round
 * the short run allows per backend: 15-20 s of recording a round with --commands, 11-18 s
 * without, about 21 s a round on each of five backends side by side (load 11-19,
 * 2026-12-07); 11-12 s alone on SQLite. Three sidecars with admin routes starting at once
 * on five backends take 6-10 s to listen there. `pnpm chaos` and the soak run it.
 */
const MULTI_NOT_IN_SHORT_RUN = ['multi'];

const NOT_IN_SHORT_RUN = new Set([
  ...STEERING_NOT_IN_SHORT_RUN,
  ...MULTI_NOT_IN_SHORT_RUN,
  'pg-failover',
  'cluster-migrate',
  'cluster-failover',
  'cluster-master-kill',
]);

const ON_REDIS_ALONE = ['many', 'bad-input'];

const withCommands = SCENARIOS.map((s) => s.name)
  .filter((name) => !NOT_IN_SHORT_RUN.has(name) && !ON_REDIS_ALONE.includes(name))
  .join(',');

const runs: { args: string[]; dir: string; exitCode: number | null; output: string }[] = [
  { args: ['--scenario', withCommands, '--commands'] },
  ...ON_REDIS_ALONE.map((name) => ({ args: ['--scenario', name, '--backend', 'redis'] })),
].map((run, i) => ({ ...run, dir: join(out, String(i)), exitCode: null, output: '' }));

function runCli(args: readonly string[]): Promise<{ exitCode: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: 'pipe' });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (exitCode) => resolve({ exitCode, output }));
  });
}

const summaries: PairSummary[] = [];

beforeAll(async () => {
  rmSync(out, { recursive: true, force: true });
  for (const run of runs) {
    // A lab of its own, so that someone's `pnpm chaos` on this machine is left alone.
    const args = [...run.args, '--rounds', '1', '--out', run.dir, '--lab-prefix', 'lhchci'];
    Object.assign(run, await runCli(args));
    try {
      summaries.push(
        ...(JSON.parse(readFileSync(join(run.dir, 'summary.json'), 'utf8')) as PairSummary[]),
      );
    } catch {
      // No summary: the run itself failed; the test below says how.
    }
  }
}, 600_000);

describe('pnpm chaos, short run', () => {
  it('ran to its end and wrote its summaries', () => {
    for (const run of runs) {
      expect(run.exitCode === 0 || run.exitCode === 1, run.output).toBe(true);
    }
  });

  const pairs = SCENARIOS.filter((s) => !NOT_IN_SHORT_RUN.has(s.name)).flatMap((scenario) =>
    scenario.backends
      .filter((backend) => !ON_REDIS_ALONE.includes(scenario.name) || backend === 'redis')
      .map((backend) => [scenario.name, backend] as const),
  );
  it.each(pairs)('%s on %s: no violation', (scenario, backend) => {
    const summary = summaries.find((s) => s.scenario === scenario && s.backend === backend);
    expect(summary, `no result for ${scenario} on ${backend}`).toBeDefined();
    for (const r of summary?.inconclusive ?? []) {
      // Not a pass: the round proved nothing, and was run again. Said, for whoever reads CI.
      console.warn(
        `${scenario} on ${backend}: round ${r.round} inconclusive, ${JSON.stringify(r.stall)}: ` +
          r.violations.map((v) => `${v.kind}: ${v.detail}`).join('; '),
      );
    }
    const failures = (summary?.rounds ?? []).flatMap((r) =>
      r.violations.map((v) => `round ${r.round} (${r.file}): ${v.kind}: ${v.detail}`),
    );
    expect(failures).toEqual([]);
  });
});
