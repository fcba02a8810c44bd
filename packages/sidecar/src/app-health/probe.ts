import type { Elector, SteeringState } from '@leasehold/core';
import type { Logger } from 'pino';
import { checkCommand, type CheckResult } from './command-check.js';

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
  /** The elector the verdict gates; a sidecar of several elections gates them all (sidecar.ts). */
  readonly elector: Pick<Elector, 'status' | 'on' | 'setAppHealth'>;
  readonly logger: Logger;
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
