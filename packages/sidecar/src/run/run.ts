import type { DeposeReason, Elector, LeaseEvent, ResignOutcome } from '@leasehold/core';
import type { Logger } from 'pino';
import { CrashLoopBackoff, type CommandStatus } from './command-backoff.js';
import { jobEnvironment } from './job-env.js';
import { KILL_LEAD_MS, stopPlan, type StopRequest } from './stop-plan.js';
import { WatchedCommand, parentDeathLauncher } from './watched-command.js';
import type { WatchdogReport } from './watchdog-protocol.js';

/**
 * `leasehold run -- <command…>`: the command runs only while this instance leads. It is
 * started when elected (with LEASEHOLD_TERM, the fencing term, in its environment) and
 * stopped before the lease could pass to another instance: SIGTERM once only the command
 * grace (plus a margin) is left of the lease without a renewal, SIGKILL shortly before the
 * deadline (stop-plan.ts). Shutdown, resign and a transfer (`beforeHandOver`) stop it
 * first and release after it is gone.
 * When it exits by itself the sidecar resigns, so that another instance runs it.
 *
 * A watchdog process (watchdog.bash), started with each run, runs the command in a process
 * group of its own and carries out those stops even when this process is frozen or dead. A paused host pauses
 * the watchdog too: the fencing term is what keeps a late write out then, so pass
 * LEASEHOLD_TERM along with your writes.
 */
export interface LeaderOnlyCommandOptions {
  readonly command: string;
  readonly args: readonly string[];
  readonly elector: Elector;
  readonly graceMs: number;
  /** Variables the command sees although they are withheld (job-env.ts). */
  readonly passEnv: readonly string[];
  readonly logger: Logger;
}

/** One run of the command, for one term. */
interface Run {
  readonly term: number;
  readonly watched: WatchedCommand;
  /** The lease deadline on the elector's clock, as of the last renewal. */
  validUntil: number;
  stop: (StopRequest & { readonly why: string }) | null;
  /** The command exited without being asked to: resign once its group is gone. */
  exitedByItself: boolean;
  /** When the command started (`performance.now()`), or null. */
  startedAt: number | null;
}

export class LeaderOnlyCommand {
  private run: Run | null = null;
  private lease: LeaseEvent | null = null;
  /** Starts run one after another: a new term waits until the last group is gone. */
  private starts: Promise<void> = Promise.resolve();
  private stopped = false;
  /** The term being handed over (transfer or drain): no command starts for it any more. */
  private handingOver: number | null = null;
  private readonly backoff = new CrashLoopBackoff();

  /** Attach before the elector starts: an election won during start-up is not missed. */
  constructor(private readonly options: LeaderOnlyCommandOptions) {
    const { elector } = options;
    if (parentDeathLauncher().length === 0) {
      options.logger.warn(
        { event: 'no-parent-death-signal' },
        "setpriv --pdeathsig is not available: the command's top process does not die with its watchdog; the sidecar kills the command's group when a watchdog dies",
      );
    }
    elector.on('lease', (lease) => this.onLease(lease));
    elector.on('elected', ({ term }) => {
      this.starts = this.starts.then(() => this.start(term));
    });
    elector.on('deposed', ({ term, reason }) => {
      if (this.run?.term === term)
        this.requestStop(this.run, `deposed: ${reason}`, killsAtOnce(reason));
    });
  }

  /** Stop the command (SIGTERM, SIGKILL after the grace) and start no other. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.starts; // a start in flight sees `stopped` and does nothing
    await this.stopRun('shutting down');
  }

  /** Whether the command runs, its restarts and the current backoff. */
  status(): CommandStatus {
    const wait = this.backoff.current();
    return {
      command: this.options.command,
      running: this.run !== null && this.run.startedAt !== null,
      restarts: this.backoff.restarts,
      backoffMs: wait?.ms ?? 0,
      backoffUntil: wait?.until ?? null,
    };
  }

