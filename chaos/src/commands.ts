import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  commandLineOf,
  JOB_STOP_MS,
  type JobRun,
  jobRuns,
  liveMembers,
  signalGroup,
  until,
  writeJob,
} from '@leasehold/testkit';

/**
 * Commands mode: every sidecar of a round runs as `leasehold run -- <job>`, and the job
 * stamps its candidate, pid, monotonic time and term into one file of the round (see
 * job-stamps.ts). The checker reads the runs from it; scenarios find the leader's job in it.
 */

/** Rounds whose jobs may still run: what an interrupted run must not leave behind. */
const live = new Set<RoundCommands>();

/** SIGKILL every job of every round not yet finished (on a second interrupt). */
export function killEveryJob(): void {
  for (const commands of live) for (const pgid of commands.leftRunning()) killGroup(pgid);
}

function killGroup(pgid: number): void {
  signalGroup(pgid, 'SIGCONT');
  signalGroup(pgid, 'SIGKILL');
}

/** A stamp this recent means the run is alive now (it stamps every 4 ms). */
const LIVE_WITHIN_MS = 100;

export class RoundCommands {
  private readonly dir = mkdtempSync(join(tmpdir(), 'lhch-jobs-'));
  readonly file = join(this.dir, 'stamps.log');
  /** The command line after `leasehold run … --`. */
  readonly job: readonly string[] = writeJob(this.dir, this.file);

  constructor(
    /** Round time now, and a host monotonic time converted to round time. */
    private readonly time: () => number,
    private readonly fromHostMonotonic: (hostMs: number) => number,
    /**
     * A round of several elections: each run keeps the election it stamped. In a round of
     * one the runs are as they always were (the history's JSON unchanged).
     */
    private readonly perElection = false,
  ) {
    live.add(this);
  }

  /**
   * Options of `leasehold run` for a lease of `ttlMs`: a command grace just long enough for
   * the job to stop after SIGTERM. The shorter the grace, the later the SIGTERM and the
   * longer a new leader's watchdog may take to start the job on a busy machine.
   */
  static runOptions(ttlMs: number): string[] {
    const graceMs = JOB_STOP_MS + 100;
    // docs/run.md: the grace must fit in the lease after one missed renewal.
    const fits = Math.floor(ttlMs * 0.99 - 20 - Math.floor(ttlMs / 3) - 500);
    if (graceMs > fits) throw new Error(`a TTL of ${ttlMs} ms is too short for commands`);
    return ['--command-grace', `${graceMs}ms`];
  }

  /** Every run so far, in round time, in the order they started. */
  runs(): JobRun[] {
    return jobRuns(this.file).map(({ election, ...run }) => ({
      ...run,
      ...(this.perElection && election !== undefined ? { election } : {}),
      first: this.fromHostMonotonic(run.first),
      last: this.fromHostMonotonic(run.last),
    }));
  }

  /** The run that is stamping now (`candidate`'s, of `election`, if given), if any. */
  live(candidate?: string, election?: string): JobRun | undefined {
    const now = this.time();
    return this.runs().find(
      (run) =>
        now - run.last < LIVE_WITHIN_MS &&
        (candidate === undefined || run.id === candidate) &&
        (election === undefined || run.election === election),
    );
  }

  /** Wait until a run (`candidate`'s, of `election`, if given) stamps now. */
  running(within: number, candidate?: string, election?: string): Promise<JobRun> {
    const of = election === undefined ? '' : ` of ${election}`;
    return until(`${candidate ?? 'a'}'s job${of} running`, within, () =>
      this.live(candidate, election),
    );
  }

  /** Wait until a run starts after round time `after` (optionally not `except`'s). */
  startedAfter(after: number, within: number, exceptPid?: number): Promise<JobRun> {
    return until(`a job started after ${after.toFixed(0)} ms`, within, () =>
      this.runs().find((run) => run.first > after && run.pid !== exceptPid),
    );
  }

  /**
   * SIGKILL the group of every run still alive (a job its watchdog failed to stop), wait
   * until they are gone, and remove the round's files. Returns the runs, for the history.
   */
  async finish(): Promise<JobRun[]> {
    for (const pgid of this.leftRunning()) killGroup(pgid);
    await until('the jobs gone', 5_000, () => this.leftRunning().length === 0);
    const runs = this.runs();
    rmSync(this.dir, { recursive: true, force: true });
    live.delete(this);
    return runs;
  }

  /** The process groups of this round's jobs that still run (a job's pid is its group's). */
  leftRunning(): number[] {
    return jobRuns(this.file)
      .map((run) => run.pid)
      .filter((pid) => liveMembers(pid).some((p) => commandLineOf(p).includes(this.file)));
  }
}
