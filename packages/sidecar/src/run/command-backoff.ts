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

/** What /metrics, GET /v1/command and the status page show of `leasehold run`'s command. */
export interface CommandStatus {
  /** The program `leasehold run` runs (without its arguments). */
  readonly command: string;
  /** Whether the command runs now, on this instance. */
  readonly running: boolean;
  /** Runs that ended by themselves (each followed by a restart, here or elsewhere). */
  readonly restarts: number;
  /** The wait this candidate sits out before competing again; 0 when not backing off. */
  readonly backoffMs: number;
  /** Wall-clock ms when that wait ends, or null when not backing off. */
  readonly backoffUntil: number | null;
}

export class CrashLoopBackoff {
  /** Runs that ended by themselves, since the sidecar started. */
  restarts = 0;
  /** Short runs in a row. */
  private shortRuns = 0;
  /** The wait decided after the last run, and when it ends (wall clock), or null. */
  private wait: { readonly ms: number; readonly until: number } | null = null;

  /** A run ended by itself after `ranMs`: how long to sit out before competing again. */
  runEnded(ranMs: number): number {
    this.restarts += 1;
    this.shortRuns = ranMs >= LASTING_RUN_MS ? 1 : this.shortRuns + 1;
    const ms = Math.min(MAX_WAIT_MS, FIRST_WAIT_MS * 2 ** (this.shortRuns - 1));
    this.wait = { ms, until: Date.now() + ms };
    return ms;
  }

  /** The wait being sat out now, or null once it is over. */
  current(): { readonly ms: number; readonly until: number } | null {
    return this.wait !== null && Date.now() < this.wait.until ? this.wait : null;
  }
}
