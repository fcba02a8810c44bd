import type { SteeringOptions } from '@leasehold/core';
import { asWritten, invalidSetting } from './config-errors.js';
import type { SidecarConfig } from './fields.js';

/**
 * The steering settings (docs/design.md §3.6): their rules across settings, checked at
 * start-up like the timing's, and the elector's `steering` option they make.
 */

/** One health check at a time: by URL or by command, and answered within the interval. */
export function checkSteering(config: Omit<SidecarConfig, 'elections' | 'jobs'>): void {
  if (config.appHealthUrl !== undefined && config.appHealthCommand !== undefined) {
    throw invalidSetting(
      config,
      'appHealthCommand',
      `one health check only: not together with ${asWritten(config, 'appHealthUrl')}`,
    );
  }
  if (appHealthTimeoutMs(config) > config.appHealthIntervalMs) {
    throw invalidSetting(
      config,
      'appHealthTimeoutMs',
      `at most the health interval (${asWritten(config, 'appHealthIntervalMs')})`,
    );
  }
}

/** Whether the app's health gates leadership (a check is configured). */
export function gatesOnAppHealth(config: SidecarConfig): boolean {
  return config.appHealthUrl !== undefined || config.appHealthCommand !== undefined;
}

export function appHealthTimeoutMs(config: Omit<SidecarConfig, 'elections' | 'jobs'>): number {
  return config.appHealthTimeoutMs ?? config.appHealthIntervalMs;
}

/** The elector's `steering` option; the minimum tenure defaults to the TTL (in core). */
export function steeringOf(config: SidecarConfig): SteeringOptions {
  return {
    standby: config.standby,
    version: config.appVersion ?? null,
    ...(gatesOnAppHealth(config)
      ? {
          health: {
            failureThreshold: config.appHealthFailures,
            successThreshold: config.appHealthSuccesses,
            ...(config.minTenureMs === undefined ? {} : { minTenureMs: config.minTenureMs }),
          },
        }
      : {}),
  };
}