  /** POST /v1/resign: the command is stopped first, the lease released after it is gone. */
  async resign(): Promise<ResignOutcome> {
    await this.stopRun('resigning');
    return this.options.elector.resignWithOutcome();
  }

  /**
   * The elector's `beforeHandOver` (docs/design.md §3.6): runs while this instance still
   * leads, before the store lets the successor claim. The successor may lead at once, so the
   * command must be gone first: a start still queued for this term is called off, a running
   * command stopped (SIGTERM, SIGKILL after the grace) and waited for.
   */
  async beforeHandOver(): Promise<void> {
    this.handingOver = this.options.elector.currentTerm();
    await this.starts;
    await this.stopRun('handing leadership over');
  }

  private async stopRun(why: string): Promise<void> {
    const run = this.run;
    if (run === null) return;
    this.requestStop(run, why, false);
    await run.watched.gone;
  }

  private onLease(lease: LeaseEvent): void {
    this.lease = lease;
    const run = this.run;
    if (run?.term !== lease.term) return;
    run.validUntil = lease.validUntil;
    this.sendPlan(run);
  }

  private async start(term: number): Promise<void> {
    await this.run?.watched.gone;
    const { elector, graceMs, logger } = this.options;
    const lease = this.lease;
    // Elected and deposed again while the last command was still stopping.
    if (this.stopped || elector.currentTerm() !== term || lease?.term !== term) return;
    if (this.handingOver === term) return; // a transfer of this term is under way
    const watched = this.newWatchdog();
    const run: Run = {
      term,
      validUntil: lease.validUntil,
      stop: null,
      exitedByItself: false,
      startedAt: null,
      watched,
    };
    this.run = run;
    watched.begin(
      { ...stopPlan(lease.validUntil, graceMs, null), term },
      {
        onReport: (report) => this.onReport(run, report),
        onWatchdogDied: (how) => {
          logger.error(
            { event: 'watchdog-died', how, term },
            `the command's watchdog died (${how}): killing the command's process group`,
          );
          // Without its watchdog the command is gone: resign so that another instance runs it.
          run.exitedByItself = this.leads(run);
        },
      },
    );
    void watched.gone.then(() => this.onGone(run));
  }

  /** A watchdog for a run; the term comes with its start order. */
  private newWatchdog(): WatchedCommand {
    const { command, args, elector, passEnv } = this.options;
    return new WatchedCommand({
      command,
      args,
      env: {
        ...jobEnvironment(process.env, passEnv),
        LEASEHOLD_ID: elector.id,
        LEASEHOLD_ELECTION: elector.election,
      },
    });
  }

  private onGone(run: Run): void {
    if (this.run === run) this.run = null;
    const { elector, logger } = this.options;
    if (run.exitedByItself && !this.stopped && elector.currentTerm() === run.term) {
      // Sit out longer after every short run in a row: a failing command is not restarted
      // every few seconds for ever (here or, when others fail too, anywhere).
      const ranMs = run.startedAt === null ? 0 : Math.round(performance.now() - run.startedAt);
      const waitMs = this.backoff.runEnded(ranMs);
      logger.warn(
        {
          event: 'command-backoff',
          restarts: this.backoff.restarts,
          ranMs,
          waitMs,
          term: run.term,
        },
        `the command ended after ${ranMs} ms (restart ${this.backoff.restarts}): resigning; ` +
          `this instance competes again in ${waitMs} ms`,
      );
      void elector.resign({ holdOffMs: waitMs });
    }
  }

  /** Whether `run` is the command of the term this instance leads now, and not stopping. */
  private leads(run: Run): boolean {
    return run.stop === null && !this.stopped && this.options.elector.currentTerm() === run.term;
  }

  private requestStop(run: Run, why: string, killNow: boolean): void {
    const at = performance.now();
    if (run.stop === null || (killNow && !run.stop.killNow)) {
      run.stop = { at: run.stop?.at ?? at, killNow, why };
      this.options.logger.info(
        { event: 'command-stopping', why, term: run.term },
        `stopping the command (${why})${killNow ? ': SIGKILL' : ''}`,
      );
    }
    this.sendPlan(run);
  }

