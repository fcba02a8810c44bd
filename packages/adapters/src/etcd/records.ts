import { randomBytes } from 'node:crypto';
import { StoreProtocolError, type Lease, type LeaseMetadata } from '@leasehold/core';
import { isMetadata, parseHolder } from '../records.js';

/**
 * Key layout and value encoding.
 *
 *   <namespace>/elections/<election>/leader        {holder, token, metadata}, on the holder's lease
 *   <namespace>/elections/<election>/members/<id>  a MemberRecord, on that member's own lease
 *   <namespace>/elections/<election>/reservation   {successor, from}, a transfer's (§3.6),
 *                                                  on an etcd lease of its own
 *
 * Names are URI-encoded so that no election or member id can reach into another's keys.
 */

/**
 * What a lease's handle carries: the etcd lease id, the token it was granted for, the
 * metadata the leader key was written with, and whether the etcd lease is the candidate's
 * member lease (shared with its member record and later acquisitions) rather than one
 * granted for this acquisition alone.
 */
export interface EtcdLeaseHandle {
  readonly leaseId: string;
  readonly token: string;
  readonly metadata: LeaseMetadata;
  readonly shared: boolean;
}

interface HolderValue {
  readonly holder: string;
  readonly token: string;
  readonly metadata: LeaseMetadata;
}

export function leaderKey(namespace: string, election: string): string {
  return `${electionPrefix(namespace, election)}leader`;
}

/** Where a transfer's reservation lives while it holds (docs/design.md §3.6). */
export function reservationKey(namespace: string, election: string): string {
  return `${electionPrefix(namespace, election)}reservation`;
}

/** Who a reservation admits: its successor, and the holder that handed over. */
export interface ReservedFor {
  readonly successor: string;
  readonly from: string;
}

export function encodeReservation(reserved: ReservedFor): Buffer {
  return Buffer.from(JSON.stringify({ successor: reserved.successor, from: reserved.from }));
}

/** A reservation's value; one leasehold did not write is an error, as for the leader key. */
export function decodeReservation(key: string, value: Buffer): ReservedFor {
  try {
    const parsed = JSON.parse(value.toString('utf8')) as Partial<ReservedFor> | null;
    if (typeof parsed?.successor === 'string' && typeof parsed.from === 'string') {
      return { successor: parsed.successor, from: parsed.from };
    }
  } catch {
    // reported below
  }
  throw notWrittenByUs(key);
}

/** A key of leasehold's layout holds something else: fatal, the operator must clean up. */
function notWrittenByUs(key: string): StoreProtocolError {
  return new StoreProtocolError(
    `the etcd key "${key}" holds a value leasehold did not write; remove it or use another namespace`,
  );
}

export function membersPrefix(namespace: string, election: string): string {
  return `${electionPrefix(namespace, election)}members/`;
}

export function memberKey(namespace: string, election: string, id: string): string {
  return `${membersPrefix(namespace, election)}${encodeURIComponent(id)}`;
}

function electionPrefix(namespace: string, election: string): string {
  return `${namespace}/elections/${encodeURIComponent(election)}/`;
}

/** The first key after every key that starts with `prefix` (etcd's range_end for a prefix). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i -= 1) {
    if ((end[i] ?? 0xff) < 0xff) {
      end[i] = (end[i] ?? 0) + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/**
 * The leader key's value. Deterministic for the same arguments, so a renew can ask etcd to
 * compare the stored value with the one its own token would have written.
 */
export function encodeHolder(holder: string, token: string, metadata: LeaseMetadata): Buffer {
  const value: HolderValue = { holder, token, metadata };
  return Buffer.from(JSON.stringify(value));
}

export function decodeHolder(key: string, value: Buffer): HolderValue {
  const parsed = parseHolder(value);
  if (parsed !== null && typeof parsed.token === 'string') {
    return { holder: parsed.holder, token: parsed.token, metadata: parsed.metadata };
  }
  throw notWrittenByUs(key);
}

export function leaseHandle(lease: Lease): EtcdLeaseHandle | null {
  const handle = lease.handle;
  if (
    typeof handle === 'object' &&
    handle !== null &&
    'leaseId' in handle &&
    typeof handle.leaseId === 'string' &&
    'token' in handle &&
    typeof handle.token === 'string' &&
    'metadata' in handle &&
    isMetadata(handle.metadata)
  ) {
    const shared = 'shared' in handle && handle.shared === true;
    return { leaseId: handle.leaseId, token: handle.token, metadata: handle.metadata, shared };
  }
  return null;
}

/**
 * A lease id of our choosing, below 2^53. etcd's own ids use all 64 bits, which survive the
 * trip through protobufjs only while it finds the \`long\` package at run time; it does not
 * under vitest or in bundles, and a rounded id names another (or no) lease. Ids we choose
 * are exact as JavaScript numbers and strings alike. A collision (2^-53 per live lease) makes
 * etcd refuse the grant, and the caller draws again.
 */
export function newLeaseId(): string {
  const id = randomBytes(8).readBigUInt64BE() >> 11n;
  return String(id === 0n ? 1n : id);
}

/** etcd grants whole seconds: ask for the TTL rounded up, never less than requested. */
export function ttlSeconds(ttlMs: number): number {
  return Math.max(1, Math.ceil(ttlMs / 1_000));
}

/**
 * etcd answers a lease's remaining TTL in whole seconds, rounded down. Report the upper end of
 * that second (capped at the granted TTL), so a follower that trusts the hint tries just after
 * the expiry rather than just before it, when it could only fail. The watch wakes followers
 * at the exact moment etcd deletes the key anyway.
 */
export function remainingMs(ttlSeconds: number, grantedSeconds: number): number {
  if (ttlSeconds < 0 || grantedSeconds <= 0) return 1; // the lease just went: try now
  return Math.min(grantedSeconds, ttlSeconds + 1) * 1_000;
}

/** etcd's int64s arrive as decimal strings; leasehold's terms are safe integers. */
export function revisionNumber(text: string, what: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new StoreProtocolError(`etcd returned ${what} ${JSON.stringify(text)}, not a revision`);
  }
  return value;
}
