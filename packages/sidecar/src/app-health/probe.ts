import type { Elector, SteeringState } from '@leasehold/core';
import { spawn } from 'node:child_process';
import type { Logger } from 'pino';
import { jobEnvironment } from '../run/job-env.js';

/**
 * The app's health check (`--app-health URL` or `--app-health-command`, docs/design.md
 * §3.6): every interval one check, its result fed to `elector.setAppHealth()`, whose gate
 * decides with its thresholds. The log says when the gate's verdict changes, not every check.
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
  /** The elector the verdict gates; a sidecar of several elections gates them all (sidecar.ts). */
  readonly elector: Pick<Elector, 'status' | 'on' | 'setAppHealth'>;
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

  /** The first check now, then one every interval after the last ended. */
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
      this.running = this.checkOnce().then(() => this.schedule(this.options.intervalMs));
    }, delayMs);
  }

  private async checkOnce(): Promise<void> {
    const { check, timeoutMs, elector } = this.options;
    const result =
      check.kind === 'url'
        ? await checkUrl(check.url, timeoutMs)
        : await checkCommand(check.command, check.passEnv, timeoutMs);
    this.last = result;
    if (!this.stopped) elector.setAppHealth(result.healthy);
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
 * `/bin/sh -c <command>`: exit 0 is healthy. It runs in a process group of its own, with the
 * environment `leasehold run` gives its command (no store URL, no admin token), and the group
 * is killed when it outlasts the timeout, and after it exits (nothing it started stays).
 */
function checkCommand(
  command: string,
  passEnv: readonly string[],
  timeoutMs: number,
): Promise<CheckResult> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', command], {
      env: jobEnvironment(process.env, passEnv),
      stdio: 'ignore',
      detached: true,
    });
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
      resolve({ healthy: false, detail: `could not start: ${error.message}` });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      killGroup();
      if (signal === 'SIGKILL')
        resolve({ healthy: false, detail: `no exit within ${timeoutMs} ms` });
      else resolve({ healthy: code === 0, detail: signal === null ? `exit ${code}` : signal });
    });
  });
}
