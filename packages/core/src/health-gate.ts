import { LeaseholdConfigError } from './errors.js';
import type { MemberHealth } from './store.js';

/**
 * Health gating (docs/design.md §3.6): the app's health checks, with hysteresis both ways.
 * The gate keeps no timer: whoever probes the app (the sidecar, every interval) reports
 * each result, and the gate decides after enough results in a row.
 */

export interface HealthGateOptions {
  /** Failed checks in a row that make a healthy (or unknown) app unhealthy. Default 3. */
  readonly failureThreshold?: number;
  /** Passed checks in a row that make an unhealthy (or unknown) app healthy. Default 1. */
  readonly successThreshold?: number;
  /**
   * A leader leads at least this long before an unhealthy app makes it hand over, and waits
   * this long again after a handover failed (against flapping). Default: one TTL.
   */
  readonly minTenureMs?: number;
}

export class HealthGate {
  readonly failureThreshold: number;
  readonly successThreshold: number;
  private current: MemberHealth = 'unknown';
  /** Results in a row that disagree with `current` (positive: passes, negative: failures). */
  private streak = 0;

  constructor(options: HealthGateOptions) {
    this.failureThreshold = checkThreshold('failureThreshold', options.failureThreshold ?? 3);
    this.successThreshold = checkThreshold('successThreshold', options.successThreshold ?? 1);
  }

  /** 'unknown' until the first decision, then what the last decision said. */
  get state(): MemberHealth {
    return this.current;
  }

  /** Record one check's result; true when it changed the decision. */
  record(healthy: boolean): boolean {
    if (healthy) this.streak = Math.max(0, this.streak) + 1;
    else this.streak = Math.min(0, this.streak) - 1;
    const next =
      this.streak >= this.successThreshold
        ? 'healthy'
        : -this.streak >= this.failureThreshold
          ? 'unhealthy'
          : this.current;
    if (next === this.current) return false;
    this.current = next;
    this.streak = 0;
    return true;
  }
}

function checkThreshold(field: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new LeaseholdConfigError(field, value, 'a whole number of checks, 1 or more');
  }
  return value;
}
