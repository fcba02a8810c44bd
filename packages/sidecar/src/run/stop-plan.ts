import { LeaseholdError, leaseValidityMs, type ElectionTiming } from '@leasehold/core';
import { asWritten } from '../config/config-errors.js';
import { type SidecarConfig } from '../config/fields.js';
import { commandGraceRule } from '../config/timing.js';
import { electionTimingOf } from '../config/timing.js';
import {
  WATCHDOG_CLOCK_RESOLUTION_MS,
  watchdogClockMs,
  type StopPlan,
} from './watchdog-protocol.js';

/**
 * When `leasehold run` stops its command: always before the lease could pass to another
 * instance. From the lease deadline the elector answers by (`validUntil`, pushed later by
 * every successful renewal):
 *
 *     validUntil - KILL_LEAD_MS - grace   SIGTERM, unless a renewal came first
 *     validUntil - KILL_LEAD_MS           SIGKILL
 *
 * A stop asked for (shutdown, resign, the end of leadership) moves SIGTERM to now and
 * SIGKILL to at most the grace later, never past the lease's own SIGKILL time.
 */

/**
 * SIGKILL goes out this long before the deadline, so that the group is gone by then even
 * when the watchdog's timer fires late on a busy host. The store's own expiry comes later
 * still (the elector's deadline already allows for clock drift and a safety margin).
 */
export const KILL_LEAD_MS = 250;
/**
 * Room for a renewal's round trip: a healthy leader's next renewal must land before its
 * SIGTERM time, or every renewal would stop the command.
 */
export const RENEW_ALLOWANCE_MS = 250;

/** A stop that was asked for, on the elector's clock (`performance.now()`). */
export interface StopRequest {
  readonly at: number;
  /** SIGKILL at once (leadership is already gone), not after the grace period. */
  readonly killNow: boolean;
}

/**
 * The longest command grace that fits: SIGTERM only once a renewal that was due has not
 * arrived, and the command still has the whole grace before its SIGKILL.
 */
export function maxCommandGraceMs(timing: ElectionTiming): number {
  return (
    leaseValidityMs(timing, timing.ttlMs) -
    timing.renewIntervalMs -
    RENEW_ALLOWANCE_MS -
    KILL_LEAD_MS
  );
}

/** The command grace when none is set, if the lease has room for it. */
export const DEFAULT_COMMAND_GRACE_MS = 5_000;

function electionTiming(config: SidecarConfig): ElectionTiming | null {
  try {
    return electionTimingOf(config);
  } catch {
    return null; // a broken timing rule is reported, by name, when the elector is built
  }
}

/**
 * The command grace in effect: the one set (checked by commandGraceProblem), or when none
 * is, the most that fits the lease, at most 5 s: `--ttl 3s` alone must not be refused for a
 * default the user never chose. A lease with no room at all keeps 5 s, to be refused.
 */
export function commandGraceMs(config: SidecarConfig): number {
  if (config.sources.commandGraceMs !== undefined) return config.commandGraceMs;
  const timing = electionTiming(config);
  const maxMs = timing === null ? 0 : maxCommandGraceMs(timing);
  return maxMs > 0 ? Math.min(DEFAULT_COMMAND_GRACE_MS, maxMs) : DEFAULT_COMMAND_GRACE_MS;
}

/**
 * Why `leasehold run` cannot honour the command grace in effect, or null. Checked at
 * start-up (exit 2): the grace must end before the sidecar's own shutdown gives up, and fit
 * inside the lease, or the command would get SIGTERM at every renewal or too late.
 */
export function commandGraceProblem(setConfig: SidecarConfig): Error | null {
  const config = { ...setConfig, commandGraceMs: commandGraceMs(setConfig) };
  const belowShutdown = commandGraceRule(config);
  if (belowShutdown !== null) return belowShutdown;
  const timing = electionTiming(config);
  if (timing === null) return null;
  const maxMs = maxCommandGraceMs(timing);
  if (config.commandGraceMs <= maxMs) return null;
  const renewal =
    config.renewIntervalMs === undefined ? '' : ` and ${asWritten(config, 'renewIntervalMs')}`;
  return new LeaseholdError(
    'LEASEHOLD_E_CONFIG',
    `${asWritten(config, 'commandGraceMs')} does not fit ${asWritten(config, 'ttlMs')}${renewal}: ` +
      `a lease renewed every ${timing.renewIntervalMs} ms leaves the command at most ` +
      `${Math.max(0, maxMs)} ms to stop before the lease can pass; use a shorter command grace or a longer ttl`,
  );
}

/**
 * The plan for the watchdog, on its clock (/proc/uptime). `validUntil` and the request are on
 * the elector's clock, `performance.now()`: both count the same seconds from different
 * origins (they part only across a suspend, when the watchdog's clock runs on and so stops
 * early), so one offset converts. /proc/uptime counts in steps: the offset is taken one step
 * early, so that the watchdog, whose own reading lags by up to a step, is never late.
 */
export function stopPlan(
  validUntil: number,
  graceMs: number,
  request: StopRequest | null,
): StopPlan {
  const leaseKillAt = validUntil - KILL_LEAD_MS;
  let termAt = leaseKillAt - graceMs;
  let killAt = leaseKillAt;
  if (request !== null) {
    termAt = Math.min(termAt, request.at);
    killAt = Math.min(killAt, request.killNow ? request.at : request.at + graceMs);
  }
  const offset = watchdogClockMs() - performance.now() - WATCHDOG_CLOCK_RESOLUTION_MS;
  return { termAt: termAt + offset, killAt: killAt + offset };
}
