import { SharedHeartbeat, type LeaseStore } from '@leasehold/core';
import type { SidecarConfig } from './config/fields.js';
import { electionTimingOf } from './config/timing.js';

/**
 * The heartbeat every lease of the sidecar renews on, when it has more than one election
 * (a shard is one): their renewals go to the store together (docs/design.md §3.8). One
 * election renews as it always did.
 */
export function sidecarHeartbeat(
  store: LeaseStore,
  config: SidecarConfig,
): SharedHeartbeat | undefined {
  const shards = config.shards ?? [];
  const leases = config.elections.length + shards.reduce((sum, group) => sum + group.count, 0);
  if (leases <= 1) return undefined;
  const renewIntervals = config.elections.map((e) => electionTimingOf(e).renewIntervalMs);
  if (shards.length > 0) renewIntervals.push(electionTimingOf(config).renewIntervalMs);
  return new SharedHeartbeat({ store, periodMs: Math.min(...renewIntervals) });
}
