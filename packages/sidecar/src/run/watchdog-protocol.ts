/**
 * What `leasehold run` and its watchdog process say to each other. Shared by both ends and
 * kept free of imports, so the watchdog stays a few kilobytes of Node's standard library.
 *
 * The sidecar writes a start order, then stop plans, one JSON object per line, on the
 * watchdog's stdin; the watchdog writes reports, one per line, on its file descriptor 3. Times are milliseconds
 * on the host's monotonic clock (CLOCK_MONOTONIC, what `process.hrtime` reads), which every
 * process on the host shares; `performance.now()` does not, it counts from each process's
 * own start.
 */

/**
 * When the watchdog signals the command's process group unless a newer plan arrives first.
 * Each plan replaces the one before; a signal already sent stays sent.
 */
export interface StopPlan {
  /** SIGTERM the group at this time. */
  readonly termAt: number;
  /** SIGKILL the group at this time. */
  readonly killAt: number;
}

/**
 * The first line: the first plan, and what the command's environment gets on top of the
 * watchdog's own. Until it arrives the watchdog waits, so it can be started ahead of time
 * (a standby) and the command starts without waiting for Node to start.
 */
export interface StartOrder extends StopPlan {
  readonly env?: Readonly<Record<string, string>>;
}

export type WatchdogReport =
  /** The command runs, leading a process group of its own (its pid is the group id). */
  | { readonly event: 'started'; readonly pid: number }
  /** The command could not be started (or its first plan had already run out). */
  | { readonly event: 'failed'; readonly message: string }
  /** The watchdog signalled the group: its plan came due, or the sidecar is gone. */
  | {
      readonly event: 'signalled';
      readonly signal: 'SIGTERM' | 'SIGKILL';
      readonly why: 'plan' | 'sidecar-gone';
    }
  /** The command itself exited; others of its group may live on until they are stopped. */
  | { readonly event: 'exited'; readonly code: number | null; readonly signal: string | null };

/**
 * The watchdog's file descriptors: 0 the plans from the sidecar, 1 and 2 shared with the
 * command, 3 the reports, 4 the sidecar's own stdin, handed on to the command as its stdin.
 */
export const REPORT_FD = 3;
export const COMMAND_STDIN_FD = 4;

/** Exit code of a watchdog that ran its command and saw the whole group gone. */
export const WATCHDOG_DONE = 0;

/** Now, in milliseconds on the host's monotonic clock. */
export function hostMonotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
