import {
  isTransient,
  StoreProtocolError,
  StoreUnavailableError,
  type AcquireRequest,
  type AcquireResult,
  type BatchStore,
  type Lease,
  type LeaseRecord,
  type LeaseStore,
  type MemberStore,
  type RenewResult,
  type Reservation,
  type TransferStore,
} from '@leasehold/core';
import type { Etcd3, ICompare, IKeyValue, ITxnResponse } from 'etcd3';
import { CleanupQueue } from './cleanup-queue.js';
import type { CallOptions } from './client.js';
import {
  isLeaseGone,
  isLeaseTaken,
  isPermissionDenied,
  translateError,
  type ErrorContext,
} from './errors.js';
import { guardedCall, type CallGuard } from '../guarded-call.js';
import { KeepAliveLine, type KeepAliveAnswer } from './keep-alive.js';
import { etcdBatch } from './batch.js';
import type { HostQuarantine } from './host-quarantine.js';
import {
  decodeHolder,
  decodeReservation,
  encodeHolder,
  encodeReservation,
  leaderKey,
  leaseHandle,
  memberKey,
  newLeaseId,
  remainingMs,
  reservationKey,
  revisionNumber,
  ttlSeconds,
  type EtcdLeaseHandle,
} from './records.js';
import type { EtcdConfig } from './url.js';
import { StreamOpener } from './streams.js';
import { diagnoseFirstConnection } from '../first-connection.js';
import { MemberLeases, type MemberCalls } from './members.js';
import { WaitingLine } from './waiting-line.js';
import { WatchHub } from './watch-hub.js';

/** What names an acquisition in the leader key: a Lease, or the request that made it. */
type LeaseOwner = Pick<Lease, 'election' | 'holder' | 'token'>;

/** etcd 3.4 added client-chosen watcher ids, which the watch hub relies on. */
const MIN_VERSION: readonly [number, number] = [3, 4];

/**
 * The etcd store (docs/design.md §2): the leader key is created in a transaction guarded by
 * `create_revision == 0` and attached to a lease. The key's create revision is the term:
 * etcd's revision only grows, across restarts too, because it lives in the data directory.
 * etcd never forgets a live lease (it survives restarts and is extended when etcd comes
 * back), so a free key means the previous holder's lease really ended: `notBeforeMs` is
 * always 0.
 *
 * A candidate that keeps a member record waits in line on it (waiting-line.ts) and claims
 * the leader key on the lease that record lives on, which its heartbeats keep alive while
 * it waits: a handoff is then one write (the claim) after the release, with no lease grant
 * in between. Such a shared lease is never revoked for an acquisition's sake; releases and
 * clean-ups delete the leader key only where it still holds this acquisition's token. A
 * candidate without a member record gets a lease granted for the acquisition alone.
 *
 * Every etcd call has a deadline; there are no library timers: the elector renews with one
 * keep-alive per renew interval, and etcd3's retry and circuit-breaker policies are off.
 */
export class EtcdStore implements LeaseStore {
  readonly backend = 'etcd';
  private closed = false;
  private readonly streams: StreamOpener;
  /** Every keep-alive, on one stream kept open (keep-alive.ts). */
  private readonly keepAlives: KeepAliveLine;
  private readonly watches: WatchHub;
  private readonly cleanups = new CleanupQueue();
  /** Member leases that carry a leader key of ours: not revoked while they do. */
  private readonly leadingLeases = new Set<string>();
  private readonly line: WaitingLine;
  /** Member records (members.ts), with the leases a candidate may claim on. */
  private readonly memberRecords: MemberLeases;
  /** Member records (LeaseStore.members). */
  readonly members: MemberStore;
  private readonly errorContext: ErrorContext;
  /** Every store call goes through it (../guarded-call.ts). */
  private readonly guard: CallGuard = {
    backend: 'etcd',
    isClosed: () => this.closed,
    failed: (error, op) => translateError(error, op, this.errorContext),
  };

