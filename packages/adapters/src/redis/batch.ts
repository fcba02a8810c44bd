import type { BatchStore, Lease, RenewResult } from '@leasehold/core';

/** The keys RENEW reads and writes for one election (RedisStore.keys). */
export interface RenewKeys {
  readonly lease: string;
  readonly info: string;
  readonly server: string;
}

/** What the batch needs of its store. */
export interface RedisBatchHost {
  keys(election: string): RenewKeys;
  /** Runs RENEW_MANY (EVALSHA, then EVAL) through the store's call guard. */
  renewMany(keys: string[], args: string[]): Promise<unknown>;
  /** The store's own RENEW, for a Cluster. */
  renew(lease: Lease): Promise<RenewResult>;
  /** Whether the store talks to a Redis Cluster. */
  onCluster(): boolean;
}

/**
 * Batched renewals (docs/design.md §3.7) on one Redis server: ONE RENEW_MANY script call
 * for every lease, each answered as RENEW answers it. On a Cluster the elections' keys
 * live in different slots, which one script cannot touch: there each lease gets its own
 * RENEW (ioredis sends them to their masters together), so the batch saves timers and
 * wake-ups, not requests.
 */
export function redisBatch(host: RedisBatchHost): BatchStore {
  return {
    renewMany: async (leases) => {
      if (leases.length === 0) return [];
      if (host.onCluster()) return Promise.all(leases.map((lease) => host.renew(lease)));
      const keys = leases.flatMap((lease) => {
        const { lease: leaseKey, info, server } = host.keys(lease.election);
        return [leaseKey, info, server];
      });
      const args = leases.flatMap((lease) => [lease.token, String(lease.ttlMs)]);
      const replies = (await host.renewMany(keys, args)) as number[];
      return leases.map((lease, i) =>
        replies[i] === 1 ? { renewed: true, ttlMs: lease.ttlMs } : { renewed: false },
      );
    },
    // Lua keeps the server busy while it runs: a bounded script keeps other clients served.
    maxLeases: 500,
  };
}
