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
  /** Whether etcd runs the lease at least `ms` more, by its last keep-alive's answer. */
  runsAtLeast(leaseId: string, ms: number): boolean;
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
  /**
   * Per election, the records a put's txn read, until a `list` takes them or the event loop
   * turns (see takeListed).
   */
  private readonly listed = new Map<string, MemberRecord[]>();

  constructor(
    private readonly namespace: string,
    private readonly calls: MemberCalls,
    private readonly line: WaitingLine,
  ) {}

  /**
   * Write the record and read the election's records in ONE txn (issue 28: a put and a list
   * were two calls a heartbeat); `list` takes that reading when it follows right after. Each
   * heartbeat keeps the member's lease alive rather than granting a new one.
   */
  put(election: string, member: MemberRecord, ttlMs: number): Promise<void> {
    const { calls } = this;
    return calls.guarded(async () => {
      const keyText = memberKey(this.namespace, election, member.id);
      const wanted = ttlSeconds(ttlMs);
      const previous = this.leases.get(keyText);
      if (previous?.ttlSeconds === wanted && (await this.stillRuns(previous.leaseId, wanted))) {
        try {
          await this.putAndList(election, keyText, member, previous.leaseId);
          return;
        } catch (error) {
          if (!isLeaseGone(error)) throw error;
        }
      }
      const grant = await calls.grantLease(wanted);
      this.leases.set(keyText, { leaseId: grant.leaseId, ttlSeconds: wanted });
      await this.putAndList(election, keyText, member, grant.leaseId);
      if (previous !== undefined && !calls.isLeading(previous.leaseId)) {
        calls.revokeEventually(previous.leaseId);
      }
    });
  }

  /**
   * Whether the record's lease still runs, after a keep-alive of it. A leader's member lease
   * carries its leader key, and each renewal keeps it alive: while etcd runs it for at least
   * half its TTL more by the last keep-alive's answer (sent at most a renew interval ago), a
   * keep-alive of its own would change nothing. Were it gone meanwhile, the put fails on it
   * and a new lease is granted, as after a keep-alive that found it gone.
   */
  private async stillRuns(leaseId: string, seconds: number): Promise<boolean> {
    if (this.calls.isLeading(leaseId) && this.calls.runsAtLeast(leaseId, seconds * 500)) {
      return true;
    }
    const { ttlSeconds: remaining } = await this.calls.keepAlive(leaseId);
    return remaining > 0;
  }

  /** One txn: the record's put, then a range of the election's members (kept for `list`). */
  private async putAndList(
    election: string,
    keyText: string,
    member: MemberRecord,
    leaseId: string,
  ): Promise<void> {
    const key = Buffer.from(keyText);
    const prefix = Buffer.from(membersPrefix(this.namespace, election));
    const txn = await this.calls.client.kv.txn(
      {
        success: [
          { request_put: { key, value: Buffer.from(JSON.stringify(member)), lease: leaseId } },
          { request_range: { key: prefix, range_end: prefixEnd(prefix) } },
        ],
      },
      this.calls.callOptions(),
    );
    const kvs = txn.responses[1]?.response_range?.kvs ?? [];
    const members = kvs.flatMap((kv) => decodeMember(kv.value) ?? []);
    this.line.observeMembers(election, members);
    this.listed.set(election, members);
    setImmediate(() => {
      if (this.listed.get(election) === members) this.listed.delete(election);
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
      const justRead = this.takeListed(election);
      if (justRead !== null) return justRead;
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

  /**
   * What the put's txn just read of the election's records, once: the heartbeat lists as soon
   * as its put is answered (MemberHeartbeat.writeAndList), in the same turn of the event loop.
   * Only until that turn ends: no other answer has reached this process since the put's, so
   * its caller cannot have learnt of a later write, and a list after anything else it awaited
   * reads etcd (the conformance suite lists right after another store's write).
   */
  private takeListed(election: string): MemberRecord[] | null {
    const listed = this.listed.get(election);
    this.listed.delete(election);
    return listed ?? null;
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
    this.listed.clear();
  }
}
