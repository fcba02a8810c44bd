import { LeaseholdTimingError, resolveTiming, type ElectionTiming } from '@leasehold/core';
import { describeSource, invalidSetting, type ConfigValueError } from './config-errors.js';
import { fieldOf, type SettingKey, type SidecarConfig } from './fields.js';

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

/** The elector's option for each timing setting; its rules speak of these names. */
const TIMING_OPTIONS = {
  ttlMs: 'ttlMs',
  renewIntervalMs: 'renewIntervalMs',
  retryIntervalMs: 'retryIntervalMs',
} as const satisfies Partial<Record<SettingKey, string>>;

/**
 * The elector's own timing rules (core's resolveTiming, config/timing.ts), checked before any store is
 * opened and reported in the user's words: `--renew-interval`, not `renewIntervalMs`.
 */
export function checkTiming(config: Omit<SidecarConfig, 'elections' | 'jobs'>): void {
  try {
    electionTimingOf(config);
  } catch (error) {
    if (!(error instanceof LeaseholdTimingError)) throw error;
    // A rule only the derived settings can break (the safety margin) is the TTL's to fix.
    const key =
      (Object.keys(TIMING_OPTIONS) as (keyof typeof TIMING_OPTIONS)[]).find(
        (k) => TIMING_OPTIONS[k] === error.field,
      ) ?? 'ttlMs';
    throw invalidSetting(config, key, inUserWords(error.accepted));
  }
}

/** A core rule's text with the elector's option names replaced by the flags users set. */
function inUserWords(rule: string): string {
  return (Object.keys(TIMING_OPTIONS) as (keyof typeof TIMING_OPTIONS)[]).reduce(
    (text, key) => text.replaceAll(TIMING_OPTIONS[key], fieldOf(key).flag),
    rule,
  );
}

/**
 * `leasehold run`: the command must be gone before the sidecar gives up on its own
 * shutdown, so the command grace must be below the shutdown grace.
 */
export function commandGraceRule(config: SidecarConfig): ConfigValueError | null {
  if (config.commandGraceMs < config.shutdownGraceMs) return null;
  const shutdown = config.sources.shutdownGraceMs;
  const shutdownText =
    shutdown === undefined || shutdown.kind === 'default'
      ? `${fieldOf('shutdownGraceMs').defaultText}, the default`
      : `${shutdown.raw} from ${describeSource(shutdown)}`;
  return invalidSetting(
    config,
    'commandGraceMs',
    `must be below the shutdown grace (${shutdownText})`,
  );
}