  private sendPlan(run: Run): void {
    run.watched.plan(stopPlan(run.validUntil, this.options.graceMs, run.stop));
  }

  private onReport(run: Run, report: WatchdogReport): void {
    const { command, graceMs, logger } = this.options;
    const { term } = run;
    switch (report.event) {
      case 'started':
        run.startedAt = performance.now();
        logger.info(
          { event: 'command-started', pid: report.pid, term },
          `started ${command} (term ${term})`,
        );
        return;
      case 'failed':
        logger.error(
          { event: 'command-failed', term, error: report.message },
          `could not start ${command}: ${report.message}`,
        );
        // Another instance may manage where this one cannot.
        run.exitedByItself = this.leads(run);
        return;
      case 'signalled': {
        // A stop that was asked for is routine until it comes to SIGKILL.
        const routine = run.stop !== null && report.signal === 'SIGTERM';
        const late = stalledPast(report);
        logger[late ? 'error' : routine ? 'info' : 'warn'](
          {
            event: 'command-signalled',
            signal: report.signal,
            why: report.why,
            lateMs: report.lateMs,
            term,
          },
          signalledMessage(report, run.stop, graceMs) + (late ? lateMessage(report) : ''),
        );
        return;
      }
      case 'exited': {
        // Not when it was told to stop, nor when it was stopped by the watchdog's plan while
        // this process was frozen (leadership has ended by then).
        const leading = this.leads(run);
        logger.info(
          { event: 'command-exited', code: report.code, signal: report.signal, term },
          `${command} exited (${report.signal ?? `code ${String(report.code)}`})${leading ? ' while leading: resigning so another instance runs it' : ''}`,
        );
        if (leading) {
          run.exitedByItself = true;
          // What it started is stopped too before another instance may run it.
          this.requestStop(run, 'the command exited', false);
        }
        return;
      }
    }
  }
}

/**
 * Once the store says the lease is gone, its deadline has passed, or it was handed over to a
 * successor (who may claim it at once), another may lead.
 */
function killsAtOnce(reason: DeposeReason): boolean {
  return reason === 'lost' || reason === 'lease-expired' || reason === 'transferred';
}

/**
 * A SIGKILL the plan had due more than its lead before the deadline, sent later than that:
 * the host held the watchdog back (a paused VM, starved CPU), and the lease may have passed
 * to another instance while the command still ran. Only a fence can cover that.
 */
function stalledPast(report: Extract<WatchdogReport, { event: 'signalled' }>): boolean {
  return report.why === 'plan' && report.signal === 'SIGKILL' && report.lateMs >= KILL_LEAD_MS;
}

function lateMessage(report: Extract<WatchdogReport, { event: 'signalled' }>): string {
  return (
    ` ${report.lateMs} ms late: this host held the watchdog back (a paused VM or starved CPU), ` +
    `so the lease may have passed to another instance before the command stopped; ` +
    `writes fenced with LEASEHOLD_TERM are the guard against this (docs/run.md)`
  );
}

function signalledMessage(
  report: Extract<WatchdogReport, { event: 'signalled' }>,
  stop: Run['stop'],
  graceMs: number,
): string {
  if (report.why === 'sidecar-gone') return `the sidecar is gone: ${report.signal}`;
  if (stop !== null) {
    if (report.signal === 'SIGTERM' || stop.killNow) return `${report.signal} (${stop.why})`;
    return `the command did not exit within ${graceMs} ms of SIGTERM: SIGKILL`;
  }
  return report.signal === 'SIGTERM'
    ? `no renewal of the lease in time: SIGTERM, the command has ${graceMs} ms to exit before the lease can pass`
    : 'no renewal of the lease in time: SIGKILL before the lease can pass';
}

export { findExecutable } from './executable.js';
export { watchdogShellOrProblem } from './watched-command.js';
