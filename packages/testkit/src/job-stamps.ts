import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A leader-only job for `leasehold run` (the chaos suite's commands mode and
 * test/run-overlap.test.ts), and what it leaves behind.
 *
 * Every few milliseconds, from its start until it exits, the job appends a stamp
 * `<candidate id> <pid> <host monotonic ms> <term> <election>` to a shared file (the
 * election: LEASEHOLD_ELECTION, so that the jobs of several elections may share one file).
 * After SIGTERM it goes on for about half a second (a job finishing its work) before it
 * exits. Two candidates' jobs of one election ran at the same time exactly when their runs'
 * stamp intervals overlap.
 */
const JOB = `
const { appendFileSync } = require('node:fs');
const file = process.argv[2];
const id = process.env.LEASEHOLD_ID;
const term = process.env.LEASEHOLD_TERM;
const election = process.env.LEASEHOLD_ELECTION ?? '';
const write = () => {
  const now = (Number(process.hrtime.bigint()) / 1e6).toFixed(3);
  appendFileSync(file, id + ' ' + process.pid + ' ' + now + ' ' + term + ' ' + election + '\\n');
};
write();
setInterval(write, 4);
process.on('SIGTERM', () => setTimeout(() => { write(); process.exit(0); }, 500));
`;

/**
 * The clock of the stamps: the host's monotonic clock in milliseconds, the same in every
 * process (and the same as leasehold run's watchdog protocol uses), so a test can compare
 * its own instants with the job's stamps.
 */
export function hostMonotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** How long the job takes to stop after SIGTERM. */
export const JOB_STOP_MS = 500;

/** Write the job into `dir`; returns the command line that runs it, appending to `file`. */
export function writeJob(dir: string, file: string): string[] {
  const script = join(dir, 'job.cjs');
  writeFileSync(script, JOB);
  return [process.execPath, script, file];
}

/** One run of the job: one process, from its first stamp to its last. */
export interface JobRun {
  /** The candidate (`LEASEHOLD_ID`). */
  readonly id: string;
  /** The job's pid, also its process group's id (the watchdog starts it with setsid). */
  readonly pid: number;
  /** `LEASEHOLD_TERM`: the term it was started under. */
  readonly term: number;
  /** `LEASEHOLD_ELECTION`, when the job was given one: the election it ran for. */
  readonly election?: string;
  /** Host monotonic ms of its first and last stamp (or another clock, once converted). */
  readonly first: number;
  readonly last: number;
  readonly stamps: number;
}

/** The runs recorded in `file`, in the order they started. */
export function jobRuns(file: string): JobRun[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const runs = new Map<number, { -readonly [K in keyof JobRun]: JobRun[K] }>();
  // The last piece is '' after a whole line, or a line still being written: left out.
  for (const line of text.split('\n').slice(0, -1)) {
    const [id, pid, at, term, election] = line.split(' ');
    if (id === undefined || election === undefined) continue;
    const time = Number(at);
    const run = runs.get(Number(pid));
    if (run === undefined) {
      runs.set(Number(pid), {
        id,
        pid: Number(pid),
        term: Number(term),
        ...(election === '' ? {} : { election }),
        first: time,
        last: time,
        stamps: 1,
      });
    } else {
      run.first = Math.min(run.first, time);
      run.last = Math.max(run.last, time);
      run.stamps += 1;
    }
  }
  return [...runs.values()].sort((a, b) => a.first - b.first);
}

/**
 * Every pair of runs of one election alive at the same time: the earlier first (by their
 * first stamps). Jobs of different elections may run at once; that is what they are for.
 */
export function overlappingRuns(runs: readonly JobRun[]): [JobRun, JobRun][] {
  const sorted = [...runs].sort((a, b) => a.first - b.first);
  return sorted.flatMap((run, i) =>
    sorted
      .slice(i + 1)
      .flatMap((other): [JobRun, JobRun][] =>
        other.election === run.election && other.first <= run.last ? [[run, other]] : [],
      ),
  );
}

/** Every pair of runs that were alive at the same time, described; empty when none. */
export function overlaps(runs: readonly JobRun[]): string[] {
  return overlappingRuns(runs).map(
    ([run, other]) =>
      `${run.id} (pid ${run.pid}, term ${run.term}) ran until ${run.last.toFixed(1)} ms, ` +
      `${(run.last - other.first).toFixed(1)} ms after ${other.id} (pid ${other.pid}, term ${other.term}) started`,
  );
}
