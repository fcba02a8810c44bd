/**
 * The watchdog of `leasehold run`: a separate small process between the sidecar and the
 * command, so that the command is stopped even when the sidecar cannot do it.
 *
 *   node watchdog.js <command> [args…]   (started by the sidecar; see watchdog-protocol.ts)
 *
 * It starts the command once its start order (the first plan) arrives, as the leader of a
 * process group of its own, and then signals that whole group
 *   - SIGKILL at once when its stdin closes: the sidecar died (crash, OOM killer, SIGKILL)
 *     and nobody is renewing the lease any more;
 *   - SIGTERM and SIGKILL when the latest plan's times pass: the sidecar sent no newer plan
 *     because it is frozen or blocked, or because it is stopping the command.
 * It exits once no process of the group is left. Only Node's standard library: it must
 * start fast and stay small next to every command.
 */
import { spawn } from 'node:child_process';
import { writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { groupGone, signalGroup } from './process-group.js';
import {
  COMMAND_STDIN_FD,
  REPORT_FD,
  WATCHDOG_DONE,
  hostMonotonicMs,
  type StartOrder,
  type StopPlan,
  type WatchdogReport,
} from './watchdog-protocol.js';

/** Node's timers take at most 2^31 - 1 ms; a longer wait is re-armed. */
const MAX_TIMER_MS = 2_147_483_647;

function report(message: WatchdogReport): void {
  try {
    writeSync(REPORT_FD, `${JSON.stringify(message)}\n`);
  } catch {
    // The sidecar is gone; its closed stdin pipe tells us the same.
  }
}

class Watchdog {
  private plan: StopPlan | null = null;
  private pgid: number | null = null;
  private termSent = false;
  private killSent = false;
  private timer: NodeJS.Timeout | undefined;
  /** Resolves once the command has exited and been reaped (not left as a zombie). */
  private leaderExited: Promise<void> = Promise.resolve();

  constructor(
    private readonly command: string,
    private readonly args: readonly string[],
  ) {}

  /**
   * A newer plan replaces the last one; the first one (a start order) starts the command.
   * The start waits for the rest of what is already in the pipe: a watchdog that was slow to
   * start (a busy host) finds the renewals' newer plans queued behind its start order, and
   * must judge the start by the newest of them, not refuse it on the first one's deadline.
   */
  onPlan(plan: StartOrder): void {
    const first = this.plan === null;
    this.plan = { termAt: plan.termAt, killAt: plan.killAt };
    if (first) setImmediate(() => this.start(plan.env ?? {}));
    else this.enforce();
  }

  /** The sidecar's end of our stdin closed: nobody renews the lease any more. */
  onSidecarGone(): void {
    if (this.pgid === null) process.exit(WATCHDOG_DONE);
    this.send('SIGKILL', 'sidecar-gone');
  }

  private start(env: Readonly<Record<string, string>>): void {
    if (this.plan === null || hostMonotonicMs() >= this.plan.termAt) {
      report({ event: 'failed', message: 'the lease ran out before the command could start' });
      process.exit(WATCHDOG_DONE);
    }
    const child = spawn(this.command, this.args, {
      env: { ...process.env, ...env },
      // A group of its own: one signal reaches everything the command started.
      detached: true,
      stdio: [COMMAND_STDIN_FD, 'inherit', 'inherit'],
    });
    child.once('error', (error) => {
      report({ event: 'failed', message: error.message });
      if (this.pgid === null) process.exit(WATCHDOG_DONE);
    });
    if (child.pid === undefined) return; // 'error' follows
    this.pgid = child.pid;
    report({ event: 'started', pid: child.pid });
    this.leaderExited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        report({ event: 'exited', code, signal });
        resolve();
        this.exitWhenGroupGone();
      });
    });
    this.enforce();
  }

  /** Send what the plan says is due, and wake up when the next part is. */
  private enforce(): void {
    clearTimeout(this.timer);
    const plan = this.plan;
    if (plan === null || this.pgid === null) return;
    const now = hostMonotonicMs();
    if (!this.termSent && now >= plan.termAt) this.send('SIGTERM', 'plan');
    if (!this.killSent && now >= plan.killAt) this.send('SIGKILL', 'plan');
    const next = Math.min(
      this.termSent ? Infinity : plan.termAt,
      this.killSent ? Infinity : plan.killAt,
    );
    if (next === Infinity) return;
    // A timer may fire a little early; enforce() then just waits again.
    this.timer = setTimeout(() => this.enforce(), Math.min(MAX_TIMER_MS, Math.max(0, next - now)));
  }

  private send(signal: 'SIGTERM' | 'SIGKILL', why: 'plan' | 'sidecar-gone'): void {
    if (this.pgid === null || this.killSent) return;
    if (signal === 'SIGTERM') this.termSent = true;
    else this.killSent = true;
    if (signalGroup(this.pgid, signal)) report({ event: 'signalled', signal, why });
    if (signal === 'SIGKILL') this.exitWhenGroupGone();
  }

  /**
   * Exit once no process of the group is left (its leader's exit is not enough); after a
   * SIGKILL, keep killing whatever the group forks meanwhile. The command is reaped first:
   * exiting before that would hand it, as a zombie, to a PID 1 that may never reap it.
   */
  private exitWhenGroupGone(): void {
    const pgid = this.pgid;
    if (pgid === null) process.exit(WATCHDOG_DONE);
    void groupGone(pgid, this.killSent ? 'SIGKILL' : undefined)
      .then(() => this.leaderExited)
      .then(() => process.exit(WATCHDOG_DONE));
  }
}

function parsePlan(line: string): StartOrder | null {
  try {
    const value = JSON.parse(line) as Partial<StartOrder>;
    return typeof value.termAt === 'number' && typeof value.killAt === 'number'
      ? (value as StartOrder)
      : null;
  } catch {
    return null;
  }
}

const [command, ...args] = process.argv.slice(2);
if (command === undefined) {
  process.stderr.write('usage: watchdog.js <command> [args…] (started by leasehold run)\n');
  process.exit(2);
}
// Ctrl-C and a closing terminal reach the whole foreground process group, the watchdog
// too; the sidecar decides how the command stops (through its plans), so ignore them.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => {});
const watchdog = new Watchdog(command, args);
createInterface({ input: process.stdin })
  .on('line', (line) => {
    const plan = parsePlan(line);
    if (plan !== null) watchdog.onPlan(plan);
  })
  .on('close', () => watchdog.onSidecarGone());
