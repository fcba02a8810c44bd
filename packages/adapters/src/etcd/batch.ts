import {
  StoreUnavailableError,
  type BatchStore,
  type Lease,
  type MemberPut,
  type MemberRecord,
  type RenewResult,
} from '@leasehold/core';
import type { ICompare } from 'etcd3';

/** What the batch needs of its store (store.ts). */
export interface EtcdBatchHost {
  /** The compares that hold while `lease`'s acquisition holds its leader key; null: none. */
  stillHeld(lease: Lease): ICompare[] | null;
  /** One txn of a compare-only txn per group: whether each group's compares all held. */
  eachHolds(groups: readonly ICompare[][]): Promise<boolean[]>;
  /** What renew does for a lease whose key its check found gone (clean-up, no call waits). */
  lost(lease: Lease): void;
  /** Keep-alives of every lease id on one stream: the TTL granted to each, in seconds. */
  keepAliveMany(leaseIds: readonly string[]): Promise<ReadonlyMap<string, number>>;
  /** The leases' etcd lease ids (their handles). */
  leaseIdOf(lease: Lease): string;
  /** Member records of many elections written and listed together (members.ts: putMany). */
  putMembers(puts: readonly MemberPut[]): Promise<MemberRecord[][]>;
}

/**
 * Batched renewals on etcd (docs/design.md §3.8): renew's check (the leader key still holds
 * the acquisition) for every lease in ONE txn, each lease's compares in a nested txn of its
 * own so etcd judges each lease alone, then the keep-alives of the held ones on ONE stream,
 * instead of a txn and a stream per lease. A lease whose key is gone gets renew's answer
 * and clean-up; the others are renewed regardless (one lost lease once made all 64 of its
 * batch renew one at a time: 64 txns and 64 streams at the moment etcd was busiest).
 */
export function etcdBatch(host: EtcdBatchHost): BatchStore {
  return {
    renewMany: async (leases) => {
      if (leases.length === 0) return [];
      const checks = leases.map((lease) => ({ lease, compares: host.stillHeld(lease) }));
      const checked = checks.filter(
        (check): check is { lease: Lease; compares: ICompare[] } => check.compares !== null,
      );
      const verdicts =
        checked.length === 0 ? [] : await host.eachHolds(checked.map((c) => c.compares));
      const held = new Set(
        checked.filter((_, index) => verdicts[index] === true).map((c) => c.lease),
      );
      for (const { lease } of checked) if (!held.has(lease)) host.lost(lease);
      const granted =
        held.size === 0
          ? new Map<string, number>()
          : await host.keepAliveMany([...new Set([...held].map(host.leaseIdOf))]);
      return leases.map((lease): RenewResult => {
        if (!held.has(lease)) return { renewed: false };
        const seconds = granted.get(host.leaseIdOf(lease)) ?? 0;
        // As in renew: a member that does not know a lease the quorum just saw held is cut
        // off; not a verdict on the lease, so the batch fails (retried to the deadline).
        if (seconds <= 0) {
          throw new StoreUnavailableError(
            'etcd renew: the member that answered the keep-alives does not know every lease (cut off from the cluster?)',
          );
        }
        return { renewed: true, ttlMs: seconds * 1_000 };
      });
    },
    putMembers: (puts) => host.putMembers(puts),
    // etcd refuses a txn of more than 128 operations by default (--max-txn-ops): a lease
    // is one nested txn (of two compares), a member put a put and a range.
    maxLeases: 64,
  };
}
