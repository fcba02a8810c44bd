import type { BatchStore, Lease, MemberPut, MemberRecord, RenewResult } from '@leasehold/core';

/** What the batch needs of its store (store.ts). */
export interface ZooKeeperBatchHost {
  /**
   * The znode `lease` holds by, and what to do once the check found it: extend the
   * candidacy's withdrawal as renew does and answer renewed, or lost if the candidacy
   * changed meanwhile. Null when the store holds no such candidacy (lost).
   */
  held(lease: Lease): { readonly path: string; readonly confirm: () => RenewResult } | null;
  /**
   * One check-only multi on the ensemble's leader: whether every znode exists (false too
   * when the session ended).
   */
  checkAll(paths: readonly string[]): Promise<boolean>;
  /** The store's own renew, one lease at a time. */
  renew(lease: Lease): Promise<RenewResult>;
  /** Member heartbeats: records rewritten only when changed, lists from the watches (members.ts). */
  putMembers(puts: readonly MemberPut[]): Promise<MemberRecord[][]>;
}

/**
 * Batched renewals on ZooKeeper (docs/design.md §3.8): renew's check, that each candidate
 * znode still exists, asked of the leader for the whole batch in ONE multi rather than one
 * multi per lease. A multi fails as a whole; when any znode is gone (or the session
 * ended), each lease is renewed on its own so that the lost ones are told apart as renew
 * tells them. Member heartbeats write only what changed and answer the lists from watches
 * (members.ts, member-view.ts): at idle, no request but the ordering barrier, which rides on
 * the renewals' multi when there is one.
 */
export function zooKeeperBatch(host: ZooKeeperBatchHost): BatchStore {
  const eachAlone = (leases: readonly Lease[]) => Promise.all(leases.map((l) => host.renew(l)));
  return {
    renewMany: async (leases) => {
      if (leases.length === 0) return [];
      const held = leases.map((lease) => host.held(lease));
      const paths = held.map((h) => h?.path).filter((p): p is string => p !== undefined);
      if (paths.length < leases.length) return eachAlone(leases);
      if (!(await host.checkAll(paths))) return eachAlone(leases);
      return held.map((h): RenewResult => h?.confirm() ?? { renewed: false });
    },
    putMembers: (puts) => host.putMembers(puts),
    // A multi travels as one request: keep it well inside jute.maxbuffer (1 MB). A check is
    // its path and a few bytes (~100 KB for 1,000); member records are written one a request.
    maxLeases: 1_000,
  };
}
