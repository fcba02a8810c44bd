import { readFileSync } from 'node:fs';

/**
 * What `leasehold run` and its watchdog process (watchdog.bash) say to each other.
 *
 * The sidecar writes a start order, then stop plans, one a line on the watchdog's stdin:
 * `<termAt> <killAt>`, the start order with ` <term>` after them. The watchdog writes
 * reports, one JSON object a line, on its file descriptor 3. Times are whole milliseconds on
 * the clock of /proc/uptime (CLOCK_BOOTTIME, in hundredths of a second), which every process
 * on the host shares and a shell reads without starting a process; `performance.now()` does
 * not, it counts from each process's own start.
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
 * The first line: the first plan, and the term the command runs for (its LEASEHOLD_TERM).
 * Until it arrives the watchdog waits.
 */
export interface StartOrder extends StopPlan {
  readonly term: number;
}

export type WatchdogReport =
  /** The command runs, leading a process group of its own (its pid is the group id). */
  | { readonly event: 'started'; readonly pid: number }
  /** The command could not be started (its first plan had already run out). */
  | { readonly event: 'failed'; readonly message: string }
  /** The watchdog signalled the group: its plan came due, or the sidecar is gone. */
  | {
      readonly event: 'signalled';
      readonly signal: 'SIGTERM' | 'SIGKILL';
      readonly why: 'plan' | 'sidecar-gone';
      /**
       * How long after the plan's time the signal went out (0 when the sidecar is gone):
       * above the SIGKILL's lead, the host held this watchdog back so long that the lease
       * may have passed before the command was stopped.
       */
      readonly lateMs: number;
    }
  /**
   * The command itself exited; others of its group may live on until they are stopped. A
   * shell tells an exit code above 128 from a signal by nothing: such a code reads as the
   * signal 128 below it.
   */
  | { readonly event: 'exited'; readonly code: number | null; readonly signal: string | null };

/**
 * The watchdog's file descriptors: 0 the plans from the sidecar, 1 and 2 shared with the
 * command, 3 the reports, 4 the sidecar's own stdin, handed on to the command as its stdin.
 */
export const REPORT_FD = 3;
export const COMMAND_STDIN_FD = 4;

/** Exit code of a watchdog that ran its command and saw the whole group gone. */
export const WATCHDOG_DONE = 0;

/** How finely /proc/uptime counts. */
export const WATCHDOG_CLOCK_RESOLUTION_MS = 10;

/** Now, in milliseconds on the watchdog's clock (/proc/uptime), to its resolution. */
export function watchdogClockMs(): number {
  const [seconds = ''] = readFileSync('/proc/uptime', 'utf8').split(' ');
  return Math.round(Number(seconds) * 1_000);
}

/**
 * A line of the protocol. Times are rounded down: the watchdog is never late because of the
 * rounding.
 */
export function planLine(plan: StopPlan | StartOrder): string {
  const times = `${Math.floor(plan.termAt)} ${Math.floor(plan.killAt)}`;
  return 'term' in plan ? `${times} ${plan.term}\n` : `${times}\n`;
}
