import type { Elector, SteeringState } from '@leasehold/core';
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { jobEnvironment } from '../run/job-env.js';

/**
 * The app's health check (`--app-health URL` or `--app-health-command`, docs/design.md
 * §3.6): every interval one check, its result fed to `elector.setAppHealth()`, whose gate
 * decides with its thresholds. While a check disagrees with the gate's verdict (a failure
 * while healthy, a pass while unhealthy) the next comes after half an interval, so a
 * streak is confirmed or broken sooner: an unhealthy leader hands over within about
 * interval × (failures + 1) / 2 instead of interval × failures (HAProxy's `fastinter`).
 * The log says when the gate's verdict changes, not every check.
 */

export type AppHealthCheck =
  | { readonly kind: 'url'; readonly url: string }
  | {
      readonly kind: 'command';
      readonly command: string;
      /** Variables the command sees although they are withheld (job-env.ts). */
      readonly passEnv: readonly string[];
    };

export interface AppHealthProbeOptions {
  readonly check: AppHealthCheck;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly elector: Elector;
  readonly logger: Logger;
}

/** One check's result: healthy or not, and in words why (for the transition's log line). */
interface CheckResult {
  readonly healthy: boolean;
  readonly detail: string;
}

export class AppHealthProbe {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  private last: CheckResult | null = null;

  constructor(private readonly options: AppHealthProbeOptions) {
    let health = options.elector.status().steering.health;
    options.elector.on('steering', (state: SteeringState) => {
      if (state.health === health) return;
      health = state.health;
      this.logVerdict(state.health);
    });
  }

  /** The first check now, then one every interval (or half) after the last ended. */
  start(): void {
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.checkOnce().then((settled) =>
        this.schedule(settled ? this.options.intervalMs : confirmationDelayMs(this.options)),
      );
    }, delayMs);
  }

  /** One check, reported; true when it agrees with the gate's verdict after it. */
  private async checkOnce(): Promise<boolean> {
    const { check, timeoutMs, elector } = this.options;
    const result =
      check.kind === 'url'
        ? await checkUrl(check.url, timeoutMs)
        : await checkCommand(check.command, check.passEnv, timeoutMs);
    this.last = result;
    if (this.stopped) return true;
    elector.setAppHealth(result.healthy);
    const verdict = elector.status().steering.health;
    return verdict === (result.healthy ? 'healthy' : 'unhealthy');
  }

  private logVerdict(health: SteeringState['health']): void {
    const detail = this.last?.detail ?? '';
    const line = { event: 'app-health', health, check: detail };
    if (health === 'unhealthy') {
      this.options.logger.warn(
        line,
        `the app is unhealthy (${detail}): this candidate does not lead`,
      );
    } else {
      this.options.logger.info(line, `the app is ${health} (${detail})`);
    }
  }
}

/** The wait before a check that confirms or breaks a streak. */
function confirmationDelayMs(options: AppHealthProbeOptions): number {
  return Math.ceil(options.intervalMs / 2);
}

/** HTTP GET: 2xx is healthy; anything else, a redirect, an error or the timeout is not. */
async function checkUrl(url: string, timeoutMs: number): Promise<CheckResult> {
  try {
    const response = await fetch(url, {
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    return { healthy: response.ok, detail: `HTTP ${response.status}` };
  } catch (error) {
    const timedOut = error instanceof Error && error.name === 'TimeoutError';
    return {
      healthy: false,
      detail: timedOut ? `no answer within ${timeoutMs} ms` : 'unreachable',
    };
  }
}

/**
 * Run by `/bin/sh` as the top of the check's process group, with the command as `$1` and a
 * pipe from the sidecar as fd 3 (the sidecar never writes to it). A subshell reads fd 3
 * until end of file, which comes only when the sidecar's end closes: the sidecar died,
 * SIGKILL included, since the kernel closes a dead process's files. It then kills the whole
 * group. The command's shell gets neither fd 3 nor a stdin. When the command exits first,
 * the top shell kills and reaps the subshell itself and exits with the command's code:
 * left to the group kill after the exit, the subshell would be an orphan, and a sidecar
 * that is a container's PID 1 (our image) inherits orphans but never reaps them.
 */
const DIES_WITH_SIDECAR = [
  '(while read -r _ <&3; do :; done; kill -KILL 0) & watcher=$!',
  '/bin/sh -c "$1" 3<&- </dev/null; code=$?',
  'kill -KILL "$watcher"; wait "$watcher"; exit "$code"',
].join('\n');

/**
 * `/bin/sh -c <command>`: exit 0 is healthy. It runs in a process group of its own, with the
 * environment `leasehold run` gives its command (no store URL, no admin token), and the group
 * is killed when it outlasts the timeout, after it exits (nothing it started stays), and when
 * the sidecar dies (DIES_WITH_SIDECAR).
 */
function checkCommand(
  command: string,
  passEnv: readonly string[],
  timeoutMs: number,
): Promise<CheckResult> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', DIES_WITH_SIDECAR, 'leasehold-app-health', command], {
      env: jobEnvironment(process.env, passEnv),
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
      detached: true,
    });
    // Our end of the lifeline: not to keep the sidecar's event loop alive, closed when the
    // check is over (after its group is killed, so its watcher is not woken for nothing).
    const lifeline = child.stdio[3] as Socket | null;
    lifeline?.unref();
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // The group is gone already.
      }
    };
    const timer = setTimeout(killGroup, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      lifeline?.destroy();
      resolve({ healthy: false, detail: `could not start: ${error.message}` });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      killGroup();
      lifeline?.destroy();
      if (signal === 'SIGKILL')
        resolve({ healthy: false, detail: `no exit within ${timeoutMs} ms` });
      else resolve({ healthy: code === 0, detail: signal === null ? `exit ${code}` : signal });
    });
  });
}
