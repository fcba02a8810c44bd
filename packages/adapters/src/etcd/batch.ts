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
  /** One txn of `compares`, nothing else: whether all of them held. */
  allHold(compares: ICompare[]): Promise<boolean>;
  /** Keep-alives of every lease id on one stream: the TTL granted to each, in seconds. */
  keepAliveMany(leaseIds: readonly string[]): Promise<ReadonlyMap<string, number>>;
  /** The leases' etcd lease ids (their handles). */
  leaseIdOf(lease: Lease): string;
  /** The store's own renew, one lease at a time. */
  renew(lease: Lease): Promise<RenewResult>;
  /** Member records of many elections written and listed together (members.ts: putMany). */
  putMembers(puts: readonly MemberPut[]): Promise<MemberRecord[][]>;
}

/**
 * Batched renewals on etcd (docs/design.md §3.8): renew's check (every leader key still
 * holds its acquisition) in ONE txn for the whole batch, then the keep-alives on ONE stream,
 * instead of a txn and a stream per lease. When the txn finds any key gone, each lease is
 * renewed on its own, so that the lost ones are told apart (and cleaned up) as renew does.
 */
export function etcdBatch(host: EtcdBatchHost): BatchStore {
  return {
    renewMany: async (leases) => {
      if (leases.length === 0) return [];
      const compares = leases.map((lease) => host.stillHeld(lease));
      if (
        compares.some((c) => c === null) ||
        !(await host.allHold(compares.flat() as ICompare[]))
      ) {
        return Promise.all(leases.map((lease) => host.renew(lease)));
      }
      const granted = await host.keepAliveMany([...new Set(leases.map(host.leaseIdOf))]);
      return leases.map((lease): RenewResult => {
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
    // etcd refuses a txn of more than 128 operations by default (--max-txn-ops); a lease
    // takes two compares, a member put a put and a range.
    maxLeases: 64,
  };
}
