import type { LeaseMetadata, MemberRecord } from '@leasehold/core';

/** Value checks shared by the adapters that store JSON records (etcd, ZooKeeper). */

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
