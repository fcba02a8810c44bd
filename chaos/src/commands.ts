import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JOB_STOP_MS, jobRuns, writeJob, type JobRun } from './job-stamps.js';
import { commandLineOf, liveMembers, signalGroup } from './process-group.js';
import { until } from './wait.js';

/**
 * Commands mode: every sidecar of a round runs as `leasehold run -- <job>`, and the job
 * stamps its candidate, pid, monotonic time and term into one file of the round (see
 * job-stamps.ts). The checker reads the runs from it; scenarios find the leader's job in it.
 */

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
  ) {}

  /**
   * Options of `leasehold run` for a lease of `ttlMs`: the longest command grace that fits
   * (docs/run.md), less 100 ms, and never less than the job needs to stop after SIGTERM.
   */
  static runOptions(ttlMs: number): string[] {
    const renewMs = Math.floor(ttlMs / 3);
    const fits = Math.floor(ttlMs * 0.99 - 20 - renewMs - 500) - 100;
    if (fits < JOB_STOP_MS + 100) throw new Error(`a TTL of ${ttlMs} ms is too short for commands`);
    return ['--command-grace', `${fits}ms`];
  }

  /** Every run so far, in round time, in the order they started. */
  runs(): JobRun[] {
    return jobRuns(this.file).map((run) => ({
      ...run,
      first: this.fromHostMonotonic(run.first),
      last: this.fromHostMonotonic(run.last),
    }));
  }

  /** The run that is stamping now, if any. */
  live(): JobRun | undefined {
    const now = this.time();
    return this.runs().find((run) => now - run.last < LIVE_WITHIN_MS);
  }

  /** Wait until a run stamps now. */
  running(within: number): Promise<JobRun> {
    return until('a job running', within, () => this.live());
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
    const left = (): number[] =>
      jobRuns(this.file)
        .map((run) => run.pid)
        .filter((pid) => liveMembers(pid).some((p) => commandLineOf(p).includes(this.file)));
    for (const pgid of left()) {
      signalGroup(pgid, 'SIGCONT');
      signalGroup(pgid, 'SIGKILL');
    }
    await until('the jobs gone', 5_000, () => left().length === 0);
    const runs = this.runs();
    rmSync(this.dir, { recursive: true, force: true });
    return runs;
  }
}
