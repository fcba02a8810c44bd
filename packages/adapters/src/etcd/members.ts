import type { AcquireRequest, MemberPut, MemberRecord, MemberStore } from '@leasehold/core';
import type { Etcd3, IRequestOp } from 'etcd3';
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
  /** Keep-alives of many leases on one stream (keep-alive.ts): the TTL granted to each. */
  keepAliveMany(leaseIds: readonly string[]): Promise<ReadonlyMap<string, number>>;
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

  /**
   * Many elections' puts and lists (LeaseStore.batch.putMembers, docs/design.md §3.8): the
   * records' leases kept alive on ONE stream, then ONE txn of every put followed by every
   * election's members range (2 ops a put: 64 puts fit etcd's default 128 ops a txn). Per
   * election, a put and a list a heartbeat were ~1,000 unary calls, 500 Raft proposals and
   * 500 keep-alive streams a second at 1,000 elections, more than one client got answered
   * in time. A lease found gone gets a new one, as in put; a lease that runs out between the
   * keep-alive and the txn fails the txn, and the batch is then written one put at a time.
   */
  async putMany(puts: readonly MemberPut[]): Promise<MemberRecord[][]> {
    if (puts.length === 0) return [];
    const answered = await this.calls.guarded(() => this.putManyOnce(puts));
    if (answered !== null) return answered;
    return Promise.all(
      puts.map(async ({ election, member, ttlMs }) => {
        await this.put(election, member, ttlMs);
        return this.list(election);
      }),
    );
  }

  /** One batch's txn; null when a lease ran out under it (etcd refused the whole txn). */
  private async putManyOnce(puts: readonly MemberPut[]): Promise<MemberRecord[][] | null> {
    const onLeases = await this.leasesOf(puts);
    const writes: IRequestOp[] = onLeases.map(({ put: { election, member }, leaseId }) => ({
      request_put: {
        key: Buffer.from(memberKey(this.namespace, election, member.id)),
        value: Buffer.from(JSON.stringify(member)),
        lease: leaseId,
      },
    }));
    const reads: IRequestOp[] = puts.map(({ election }) => {
      const key = Buffer.from(membersPrefix(this.namespace, election));
      return { request_range: { key, range_end: prefixEnd(key) } };
    });
    let txn;
    try {
      txn = await this.calls.client.kv.txn(
        { success: [...writes, ...reads] },
        this.calls.callOptions(),
      );
    } catch (error) {
      if (!isLeaseGone(error)) throw error;
      return null;
    }
    return puts.map(({ election }, index) => {
      const kvs = txn.responses[puts.length + index]?.response_range?.kvs ?? [];
      const members = kvs.flatMap((kv) => decodeMember(kv.value) ?? []);
      this.line.observeMembers(election, members);
      return members;
    });
  }

  /**
   * The lease each put's record goes on: its current one, kept alive (all on one stream),
   * where that still runs with the TTL asked for; otherwise a new grant, as put does.
   */
  private async leasesOf(
    puts: readonly MemberPut[],
  ): Promise<{ put: MemberPut; leaseId: string }[]> {
    const wanted = puts.map((put) => {
      const { election, member, ttlMs } = put;
      const keyText = memberKey(this.namespace, election, member.id);
      const seconds = ttlSeconds(ttlMs);
      const previous = this.leases.get(keyText);
      return {
        put,
        keyText,
        seconds,
        previous: previous?.ttlSeconds === seconds ? previous : null,
      };
    });
    const reusable = [...new Set(wanted.flatMap((w) => w.previous?.leaseId ?? []))];
    const granted = reusable.length === 0 ? new Map() : await this.calls.keepAliveMany(reusable);
    return Promise.all(
      wanted.map(async ({ put, keyText, seconds, previous }) => {
        if (previous !== null && (granted.get(previous.leaseId) ?? 0) > 0) {
          return { put, leaseId: previous.leaseId };
        }
        const old = this.leases.get(keyText);
        const grant = await this.calls.grantLease(seconds);
        this.leases.set(keyText, { leaseId: grant.leaseId, ttlSeconds: seconds });
        if (old !== undefined && !this.calls.isLeading(old.leaseId)) {
          this.calls.revokeEventually(old.leaseId);
        }
        return { put, leaseId: grant.leaseId };
      }),
    );
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
