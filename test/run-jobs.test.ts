import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jobRuns, overlaps, SIDECAR_BIN, until, writeJob } from '@leasehold/testkit';
import {
  logEvents,
  ROUTES_RUN_ARGS,
  runCandidatesOnRedis,
  runningFor,
  urlOf,
  type RunCandidate,
} from './support/run-candidates.js';

/**
 * Several jobs in one `leasehold run` (issue 27 part 2, docs/run.md "Several jobs"): each
 * job runs under its own election with every run guarantee of its own. Two sidecars with the
 * same two jobs on a real store, each job the stamping job of the run tests writing a file of
 * its own: no two runs of one job overlap, a transfer or the SIGKILL of one election's leader
 * moves only that election's job, SIGTERM stops both jobs before releasing, and one job's
 * crash loop leaves the other running.
 */

const TOKEN = 'run-jobs-test-token-0123456789abcdef';
const perTest = runCandidatesOnRedis('jobs');
const { dir, measured } = perTest;

/** A config file of two elections, `a` and `b` (unique names), and one job each. */
function jobsConfig(jobs: { a: readonly string[]; b: readonly string[] }) {
  const suffix = randomUUID().slice(0, 8);
  const a = `jobs-a-${suffix}`;
  const b = `jobs-b-${suffix}`;
  const file = join(dir, `jobs-${suffix}.yaml`);
  writeFileSync(
    file,
    `elections: [${a}, ${b}]\njobs:\n` +
      `  - {election: ${a}, command: ${JSON.stringify(jobs.a)}}\n` +
      `  - {election: ${b}, command: ${JSON.stringify(jobs.b)}}\n`,
  );
  return { file, a, b };
}

async function get<T>(candidate: RunCandidate, path: string): Promise<T | undefined> {
  const response = await fetch(`${urlOf(candidate)}${path}`).catch(() => null);
  return response?.ok === true ? ((await response.json()) as T) : undefined;
}

/**
 * Each election whose lease `candidate` released on shutdown (deposed: stopped) before its
 * job of that term had exited: the log order of one process, so no timing.
 */
function releasedBeforeJobExited(candidate: RunCandidate): string[] {
  const all = logEvents(candidate);
  return all.flatMap((event, i) => {
    if (event.event !== 'deposed' || event.reason !== 'stopped') return [];
    const exited = all
      .slice(0, i)
      .some(
        (e) =>
          e.event === 'command-exited' && e.term === event.term && e.election === event.election,
      );
    return exited ? [] : [`${event.election} released (term ${event.term}) before its job exited`];
  });
}

