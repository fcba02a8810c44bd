import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createNetLab,
  groupAlive,
  hostMonotonicMs,
  type JobRun,
  jobRuns,
  type LabHost,
  type NetLab,
  overlaps,
  type PrivatePostgres,
  RedisServer,
  startPrivatePostgres,
  stopOutsideSqliteWrite,
  until,
  writeJob,
} from '@leasehold/testkit';
import {
  runCandidatesPerTest,
  TEST_RUN_ARGS,
  TEST_TTL_MS,
  type RunCandidate,
} from './support/run-candidates.js';

/**
 * `leasehold run` never runs its job in two places at once (issue 12). Every candidate runs
 * `leasehold run -- <job>`; the job writes "id pid time term" lines to one file every few ms
 * and needs half a second to stop after SIGTERM. The leader is SIGTERMed, SIGKILLed,
 * frozen (SIGSTOP of the sidecar only) past its TTL and, on Redis and PostgreSQL, cut off
 * from its store while it stays alive (it runs in a netlab host; the stores run in the
 * lab's store host). After each, the job must run again elsewhere within TTL + 1 s, and no
 * two runs may overlap. Nothing any candidate started may survive the test.
 */

const TTL_MS = TEST_TTL_MS;

const perTest = runCandidatesPerTest('run');
const dir = perTest.dir;
let lab: NetLab;
let victimHost: LabHost;
let redis: RedisServer;
let postgres: PrivatePostgres;
const measured: string[] = [];

beforeAll(async () => {
  lab = createNetLab('lhrn');
  victimHost = lab.addHost('v1');
  const placement = {
    host: lab.storeAddress,
    wrap: (argv: readonly string[]) => lab.store.wrap(argv),
  };
  [redis, postgres] = await Promise.all([
    RedisServer.start({ host: lab.store, address: lab.storeAddress }),
    startPrivatePostgres(placement),
  ]);
}, 60_000);

afterAll(async () => {
  await redis?.close();
  await postgres?.close();
  lab?.destroy();
  // The figures for the report (and bench/): visible with --reporter=verbose or on failure.
  if (measured.length > 0) process.stdout.write(`run-overlap:\n  ${measured.join('\n  ')}\n`);
});

/** The run that is writing now (a line in the last 100 ms), if any. */
function liveRun(file: string): JobRun | undefined {
  const now = hostMonotonicMs();
  return jobRuns(file).find((run) => now - run.last < 100);
}

interface Scenario {
  readonly name: string;
  /** Break the leader running `run`; returns when the break was made (host monotonic ms). */
  readonly inject: (leader: RunCandidate, run: JobRun) => number | Promise<number>;
  /** After the job runs elsewhere: undo the break, if it can be undone. */
  readonly after?: (leader: RunCandidate) => Promise<void>;
}

describe.each([
  ['redis', () => redis.url, true],
  ['postgres', () => postgres.url, true],
  ['sqlite', () => `sqlite://${join(dir, 'leases.db')}`, false],
] as const)('leasehold run on %s', (backend, storeUrl, canCut) => {
  it(
    'never runs the job in two places, whatever happens to the leader',
    { timeout: 90_000 },
    async () => {
      const file = join(dir, `${backend}.log`);
      const pool = perTest.candidates({
        store: storeUrl(),
        election: `lhrn-${backend}-${randomUUID().slice(0, 8)}`,
        job: writeJob(dir, file),
        args: TEST_RUN_ARGS,
      });
      let nextId = 1;
      const startOne = (host?: LabHost) => pool.start(`c${nextId++}`, host);

      // The victim of the cut must lead first: it starts alone, in the lab host.
      const first = await startOne(canCut ? victimHost : undefined);
      await until('the first run', 15_000, () => liveRun(file));
      await Promise.all([startOne(), startOne()]);

      let groupGone: Promise<number> | undefined;
      const scenarios: Scenario[] = [
        ...(canCut
          ? [
              {
                name: 'store path cut',
                inject: (leader: RunCandidate) => {
                  if (leader !== first) throw new Error(`${leader.id} leads, not the victim`);
                  victimHost.cutStore();
                  return hostMonotonicMs();
                },
                after: async () => victimHost.healStore(),
              },
            ]
          : []),
        {
          name: 'SIGTERM',
          inject: (leader) => (leader.child.kill('SIGTERM'), hostMonotonicMs()),
          after: async () => void (await startOne()),
        },
        {
          name: 'SIGKILL',
          inject: (leader, run) => {
            leader.child.kill('SIGKILL');
            const killedAt = hostMonotonicMs();
            // The job's whole group goes with the sidecar, at once (the watchdog's pipe).
            groupGone = until(
              `${backend}: the job's group gone within 1 s of SIGKILL`,
              1_000,
              () => (groupAlive(run.pid) ? undefined : hostMonotonicMs() - killedAt),
            );
            groupGone.catch(() => {}); // awaited in after()
            return killedAt;
          },
          after: async () => {
            measured.push(
              `${backend} SIGKILL: group gone ${(await groupGone)?.toFixed(0)} ms after`,
            );
            await startOne();
          },
        },
        {
          name: 'SIGSTOP of the sidecar',
          inject: async (leader) => {
            // Not inside an SQLite commit: that stop would keep everyone out (testkit).
            await stopOutsideSqliteWrite(leader.child.pid ?? 0, (signal) =>
              leader.child.kill(signal),
            );
            return hostMonotonicMs();
          },
          // Past its TTL, then it wakes: it must not run the job again.
          after: async (leader) => {
            leader.child.kill('SIGCONT');
            await until('the woken sidecar to notice', 5_000, () =>
              leader.lines.some((line) => line.includes('"event":"deposed"')) ? true : undefined,
            );
          },
        },
      ];

      for (const scenario of scenarios) {
        const before = await until(`a run before ${scenario.name}`, 10_000, () => liveRun(file));
        const leader = pool.byId(before.id);
        const injectedAt = await scenario.inject(leader, before);
        const next = await until(`the job elsewhere after ${scenario.name}`, 10_000, () =>
          jobRuns(file).find((run) => run.first > injectedAt && run.id !== before.id),
        );
        if (scenario.name.startsWith('SIGSTOP')) {
          await until('the TTL to pass', TTL_MS + 1_000, () =>
            hostMonotonicMs() > injectedAt + TTL_MS ? true : undefined,
          );
        }
        await scenario.after?.(leader);
        const elsewhereMs = next.first - injectedAt;
        const oldRun = jobRuns(file).find((run) => run.pid === before.pid);
        measured.push(
          `${backend} ${scenario.name}: runs again elsewhere after ${elsewhereMs.toFixed(0)} ms; ` +
            `old run ended ${(next.first - (oldRun?.last ?? 0)).toFixed(0)} ms before`,
        );
        expect(overlaps(jobRuns(file)), pool.logs()).toEqual([]);
        expect(elsewhereMs, `${backend} ${scenario.name}`).toBeLessThan(TTL_MS + 1_000);
      }

      await pool.killAll();
      expect(overlaps(jobRuns(file)), pool.logs()).toEqual([]);
    },
  );
});