  constructor(
    private readonly client: Etcd3,
    private readonly config: EtcdConfig,
    /** The members to keep calls away from, shared with the client's host policies. */
    private readonly quarantine: HostQuarantine,
  ) {
    this.streams = new StreamOpener(client);
    this.keepAlives = new KeepAliveLine(this.streams, quarantine);
    this.watches = new WatchHub(this.streams, config.requestTimeoutMs);
    this.line = new WaitingLine(this.watches, {
      leader: (election) => leaderKey(config.namespace, election),
      member: (election, id) => memberKey(config.namespace, election, id),
    });
    this.memberRecords = new MemberLeases(config.namespace, this.memberCalls(), this.line);
    this.members = this.memberRecords;
    this.errorContext = {
      endpoints: config.endpoints.join(','),
      username: config.auth?.username ?? null,
      namespace: config.namespace,
    };
  }

  /**
   * At start-up: a wrong password, a missing user or an etcd too old fails `createStore` with
   * a fatal error. An unreachable etcd does not: the elector waits for it. The warm-up runs
   * in the background: the first acquire need not wait for it (it includes two Raft writes).
   */
  async start(): Promise<void> {
    if (await this.verify()) {
      void this.warmUp();
      return;
    }
    // Not merely down if DNS does not know a host or something else answers there.
    const endpoints = this.config.endpoints.map((endpoint) => {
      const url = new URL(endpoint);
      return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 2379) };
    });
    const hopeless = await diagnoseFirstConnection('etcd', endpoints);
    if (hopeless !== null) throw hopeless;
  }

  /** Resolves to whether etcd answered. */
  private async verify(): Promise<boolean> {
    try {
      const { version } = await this.client.maintenance.status(this.callOptions());
      const [major = 0, minor = 0] = version.split('.').map(Number);
      if (major < MIN_VERSION[0] || (major === MIN_VERSION[0] && minor < MIN_VERSION[1])) {
        throw new StoreProtocolError(
          `etcd at ${this.errorContext.endpoints} is version ${version}; leasehold needs ${MIN_VERSION.join('.')} or newer`,
        );
      }
      // Status needs no credentials; a read does. Permissions are checked per key later, so a
      // user without access to this probe key is not refused here.
      await this.client.kv.range(
        { key: Buffer.from(`${this.config.namespace}/elections/`), keys_only: true },
        this.callOptions(),
      );
      return true;
    } catch (error) {
      const translated = translateError(error, 'connect', this.errorContext);
      if (translated.transient) return false;
      if (isPermissionDenied(error)) return true;
      throw translated;
    }
  }

  /**
   * Run each kind of call a handoff needs once, so the first handoff is as fast as later ones:
   * protobufjs compiles a message type's codec on first use, which costs a few milliseconds
   * per type, and a handoff is a handful of sequential round trips. Nothing is written: the
   * txn's compare never holds and the lease is revoked. Best effort; errors are ignored.
   */
  private async warmUp(): Promise<void> {
    const key = Buffer.from(`${this.config.namespace}/elections/`);
    const never: ICompare = { key, target: 'Version', result: 'Less', version: 0 };
    const leaseId = newLeaseId();
    await Promise.allSettled([
      this.client.kv.txn(
        {
          compare: [
            never,
            { key, target: 'Create', result: 'Equal', create_revision: 0 },
            { key, target: 'Value', result: 'Equal', value: key },
            { key, target: 'Lease', result: 'Equal', lease: leaseId },
          ],
          success: [
            { request_put: { key, value: key, lease: leaseId } },
            { request_delete_range: { key } },
          ],
          failure: [{ request_range: { key } }],
        },
        this.callOptions(),
      ),
      (async () => {
        await this.client.leaseClient.leaseGrant({ ID: leaseId, TTL: 1 }, this.callOptions());
        await this.keepAlive(leaseId);
        await this.client.leaseClient.leaseTimeToLive({ ID: leaseId }, this.callOptions());
        await this.revoke(leaseId);
      })(),
    ]);
  }

  tryAcquire(request: AcquireRequest): Promise<AcquireResult> {
    return guardedCall(this.guard, 'acquire', async () => {
      const key = leaderKey(this.config.namespace, request.election);
      // Reading first keeps contention cheap: a follower's poll costs reads, not a lease
      // grant and revoke (raft writes) each time. A follower our watch has just seen the key
      // deleted for skips the read: at a handoff every round trip counts.
      if (!this.watches.lastSeenDeleted(key)) {
        const range = await this.client.kv.range({ key: Buffer.from(key) }, this.callOptions());
        const [holder] = range.kvs;
        if (holder !== undefined) return this.refusal(request.election, holder);
      }
      const memberLease = this.memberRecords.leaseFor(request);
      if (memberLease !== null) {
        const claimed = await this.claimOnMemberLease(request, memberLease);
        if (claimed !== null) return claimed;
      }
      const grant = await this.grantLease(ttlSeconds(request.ttlMs));
      return this.claim(request, grant.leaseId, grant.ttlSeconds);
    });
  }

  renew(lease: Lease): Promise<RenewResult> {
    return guardedCall(this.guard, 'renew', async () => {
      const handle = leaseHandle(lease);
      if (handle === null) return { renewed: false };
      // Check the key first: a keep-alive sent for a token that does not hold the key would
      // extend someone else's lease.
      const held = await this.client.kv.txn(
        { compare: this.stillHeld(lease, handle) },
        this.callOptions(),
      );
      if (!held.succeeded) {
        this.renewalLost(lease, handle);
        return { renewed: false };
      }
      const { ttlSeconds: grantedSeconds, host } = await this.keepAlive(handle.leaseId);
      if (grantedSeconds > 0) return { renewed: true, ttlMs: grantedSeconds * 1_000 };
      this.quarantine.failed(host);
      // TTL 0 means "no such lease" to the member that answered, yet the quorum just said the
      // key is held on it: that member is cut off and still believes it leads, and does not
      // know a lease granted since. Not a verdict on ours: fail this renewal (retried until
      // the deadline) rather than step down. Were the lease really gone, the next try's
      // check would say so.
      throw new StoreUnavailableError(
        `etcd renew: the member that answered the keep-alive does not know lease ${handle.leaseId} (cut off from the cluster?)`,
      );
    });
  }

  /** Many renewals: one txn (a nested check per lease) and one keep-alive stream (batch.ts). */
  readonly batch: BatchStore = etcdBatch({
    stillHeld: (lease) => {
      const handle = leaseHandle(lease);
      return handle === null ? null : this.stillHeld(lease, handle);
    },
    eachHolds: (groups) =>
      guardedCall(this.guard, 'renew', async () => {
        const txn = await this.client.kv.txn(
          { success: groups.map((compare) => ({ request_txn: { compare } })) },
          this.callOptions(),
        );
        return groups.map((_, index) => txn.responses[index]?.response_txn?.succeeded === true);
      }),
    lost: (lease) => {
      const handle = leaseHandle(lease);
      if (handle !== null) this.renewalLost(lease, handle);
    },
    keepAliveMany: (leaseIds) =>
      guardedCall(this.guard, 'renew', async () => {
        const { ttlSeconds, host } = await this.keepAlives.keepAliveMany(
          leaseIds,
          this.callOptions(),
        );
        if ([...ttlSeconds.values()].some((ttl) => ttl <= 0)) this.quarantine.failed(host);
        return ttlSeconds;
      }),
    leaseIdOf: (lease) => leaseHandle(lease)?.leaseId ?? '',
    putMembers: (puts) => this.memberRecords.putMany(puts),
  });

  async release(lease: Lease): Promise<void> {
    try {
      await guardedCall(this.guard, 'release', () => this.releaseNow(lease));
    } catch (error) {
      // The holder has stepped down already; make sure its key goes once etcd answers again.
      const handle = leaseHandle(lease);
      if (handle !== null && isTransient(error)) {
        this.cleanups.add(handle.shared ? lease.token : handle.leaseId, () =>
          this.releaseNow(lease),
        );
      }
      throw error;
    }
  }

  read(election: string): Promise<LeaseRecord | null> {
    return guardedCall(this.guard, 'read', async () => {
      const key = Buffer.from(leaderKey(this.config.namespace, election));
      const [holder] = (await this.client.kv.range({ key }, this.callOptions())).kvs;
      if (holder === undefined) this.line.observeHolder(election, null);
      return holder === undefined ? null : this.describe(election, holder);
    });
  }

  /**
   * A candidate that says who it is waits in line: it wakes when it may take the election,
   * not on every change (waiting-line.ts). Anyone else hears of every leader key change.
   */
  watch(
    election: string,
    onChange: () => void,
    signal: AbortSignal,
    candidate?: string,
  ): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (candidate === undefined) {
      return this.watches.watch(leaderKey(this.config.namespace, election), onChange, signal);
    }
    // A transfer's successor may stand anywhere in line: a reservation wakes every waiter
    // here, and the elector's reservation read sends all but the successor back to waiting.
    const reserved = reservationKey(this.config.namespace, election);
    return Promise.all([
      this.line.watch(election, candidate, onChange, signal),
      this.watches.watch(reserved, onChange, signal),
    ]).then(() => undefined);
  }

  /**
   * A candidate's place in line and the reservation key are both watched on a live stream:
   * a release, an expiry (etcd deletes the key with its lease) or a reservation wakes it.
   */
  watching(election: string, candidate: string): boolean {
    return (
      !this.closed &&
      this.line.watching(election, candidate) &&
      this.watches.isActive(reservationKey(this.config.namespace, election))
    );
  }

  /** Transfers (LeaseStore.transfer, docs/design.md §3.6). */
  readonly transfer: TransferStore = {
    handOver: (lease, successor, reservationMs) => this.handOver(lease, successor, reservationMs),
    reservation: (election) =>
      guardedCall(this.guard, 'read', () => this.readReservation(election)),
  };

  /**
   * One txn: if this acquisition still holds the leader key, delete it and put the
   * reservation key on an etcd lease of its own, granted first for the reservation rounded
   * up to whole seconds (so it lapses by etcd's clock, never early). A grant the txn did not
   * use is revoked; so is a lease granted for this acquisition alone, which holds nothing now.
   */
  private handOver(lease: Lease, successor: string, reservationMs: number): Promise<boolean> {
    return guardedCall(this.guard, 'release', async () => {
      const handle = leaseHandle(lease);
      if (handle === null || handle.token !== lease.token) return false;
      const grant = await this.grantLease(ttlSeconds(reservationMs));
      const value = encodeReservation({ successor, from: lease.holder });
      // A txn whose answer is lost may have landed: its reservation lapses with the grant.
      const txn = await this.client.kv.txn(
        {
          compare: this.stillHeld(lease, handle),
          success: [
            { request_delete_range: { key: Buffer.from(this.leaderKeyOf(lease.election)) } },
            {
              request_put: {
                key: this.reservationKeyOf(lease.election),
                value,
                lease: grant.leaseId,
              },
            },
          ],
        },
        this.callOptions(),
      );
      if (!txn.succeeded) {
        this.revokeEventually(grant.leaseId);
        return false;
      }
      this.leadingLeases.delete(handle.leaseId);
      this.line.observeHolder(lease.election, null);
      if (!handle.shared) this.revokeEventually(handle.leaseId);
      return true;
    });
  }

  private async readReservation(election: string): Promise<Reservation | null> {
    const key = this.reservationKeyOf(election);
    const [kv] = (await this.client.kv.range({ key }, this.callOptions())).kvs;
    if (kv === undefined) return null;
    return {
      ...decodeReservation(key.toString('utf8'), kv.value),
      remainingMs: await this.reservedMs(kv),
    };
  }

  /**
   * The reservation's rest, rounded down to etcd's whole seconds (never past it); under one
   * second, a quarter of a second (etcd looks for expired leases every half second).
   */
  private async reservedMs(kv: IKeyValue): Promise<number> {
    const { TTL } = await this.client.leaseClient.leaseTimeToLive(
      { ID: kv.lease },
      this.callOptions(),
    );
    return Number(TTL) > 0 ? Number(TTL) * 1_000 : 250;
  }

  private leaderKeyOf(election: string): string {
    return leaderKey(this.config.namespace, election);
  }

  private reservationKeyOf(election: string): Buffer {
    return Buffer.from(reservationKey(this.config.namespace, election));
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.watches.close();
      this.keepAlives.close();
      this.line.close();
      this.cleanups.close();
      this.memberRecords.clear();
      this.leadingLeases.clear();
      // Ends every channel and call; calls in flight reject, and `run` turns that into
      // StoreClosedError.
      this.client.close();
    }
    return Promise.resolve();
  }

  // ---------------------------------------------------------------- helpers

  /**
   * One write, so followers hear of the release after a single round trip. A lease granted
   * for this acquisition alone is revoked, which deletes the leader key with it; the handle
   * records the token it was granted for, so a lease whose token does not match (not ours)
   * releases nothing. On a member lease, the leader key is deleted only while it still
   * holds this acquisition's token: the lease may carry a later acquisition by then.
   */
  private async releaseNow(lease: Lease): Promise<void> {
    const handle = leaseHandle(lease);
    if (handle === null || handle.token !== lease.token) return;
    if (!handle.shared) {
      await this.revoke(handle.leaseId);
      return;
    }
    const released = await this.deleteIfHeld(lease, handle);
    if (released) {
      this.leadingLeases.delete(handle.leaseId);
      this.line.observeHolder(lease.election, null);
    }
  }

  /**
   * A renewal's check found the key gone or someone else's: a lease of this acquisition's
   * own (if it still runs) holds nothing; a member lease still holds the member record.
   */
  private renewalLost(lease: Lease, handle: EtcdLeaseHandle): void {
    this.leadingLeases.delete(handle.leaseId);
    if (!handle.shared && handle.token === lease.token) this.revokeEventually(handle.leaseId);
  }

  /** Delete the leader key if it still holds this acquisition; resolves to whether it did. */
  private async deleteIfHeld(owner: LeaseOwner, handle: EtcdLeaseHandle): Promise<boolean> {
    const key = Buffer.from(leaderKey(this.config.namespace, owner.election));
    const txn = await this.client.kv.txn(
      { compare: this.stillHeld(owner, handle), success: [{ request_delete_range: { key } }] },
      this.callOptions(),
    );
    return txn.succeeded;
  }

  /** Create the leader key on our new lease, unless someone holds it already. */
  private async claim(
    request: AcquireRequest,
    leaseId: string,
    grantedSeconds: number,
  ): Promise<AcquireResult> {
    let txn;
    try {
      txn = await this.claimTxn(request, leaseId);
    } catch (error) {
      // The txn may have landed although its answer did not reach us. Revoking the lease
      // deletes the key with it, so the election is not blocked by a holder nobody knows.
      this.revokeEventually(leaseId);
      throw error;
    }
    if (!txn.succeeded) {
      this.revokeEventually(leaseId);
      return this.refusalFromClaim(request.election, txn);
    }
    const handle = { leaseId, token: request.token, metadata: request.metadata ?? {} };
    return {
      acquired: true,
      lease: this.claimed(request, txn, { ...handle, shared: false }, grantedSeconds),
    };
  }

  /**
   * Create the leader key on the candidate's member lease, unless someone holds it already.
   * A keep-alive of that lease goes out with the claim, both after the elector noted when it
   * sent the acquire: etcd counts the TTL from no earlier than that, so the holder's deadline,
   * computed from that moment and the TTL this keep-alive grants, ends before the store's
   * expiry, as it does on a lease granted for the acquisition. Resolves to null when the
   * member lease is gone: the caller takes a lease of the acquisition's own.
   */
  private async claimOnMemberLease(
    request: AcquireRequest,
    leaseId: string,
  ): Promise<AcquireResult | null> {
    const handle: EtcdLeaseHandle = {
      leaseId,
      token: request.token,
      metadata: request.metadata ?? {},
      shared: true,
    };
    const [txn, keptAlive] = await Promise.allSettled([
      this.claimTxn(request, leaseId),
      this.keepAlive(leaseId),
    ]);
    if (txn.status === 'rejected') {
      if (isLeaseGone(txn.reason)) return this.forgetMemberLease(leaseId);
      // The claim may have landed although its answer did not reach us: take the key back
      // once etcd answers, where it still holds this acquisition (never a later one).
      this.cleanUpClaim(request, handle);
      throw txn.reason;
    }
    if (!txn.value.succeeded) return this.refusalFromClaim(request.election, txn.value);
    if (keptAlive.status === 'rejected') {
      this.cleanUpClaim(request, handle);
      throw keptAlive.reason;
    }
    const { ttlSeconds, host } = keptAlive.value;
    if (ttlSeconds <= 0) {
      // The lease ran out between the two (our key went with it), or the member that answered
      // is cut off and does not know it (see renew). Either way, this claim does not stand.
      this.quarantine.failed(host);
      this.cleanUpClaim(request, handle);
      this.forgetMemberLease(leaseId);
      throw new StoreUnavailableError(
        `etcd acquire: the member that answered the keep-alive does not know lease ${leaseId}`,
      );
    }
    this.leadingLeases.add(leaseId);
    this.line.observeHolder(request.election, request.holder);
    return { acquired: true, lease: this.claimed(request, txn.value, handle, ttlSeconds) };
  }

  /**
   * Claim where the leader key is free and no transfer's reservation keeps the claimant
   * out, in the claim's own txn: first as if there were none; when one admits the claimant
   * (its successor, or the holder that handed over), again on that very reservation, which
   * the claim deletes. Its lease, which holds nothing then, is revoked in the background.
   */
  private async claimTxn(request: AcquireRequest, leaseId: string): Promise<ITxnResponse> {
    const txn = await this.claimTxnOnce(request, leaseId, null);
    const reserved = reservationOf(txn);
    if (txn.succeeded || leaderOf(txn) !== undefined || reserved === undefined) return txn;
    const { successor, from } = decodeReservation(reserved.key.toString('utf8'), reserved.value);
    if (request.holder !== successor && request.holder !== from) return txn;
    const admitted = await this.claimTxnOnce(request, leaseId, reserved);
    if (admitted.succeeded) this.revokeEventually(reserved.lease);
    return admitted;
  }

  /** The claim's txn, on the reservation seen (`reserved`) or where there is none. */
  private claimTxnOnce(request: AcquireRequest, leaseId: string, reserved: IKeyValue | null) {
    const key = Buffer.from(this.leaderKeyOf(request.election));
    const reservation = this.reservationKeyOf(request.election);
    const value = encodeHolder(request.holder, request.token, request.metadata ?? {});
    const unreserved: ICompare =
      reserved === null
        ? { key: reservation, target: 'Create', result: 'Equal', create_revision: 0 }
        : { key: reservation, target: 'Mod', result: 'Equal', mod_revision: reserved.mod_revision };
    return this.client.kv.txn(
      {
        compare: [{ key, target: 'Create', result: 'Equal', create_revision: 0 }, unreserved],
        success: [
          { request_put: { key, value, lease: leaseId } },
          ...(reserved === null ? [] : [{ request_delete_range: { key: reservation } }]),
        ],
        failure: [{ request_range: { key } }, { request_range: { key: reservation } }],
      },
      this.callOptions(),
    );
  }

  private claimed(
    request: AcquireRequest,
    txn: ITxnResponse,
    handle: EtcdLeaseHandle,
    grantedSeconds: number,
  ): Lease {
    return {
      election: request.election,
      holder: request.holder,
      token: request.token,
      // The txn's revision is the put's, which is the key's create revision.
      term: revisionNumber(txn.header.revision, 'revision'),
      ttlMs: grantedSeconds * 1_000,
      notBeforeMs: 0,
      handle,
    };
  }

  private async refusalFromClaim(election: string, txn: ITxnResponse): Promise<AcquireResult> {
    // The failure branch reads both keys in the same txn that found one of them there.
    const winner = leaderOf(txn);
    if (winner !== undefined) return this.refusal(election, winner);
    const reserved = reservationOf(txn);
    if (reserved === undefined) return { acquired: false, current: null, retryAfterMs: 1 };
    const { successor } = decodeReservation(reserved.key.toString('utf8'), reserved.value);
    const retryAfterMs = await this.reservedMs(reserved);
    return { acquired: false, current: null, retryAfterMs, reservedFor: successor };
  }

  private cleanUpClaim(request: AcquireRequest, handle: EtcdLeaseHandle): void {
    this.cleanups.add(request.token, async () => {
      await this.deleteIfHeld(request, handle);
    });
  }

  /** The member lease is gone; the next heartbeat grants another. */
  private forgetMemberLease(leaseId: string): null {
    this.memberRecords.forget(leaseId);
    this.leadingLeases.delete(leaseId);
    return null;
  }

  private stillHeld(owner: LeaseOwner, handle: EtcdLeaseHandle): ICompare[] {
    const key = Buffer.from(leaderKey(this.config.namespace, owner.election));
    return [
      {
        key,
        target: 'Value',
        result: 'Equal',
        value: encodeHolder(owner.holder, owner.token, handle.metadata),
      },
      { key, target: 'Lease', result: 'Equal', lease: handle.leaseId },
    ];
  }

  private async refusal(election: string, holder: IKeyValue): Promise<AcquireResult> {
    const current = await this.describe(election, holder);
    return { acquired: false, current, retryAfterMs: current.remainingMs };
  }

  private async describe(election: string, holder: IKeyValue): Promise<LeaseRecord> {
    const value = decodeHolder(holder.key.toString('utf8'), holder.value);
    this.line.observeHolder(election, value.holder);
    let remaining: number | null = null;
    if (holder.lease !== '0') {
      const { TTL, grantedTTL } = await this.client.leaseClient.leaseTimeToLive(
        { ID: holder.lease },
        this.callOptions(),
      );
      remaining = remainingMs(Number(TTL), Number(grantedTTL));
    }
    return {
      election,
      holder: value.holder,
      term: revisionNumber(holder.create_revision, 'create revision'),
      metadata: value.metadata,
      remainingMs: remaining,
    };
  }

  /** A new lease; etcd may grant a longer TTL than asked (it has a minimum of a few seconds). */
  private async grantLease(
    wantedSeconds: number,
  ): Promise<{ leaseId: string; ttlSeconds: number }> {
    for (let attempt = 1; ; attempt += 1) {
      const leaseId = newLeaseId();
      try {
        const { TTL } = await this.client.leaseClient.leaseGrant(
          { ID: leaseId, TTL: wantedSeconds },
          this.callOptions(),
        );
        return { leaseId, ttlSeconds: Number(TTL) };
      } catch (error) {
        if (attempt >= 3 || !isLeaseTaken(error)) throw error;
      }
    }
  }

  private async revoke(leaseId: string): Promise<void> {
    try {
      await this.client.leaseClient.leaseRevoke({ ID: leaseId }, this.callOptions());
    } catch (error) {
      if (!isLeaseGone(error)) throw error;
    }
  }

  /** Revoke a lease of ours in the background, retrying until etcd confirms it. */
  private revokeEventually(leaseId: string): void {
    if (this.closed) return;
    this.revoke(leaseId).catch(() => {
      this.cleanups.add(leaseId, () => this.revoke(leaseId));
    });
  }

  /** One keep-alive; see keep-alive.ts. The granted TTL in seconds (≤ 0: gone), and who said so. */
  private keepAlive(leaseId: string): Promise<KeepAliveAnswer> {
    return this.keepAlives.keepAlive(leaseId, this.callOptions());
  }

  /** The calls the member records make, on this store's client and through its guard. */
  private memberCalls(): MemberCalls {
    return {
      client: this.client,
      callOptions: () => this.callOptions(),
      keepAlive: (leaseId) => this.keepAlive(leaseId),
      keepAliveMany: async (leaseIds) =>
        (await this.keepAlives.keepAliveMany(leaseIds, this.callOptions())).ttlSeconds,
      runsAtLeast: (leaseId, ms) => this.keepAlives.runsAtLeast(leaseId, ms),
      grantLease: (wantedSeconds) => this.grantLease(wantedSeconds),
      revoke: (leaseId) => this.revoke(leaseId),
      revokeEventually: (leaseId) => this.revokeEventually(leaseId),
      isLeading: (leaseId) => this.leadingLeases.has(leaseId),
      guarded: (work) => guardedCall(this.guard, 'member', work),
    };
  }

  private callOptions(): CallOptions {
    return { deadline: Date.now() + this.config.requestTimeoutMs };
  }
}

/** The leader key as a failed claim's txn read it (its first failure op). */
function leaderOf(txn: ITxnResponse): IKeyValue | undefined {
  return txn.succeeded ? undefined : txn.responses[0]?.response_range?.kvs[0];
}

/** The reservation key as a failed claim's txn read it (its second failure op). */
function reservationOf(txn: ITxnResponse): IKeyValue | undefined {
  return txn.succeeded ? undefined : txn.responses[1]?.response_range?.kvs[0];
}
