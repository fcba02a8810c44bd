import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { findExecutable } from './executable.js';
import { groupGone } from './process-group.js';
import {
  COMMAND_STDIN_FD,
  REPORT_FD,
  WATCHDOG_DONE,
  planLine,
  type StartOrder,
  type StopPlan,
  type WatchdogReport,
} from './watchdog-protocol.js';

/**
 * The sidecar's side of the watchdog: one watchdog process per run of the command, started
 * when the run starts (a shell starts in a few milliseconds). `begin()` sends the start
 * order, after which it starts the command and stops its process group by the plans it is
 * sent (see watchdog.bash). When the watchdog itself dies, the sidecar kills the group.
 */

/** The watchdog script; `../../src/` finds it from the sources (tests) and from dist alike. */
export const WATCHDOG_SCRIPT = fileURLToPath(
  new URL('../../src/run/watchdog.bash', import.meta.url),
);

/**
 * How every bash of ours starts: none of the user's start-up files, which are the command's
 * to use. --norc: bash reads ~/.bashrc even for `bash -c` when its stdin is a socket and
 * SHLVL is below 1, as under a service manager or as a container's first process (a
 * ~/.bashrc that ran `pyenv init` there took more than the version check's 5 s and
 * `leasehold run` refused to start). -p: no BASH_ENV or ENV file, no functions or SHELLOPTS
 * taken from the environment.
 */
const BASH_FLAGS = ['--norc', '--noprofile', '-p'];
const VERSION_CHECK_MS = 5_000;

/**
 * bash 4 or later (fractional `read -t`, `{fd}` redirections), and Linux's /proc/uptime,
 * which the watchdog reads its clock from; or why `leasehold run` cannot run here. Looked up
 * once, before the sidecar starts.
 */
let watchdogShell: string | Error | undefined;
export function watchdogShellOrProblem(): string | Error {
  if (watchdogShell !== undefined) return watchdogShell;
  const bash = findExecutable('bash');
  const problem = bash === null ? 'no bash found' : bashProblem(bash);
  watchdogShell =
    bash !== null && problem === null
      ? bash
      : new Error(
          `the watchdog of leasehold run needs bash 4 or later on PATH and Linux's /proc: ${problem}`,
        );
  return watchdogShell;
}

/** Why `bash` cannot run the watchdog, or null. */
function bashProblem(bash: string): string | null {
  const version = spawnSync(bash, [...BASH_FLAGS, '-c', 'echo "${BASH_VERSINFO[0]}"'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: VERSION_CHECK_MS,
  });
  if (version.error !== undefined) {
    return `${bash} did not tell its version within ${VERSION_CHECK_MS} ms (${version.error.message})`;
  }
  const major = Number.parseInt(version.stdout, 10);
  if (!(major >= 4))
    return `${bash} is bash ${Number.isNaN(major) ? 'of no known version' : major}`;
  return existsSync('/proc/uptime') ? null : 'no /proc/uptime';
}

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
  const bash = watchdogShellOrProblem();
  if (bash instanceof Error) throw bash;
  const argv = [...BASH_FLAGS, WATCHDOG_SCRIPT, ...parentDeathLauncher(), command, ...args];
  return spawn(bash, argv, { env, stdio, detached: true });
}

export class WatchedCommand {
  /** Resolves once the watchdog has exited and no process of the command's group is left. */
  readonly gone: Promise<void>;
  private readonly watchdog: ChildProcess;
  private handlers: WatchedCommandHandlers | null = null;
  private pgid: number | null = null;

  /** Start the watchdog; it waits for `begin()` (and exits if its stdin closes first). */
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

  get watchdogPid(): number {
    return this.watchdog.pid ?? 0;
  }

  /** Start the command, with the first plan and its term. */
  begin(order: StartOrder, handlers: WatchedCommandHandlers): void {
    this.handlers = handlers;
    this.send(order);
  }

  /** Replace the watchdog's plan. */
  plan(plan: StopPlan): void {
    this.send(plan);
  }

  private send(message: StartOrder | StopPlan): void {
    if (this.watchdog.stdin?.writable === true) {
      this.watchdog.stdin.write(planLine(message));
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
