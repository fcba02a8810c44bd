import type { AcquireRequest, MemberRecord, MemberStore } from '@leasehold/core';
import type { Etcd3 } from 'etcd3';
import type { CallOptions } from './client.js';
import { isLeaseGone } from './errors.js';
import type { KeepAliveAnswer } from './keep-alive.js';
import { decodeMember } from '../records.js';
import { memberKey, membersPrefix, prefixEnd, ttlSeconds } from './records.js';
import type { WaitingLine } from './waiting-line.js';

/** The store's etcd calls the member records make (store.ts), each with its deadline. */
export interface MemberCalls {
  readonly client: Etcd3;
  callOptions(): CallOptions;
  /** One keep-alive (keep-alive.ts). */
  keepAlive(leaseId: string): Promise<KeepAliveAnswer>;
  /** A new lease; etcd may grant a longer TTL than asked. */
  grantLease(wantedSeconds: number): Promise<{ leaseId: string; ttlSeconds: number }>;
  revoke(leaseId: string): Promise<void>;
  /** Revoke in the background, retrying until etcd confirms it. */
  revokeEventually(leaseId: string): void;
  /** Whether the lease carries a leader key of ours: then it is never revoked here. */
  isLeading(leaseId: string): boolean;
  /** Runs a call through the store's call guard. */
  guarded<T>(work: () => Promise<T>): Promise<T>;
}

/**
 * Member records (docs/design.md §3.5): one key per candidate under the election's members
 * prefix, on a lease of its own that each heartbeat keeps alive (rather than granting a new
 * one), so a dead candidate's record goes when its lease runs out. A candidate claims the
 * leader key on that same lease (store.ts: leaseFor); listing feeds the waiting line.
 */
export class MemberLeases implements MemberStore {
  /** Member key → the lease its record lives on, kept alive by each heartbeat. */
  private readonly leases = new Map<string, { leaseId: string; ttlSeconds: number }>();

  constructor(
    private readonly namespace: string,
    private readonly calls: MemberCalls,
    private readonly line: WaitingLine,
  ) {}

  put(election: string, member: MemberRecord, ttlMs: number): Promise<void> {
    const { calls } = this;
    return calls.guarded(async () => {
      const keyText = memberKey(this.namespace, election, member.id);
      const key = Buffer.from(keyText);
      const value = Buffer.from(JSON.stringify(member));
      const wanted = ttlSeconds(ttlMs);
      const previous = this.leases.get(keyText);
      if (previous !== undefined && previous.ttlSeconds === wanted) {
        // Each heartbeat keeps the member's lease alive rather than granting a new one.
        const { ttlSeconds: remaining } = await calls.keepAlive(previous.leaseId);
        if (remaining > 0) {
          try {
            await calls.client.kv.put({ key, value, lease: previous.leaseId }, calls.callOptions());
            return;
          } catch (error) {
            if (!isLeaseGone(error)) throw error;
          }
        }
      }
      const grant = await calls.grantLease(wanted);
      this.leases.set(keyText, { leaseId: grant.leaseId, ttlSeconds: wanted });
      await calls.client.kv.put({ key, value, lease: grant.leaseId }, calls.callOptions());
      if (previous !== undefined && !calls.isLeading(previous.leaseId)) {
        calls.revokeEventually(previous.leaseId);
      }
    });
  }

  list(election: string): Promise<MemberRecord[]> {
    const { calls } = this;
    return calls.guarded(async () => {
      const key = Buffer.from(membersPrefix(this.namespace, election));
      const { kvs } = await calls.client.kv.range(
        { key, range_end: prefixEnd(key) },
        calls.callOptions(),
      );
      const members = kvs.flatMap((kv) => decodeMember(kv.value) ?? []);
      this.line.observeMembers(election, members);
      return members;
    });
  }

  remove(election: string, id: string): Promise<void> {
    const { calls } = this;
    return calls.guarded(async () => {
      const keyText = memberKey(this.namespace, election, id);
      const lease = this.leases.get(keyText);
      this.leases.delete(keyText);
      // Our own record goes with its lease in one write (this runs during a handoff, when
      // writes compete with the next leader's), unless the lease still carries a leader key
      // of ours; another candidate's record is just deleted.
      if (lease !== undefined && !calls.isLeading(lease.leaseId)) {
        await calls.revoke(lease.leaseId);
      } else {
        await calls.client.kv.deleteRange({ key: Buffer.from(keyText) }, calls.callOptions());
      }
    });
  }

  /** The lease of this candidate's member record, when one runs with the TTL asked for. */
  leaseFor(request: Pick<AcquireRequest, 'election' | 'holder' | 'ttlMs'>): string | null {
    const member = this.leases.get(memberKey(this.namespace, request.election, request.holder));
    return member?.ttlSeconds === ttlSeconds(request.ttlMs) ? member.leaseId : null;
  }

  /** The lease is gone; the next heartbeat grants another. */
  forget(leaseId: string): void {
    for (const [key, member] of this.leases) {
      if (member.leaseId === leaseId) this.leases.delete(key);
    }
  }

  /** The store closed. */
  clear(): void {
    this.leases.clear();
  }
}
