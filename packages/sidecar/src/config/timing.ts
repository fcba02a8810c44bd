import { resolveTiming, type ElectionTiming } from '@leasehold/core';
import type { SidecarConfig } from './config.js';

/**
 * The elector's timing for the configured settings: the one place the sidecar calls core's
 * resolveTiming, so start-up, `leasehold config`, the configuration check and `leasehold
 * run`'s stop plan all see the same timing. Unset, the renew interval is derived from the
 * TTL. Throws core's LeaseholdTimingError naming the rule a setting breaks.
 */
export function electionTimingOf(
  config: Pick<SidecarConfig, 'ttlMs' | 'retryIntervalMs' | 'renewIntervalMs'>,
): ElectionTiming {
  return resolveTiming({
    ttlMs: config.ttlMs,
    retryIntervalMs: config.retryIntervalMs,
    ...(config.renewIntervalMs === undefined ? {} : { renewIntervalMs: config.renewIntervalMs }),
  });
}

/** A core default in the words of `--help` and docs/configuration.md (`10s`). */
export function secondsText(ms: number): string {
  return `${ms / 1000}s`;
}
