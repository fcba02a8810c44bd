import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { findExecutable } from './executable.js';
import { groupGone } from './process-group.js';
import {
  COMMAND_STDIN_FD,
  REPORT_FD,
  WATCHDOG_DONE,
  type StartOrder,
  type StopPlan,
  type WatchdogReport,
} from './watchdog-protocol.js';

/**
 * The sidecar's side of the watchdog: one watchdog process per run of the command. It is
 * started ahead of time and waits; `begin()` sends the start order, after which it starts
 * the command and stops its process group by the plans it is sent (see watchdog.ts). When
 * the watchdog itself dies, the sidecar kills the group.
 */

/** The built watchdog; `../dist/` finds it from the sources (tests) and from dist alike. */
export const WATCHDOG_ENTRY = fileURLToPath(new URL('../../dist/run/watchdog.js', import.meta.url));

export interface WatchedCommandOptions {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
}

export interface WatchedCommandHandlers {
  readonly onReport: (report: WatchdogReport) => void;
  /** The watchdog died (not the command): its group was killed from here. */
  readonly onWatchdogDied: (how: string) => void;
}

/**
 * `setpriv --pdeathsig KILL --` (util-linux 2.33 and later) when this host has it, else
 * nothing: the command's top process then dies with a SIGKILLed watchdog at once, whoever
 * else is gone. Without it the sidecar, when alive, kills the group of a watchdog that died
 * (as it always does); only the death of both leaves the command running. Looked up once.
 */
let parentDeathPrefix: readonly string[] | undefined;
export function parentDeathLauncher(): readonly string[] {
  if (parentDeathPrefix !== undefined) return parentDeathPrefix;
  const setpriv = findExecutable('setpriv');
  const help =
    setpriv === null ? null : spawnSync(setpriv, ['--help'], { encoding: 'utf8', timeout: 5_000 });
  parentDeathPrefix =
    setpriv !== null && help?.status === 0 && help.stdout.includes('--pdeathsig')
      ? [setpriv, '--pdeathsig', 'KILL', '--']
      : [];
  return parentDeathPrefix;
}

/**
 * Start a watchdog for `command`, with the file descriptors it expects, in a session and
 * process group of its own: a signal to the sidecar's group (a supervisor's group kill, a
 * shell's `kill -9 %1`) must not take the watchdog along with the sidecar, nor freeze it.
 * It learns of the sidecar's death from its stdin, not from a signal.
 */
export function spawnWatchdog(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): ChildProcess {
  const stdio: ('pipe' | 'inherit' | number)[] = ['pipe', 'inherit', 'inherit'];
  stdio[REPORT_FD] = 'pipe';
  stdio[COMMAND_STDIN_FD] = 0; // the sidecar's stdin becomes the command's
  return spawn(process.execPath, [WATCHDOG_ENTRY, ...parentDeathLauncher(), command, ...args], {
    env,
    stdio,
    detached: true,
  });
}

export class WatchedCommand {
  /** Resolves once the watchdog has exited and no process of the command's group is left. */
  readonly gone: Promise<void>;
  private readonly watchdog: ChildProcess;
  private handlers: WatchedCommandHandlers | null = null;
  private pgid: number | null = null;

  /** Start the watchdog; it waits for `begin()`. */
  constructor(options: WatchedCommandOptions) {
    this.watchdog = spawnWatchdog(options.command, options.args, options.env);
    // A watchdog that died cannot read: its group is killed below, nothing to report.
    this.watchdog.stdin?.on('error', () => {});
    const reports = this.watchdog.stdio[REPORT_FD] as Readable | null;
    if (reports !== null) {
      createInterface({ input: reports }).on('line', (line) => {
        const report = parseReport(line);
        if (report === null) return;
        if (report.event === 'started') this.pgid = report.pid;
        this.handlers?.onReport(report);
      });
    }
    // 'close', not 'exit': every report the watchdog wrote has been read by then.
    this.gone = new Promise((resolve) => {
      this.watchdog.once('close', (code, signal) => {
        if (code === WATCHDOG_DONE || this.handlers === null) return resolve();
        this.handlers.onWatchdogDied(signal ?? `exit code ${String(code)}`);
        void (this.pgid === null ? Promise.resolve() : groupGone(this.pgid, 'SIGKILL')).then(
          resolve,
        );
      });
    });
  }

  /** Whether the watchdog still waits for its start order. */
  get ready(): boolean {
    return (
      this.handlers === null && this.watchdog.exitCode === null && this.watchdog.signalCode === null
    );
  }

  get watchdogPid(): number {
    return this.watchdog.pid ?? 0;
  }

  /** Start the command, with the first plan and what its environment gets on top. */
  begin(order: StartOrder, handlers: WatchedCommandHandlers): void {
    this.handlers = handlers;
    this.send(order);
  }

  /** Replace the watchdog's plan. */
  plan(plan: StopPlan): void {
    this.send(plan);
  }

  /** Let a watchdog that was never given its start order go: it exits. */
  dismiss(): void {
    if (this.handlers === null) this.watchdog.stdin?.end();
  }

  private send(message: StartOrder | StopPlan): void {
    if (this.watchdog.stdin?.writable === true) {
      this.watchdog.stdin.write(`${JSON.stringify(message)}\n`);
    }
  }
}

function parseReport(line: string): WatchdogReport | null {
  try {
    const value = JSON.parse(line) as { event?: unknown };
    return typeof value.event === 'string' ? (value as WatchdogReport) : null;
  } catch {
    return null;
  }
}
