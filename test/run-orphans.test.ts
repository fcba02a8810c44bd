import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  childProcesses,
  hostMonotonicMs,
  jobRuns,
  procStat,
  running,
  until,
  writeJob,
} from '@leasehold/testkit';
import { runCandidatesPerTest, type RunCandidate } from './support/run-candidates.js';

/**
 * No job of `leasehold run` outlives its watchdog (issue 24): whatever single signal hits a
 * process group, and whichever single process (sidecar, watchdog) is SIGKILLed, the job is gone within 1 s of its watchdog, and nothing any of them started is
 * left running. Zombies count as gone: they have exited, and PID 1 here never reaps.
 */

const perTest = runCandidatesPerTest('orphans');
const dir = perTest.dir;
/**
 * A lease long enough for a loaded host to start the job within its first renewal interval
 * (the 1 s bounds below do not depend on it); the SIGSTOP case waits for it to run out.
 */
const TTL_MS = 5_000;
const RUN_ARGS = ['--ttl', `${TTL_MS}ms`, '--retry-interval', '200ms', '--command-grace', '1s'];

const alive = (pid: number): boolean => running([pid]).length === 1;

/** When `pid` is gone (host monotonic ms), polled within `withinMs`. */
function goneAt(what: string, pid: number, withinMs: number): Promise<number> {
  return until(`${what} (pid ${pid}) gone`, withinMs, () =>
    alive(pid) ? undefined : hostMonotonicMs(),
  );
}

interface Leading {
  readonly sidecar: RunCandidate;
  readonly watchdog: number;
  readonly job: number;
}

/**
 * One candidate that leads and runs the job, under its one watchdog: no other is kept
 * started (issue 28: a shell watchdog starts in milliseconds, none waits ahead of time).
 */
async function leaderWithJob(store: string, file: string): Promise<Leading> {
  const pool = perTest.candidates({
    store,
    job: writeJob(dir, file),
    args: RUN_ARGS,
    ownGroup: true,
  });
  const sidecar = await pool.start('c1');
  const job = await until('the job', 15_000, () => jobRuns(file)[0]?.pid);
  const watchdog = procStat(String(job))?.ppid;
  const watchdogs = childProcesses(sidecar.pid).filter((c) => c.cmdline.includes('watchdog.bash'));
  expect(watchdogs.map((c) => c.pid)).toEqual([watchdog]);
  return { sidecar, watchdog: watchdog ?? 0, job };
}

/** The job must be gone within 1 s of its watchdog; returns how long after it was. */
async function jobGoesWithItsWatchdog(leading: Leading, waitMs: number): Promise<number> {
  const watchdogGone = await goneAt('the watchdog', leading.watchdog, waitMs);
  const jobGone = await goneAt('the job', leading.job, watchdogGone + 1_000 - hostMonotonicMs());
  return jobGone - watchdogGone;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  process.kill(-pgid, signal);
}

describe.each([
  ['redis', () => `redis://127.0.0.1:6379`],
  ['sqlite', () => `sqlite://${join(dir, 'leases.db')}`],
] as const)('leasehold run on %s leaves no job behind', (backend, storeUrl) => {
  const file = (): string => join(dir, `${backend}-${randomUUID()}.log`);

  it('a SIGKILL to the sidecar’s process group', { timeout: 30_000 }, async () => {
    const leading = await leaderWithJob(storeUrl(), file());
    signalGroup(leading.sidecar.pid, 'SIGKILL');
    expect(await jobGoesWithItsWatchdog(leading, 1_000)).toBeLessThan(1_000);
  });

  it('a SIGKILL to the sidecar alone', { timeout: 30_000 }, async () => {
    const leading = await leaderWithJob(storeUrl(), file());
    leading.sidecar.child.kill('SIGKILL');
    expect(await jobGoesWithItsWatchdog(leading, 1_000)).toBeLessThan(1_000);
  });

  it('a SIGKILL to the watchdog', { timeout: 30_000 }, async () => {
    const leading = await leaderWithJob(storeUrl(), file());
    process.kill(leading.watchdog, 'SIGKILL');
    expect(await jobGoesWithItsWatchdog(leading, 1_000)).toBeLessThan(1_000);
    // The sidecar resigns: the job it cannot watch is gone, another instance may run it.
    await until('the resignation', 5_000, () =>
      leading.sidecar.lines.some((line) => line.includes('"reason":"resigned"')) ? true : undefined,
    );
  });

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`a ${signal} to the job’s process group`, { timeout: 30_000 }, async () => {
      const leading = await leaderWithJob(storeUrl(), file());
      signalGroup(leading.job, signal);
      expect(await jobGoesWithItsWatchdog(leading, 2_000)).toBeLessThan(1_000);
    });
  }

  it(
    'a SIGSTOP to the job’s process group, then a SIGKILL to the sidecar',
    { timeout: 30_000 },
    async () => {
      const leading = await leaderWithJob(storeUrl(), file());
      signalGroup(leading.job, 'SIGSTOP');
      await until('the job stopped', 1_000, () =>
        procStat(String(leading.job))?.state === 'T' ? true : undefined,
      );
      // Its watchdog is not in the job's group: it is not frozen with it.
      expect(procStat(String(leading.watchdog))?.state).not.toBe('T');
      leading.sidecar.child.kill('SIGKILL');
      expect(await jobGoesWithItsWatchdog(leading, 1_000)).toBeLessThan(1_000);
    },
  );

  it(
    'a SIGSTOP to the sidecar’s process group: the watchdog stops the job in time',
    { timeout: 30_000 },
    async () => {
      const leading = await leaderWithJob(storeUrl(), file());
      const stoppedAt = hostMonotonicMs();
      signalGroup(leading.sidecar.pid, 'SIGSTOP');
      // The watchdog carries out the last plan: SIGKILL before the lease can pass.
      const jobGone = await goneAt('the job', leading.job, TTL_MS);
      expect(jobGone - stoppedAt).toBeLessThan(TTL_MS);
      signalGroup(leading.sidecar.pid, 'SIGCONT');
    },
  );
});
