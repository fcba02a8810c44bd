import { candidateOrderKey, type LeaseMetadata, type MemberRecord } from '@leasehold/core';

/** Value checks shared by the adapters that store JSON records (etcd, ZooKeeper). */

/** A member record as a store that picks the first in line itself keeps it. */
export type KeyedMember = MemberRecord & { readonly orderKey: string };

/**
 * The record with core's `candidateOrderKey`, for the stores that pick the first in line
 * in the store (Redis's Lua, PostgreSQL's SQL): they sort by this key bytewise, so the
 * order stays defined in core alone.
 */
export function withOrderKey(member: MemberRecord): KeyedMember {
  return { ...member, orderKey: candidateOrderKey(member) };
}

/** A stored member record as `members.list` answers it: the order key is the store's. */
export function withoutOrderKey(
  stored: MemberRecord & { readonly orderKey?: unknown },
): MemberRecord {
  const member: MemberRecord & { orderKey?: unknown } = { ...stored };
  delete member.orderKey;
  return member;
}

/** A holder record's JSON (`{holder, metadata, …}`), or null when the value is not one. */
export function parseHolder(
  value: Buffer | null | undefined,
): ({ holder: string; metadata: LeaseMetadata } & Record<string, unknown>) | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value?.toString('utf8') ?? '');
  } catch {
    return null;
  }
  return typeof parsed === 'object' &&
    parsed !== null &&
    'holder' in parsed &&
    typeof parsed.holder === 'string' &&
    'metadata' in parsed &&
    isMetadata(parsed.metadata)
    ? (parsed as { holder: string; metadata: LeaseMetadata } & Record<string, unknown>)
    : null;
}

/** A member record as `members.put` wrote it, or null for anything else. */
export function decodeMember(value: Buffer): MemberRecord | null {
  try {
    const parsed = JSON.parse(value.toString('utf8')) as Partial<MemberRecord> | null;
    if (
      typeof parsed?.id === 'string' &&
      typeof parsed.priority === 'number' &&
      typeof parsed.startedAt === 'number' &&
      typeof parsed.heartbeatAt === 'number' &&
      typeof parsed.isLeader === 'boolean' &&
      isMetadata(parsed.metadata)
    ) {
      return parsed as MemberRecord;
    }
  } catch {
    // Not ours: listed members are a best-effort view, so skip it.
  }
  return null;
}

export function isMetadata(value: unknown): value is LeaseMetadata {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((entry) => typeof entry === 'string')
  );
}
