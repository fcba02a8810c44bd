/**
 * Crash-loop backoff of `leasehold run`: a command that keeps ending soon after it starts
 * is not started again every few seconds for ever. After each run that ended by itself
 * the candidate resigns and sits out a wait that doubles with every short run in a row,
 * from 1 s to at most 60 s; a run that lasted at least 60 s starts the count afresh.
 */
export const FIRST_WAIT_MS = 1_000;
export const MAX_WAIT_MS = 60_000;
/** A run at least this long was no crash loop: the next wait is the first one again. */
export const LASTING_RUN_MS = 60_000;

/** What the metrics show of `leasehold run`'s command. */
export interface CommandStatus {
  /** Runs that ended by themselves (each followed by a restart, here or elsewhere). */
  readonly restarts: number;
  /** The wait this candidate sits out before competing again; 0 when not backing off. */
  readonly backoffMs: number;
}

export class CrashLoopBackoff {
  /** Runs that ended by themselves, since the sidecar started. */
  restarts = 0;
  /** Short runs in a row. */
  private shortRuns = 0;
  /** The wait decided after the last run, until the next one starts. */
  currentWaitMs = 0;

  /** A run ended by itself after `ranMs`: how long to sit out before competing again. */
  runEnded(ranMs: number): number {
    this.restarts += 1;
    this.shortRuns = ranMs >= LASTING_RUN_MS ? 1 : this.shortRuns + 1;
    this.currentWaitMs = Math.min(MAX_WAIT_MS, FIRST_WAIT_MS * 2 ** (this.shortRuns - 1));
    return this.currentWaitMs;
  }

  /** A run started: nothing to wait for any more. */
  runStarted(): void {
    this.currentWaitMs = 0;
  }
}