describe.each([
  ['redis', () => perTest.redis.url],
  ['sqlite', () => `sqlite://${join(dir, 'leases.db')}`],
] as const)('two jobs on two elections on %s', (backend, storeUrl) => {
  it(
    'moves only the job whose election changes leader, never runs one twice, and stops both before releasing',
    { timeout: 120_000 },
    async () => {
      const fileA = join(dir, `${backend}-a.log`);
      const fileB = join(dir, `${backend}-b.log`);
      const { file, a, b } = jobsConfig({ a: writeJob(dir, fileA), b: writeJob(dir, fileB) });
      const pool = perTest.candidates({
        store: storeUrl(),
        job: null,
        args: [...ROUTES_RUN_ARGS, '--config', file],
        env: { LEASEHOLD_ADMIN_TOKEN: TOKEN },
      });
      const c1 = await pool.start('c1');
      await until('c1 runs both jobs', 20_000, () =>
        runningFor(fileA, 'c1') && runningFor(fileB, 'c1') ? true : undefined,
      );
      const c2 = await pool.start('c2');
      await until('c1 to list c2 in election b', 15_000, async () => {
        const answer = await get<{ members: { id: string }[] }>(c1, `/v1/elections/${b}/members`);
        return answer?.members.some((m) => m.id === 'c2') === true ? true : undefined;
      });

      // b to c2: b's job moves (stopped on c1 before c2 may claim), a's stays on c1.
      const aBefore = runningFor(fileA, 'c1');
      const response = await fetch(`${urlOf(c1)}/v1/elections/${b}/transfer`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ to: 'c2' }),
      });
      expect([response.status, await response.json()], pool.logs()).toMatchObject([
        200,
        { transferred: true, from: 'c1', to: 'c2' },
      ]);
      await until("c2 runs b's job", 20_000, () => runningFor(fileB, 'c2'));
      expect(runningFor(fileA, 'c1')?.pid, pool.logs()).toBe(aBefore?.pid);
      expect(await get(c2, `/v1/elections/${b}/command`)).toMatchObject({ running: true });
      expect(await get(c2, `/v1/elections/${a}/command`)).toMatchObject({ running: false });

      // SIGKILL of a's leader: a's job moves to c2 once the lease runs out; b's run goes on.
      const bOnC2 = runningFor(fileB, 'c2');
      c1.child.kill('SIGKILL');
      const killedAt = Number(process.hrtime.bigint()) / 1e6;
      await until("c2 runs a's job", 30_000, () => runningFor(fileA, 'c2'));
      const aOnC2 = runningFor(fileA, 'c2');
      expect(runningFor(fileB, 'c2')?.pid, pool.logs()).toBe(bOnC2?.pid);
      expect(jobRuns(fileB).filter((run) => run.id === 'c2')).toHaveLength(1);

      // SIGTERM: both jobs stop, then both leases are released; exit 0.
      c2.child.kill('SIGTERM');
      expect(await c2.exited, pool.logs()).toBe(0);
      expect(releasedBeforeJobExited(c2), pool.logs()).toEqual([]);
      expect(
        logEvents(c2)
          .filter((e) => e.event === 'deposed' && e.reason === 'stopped')
          .map((e) => e.election)
          .sort(),
      ).toEqual([a, b].sort());

      const runsA = jobRuns(fileA);
      const runsB = jobRuns(fileB);
      expect(overlaps(runsA), pool.logs()).toEqual([]);
      expect(overlaps(runsB), pool.logs()).toEqual([]);
      expect(runsA.map((run) => run.id)).toEqual(['c1', 'c2']);
      expect(runsB.map((run) => run.id)).toEqual(['c1', 'c2']);
      const [bOld, bNew] = runsB;
      measured.push(
        `${backend}: b's job down ${((bNew?.first ?? 0) - (bOld?.last ?? 0)).toFixed(0)} ms over its transfer; ` +
          `a's job again ${((aOnC2?.first ?? 0) - killedAt).toFixed(0)} ms after its leader's SIGKILL (ttl 6 s)`,
      );
    },
  );
});

describe('a job in a crash loop', () => {
  it(
    'backs off alone: the other job runs on, its one run, undisturbed',
    { timeout: 90_000 },
    async () => {
      const fileB = join(dir, 'loop-b.log');
      const { file, a, b } = jobsConfig({ a: ['sh', '-c', 'exit 3'], b: writeJob(dir, fileB) });
      const pool = perTest.candidates({
        store: perTest.redis.url,
        job: null,
        args: [...ROUTES_RUN_ARGS, '--config', file],
      });
      const c1 = await pool.start('c1');
      await until("b's job runs", 20_000, () => runningFor(fileB, 'c1'));
      const status = (name: string) =>
        get<{ command: string; running: boolean; restarts: number }>(
          c1,
          `/v1/elections/${name}/command`,
        );
      await until("a's job to end by itself twice", 30_000, async () =>
        ((await status(a))?.restarts ?? 0) >= 2 ? true : undefined,
      );
      expect(await get(c1, '/v1/command')).toMatchObject({ command: 'sh' });
      expect(await status(b), pool.logs()).toMatchObject({ running: true, restarts: 0 });
      expect(jobRuns(fileB), pool.logs()).toHaveLength(1);
      expect(runningFor(fileB, 'c1'), pool.logs()).toBeDefined();
      const metrics = await (await fetch(`${urlOf(c1)}/metrics`)).text();
      expect(metrics).toMatch(
        new RegExp(`leasehold_command_restarts_total\\{election="${b}"\\} 0`),
      );
      expect(metrics).toMatch(
        new RegExp(`leasehold_command_restarts_total\\{election="${a}"\\} [2-9]`),
      );
      const statusOf = (name: string) =>
        spawnSync(
          process.execPath,
          [SIDECAR_BIN, 'status', '--url', urlOf(c1), '--election', name],
          {
            encoding: 'utf8',
            timeout: 20_000,
          },
        ).stdout;
      expect(statusOf(a)).toMatch(/^command +sh: .*ended by itself [2-9]\d* times$/m);
      expect(statusOf(b)).toMatch(/^command +\S+: running.*ended by itself 0 times$/m);
      const backedOff = logEvents(c1).filter((e) => e.event === 'command-backoff');
      expect(backedOff.length).toBeGreaterThanOrEqual(2);
      expect(backedOff.every((e) => e.election === a)).toBe(true);
    },
  );
});
