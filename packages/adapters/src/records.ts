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
  // A rest copy, not `delete`: deleting a property turns the object into a dictionary, a
  // few times its size, and a sidecar of 1,000 elections reads thousands a renew interval.
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { orderKey, ...member } = stored;
  return member;
}

/**
 * `JSON.stringify(withOrderKey(member))` for a candidate that writes its record again and
 * again (its member heartbeat): from one tick to the next only `heartbeatAt` changes, so
 * the rest of the JSON (and its order key) is kept per election and made again only when
 * another field changes. A sidecar of 1,000 elections wrote 1,000 records a renew interval,
 * each serialised whole with a fresh order key. Only the text's field order differs
 * (`heartbeatAt` first); readers parse it. Without `orderKey`, `JSON.stringify(member)`.
 */
export class MemberJson {
  private readonly byElection = new Map<string, { member: MemberRecord; rest: string }>();
  private readonly orderKey: boolean;
  /** Elections kept at most; past that the cache starts over (a bound, not a policy). */
  private readonly limit: number;

  /** `orderKey: false`: the record as it is (SQLite ranks in core, not in the store). */
  constructor(options: { readonly orderKey?: boolean; readonly limit?: number } = {}) {
    this.orderKey = options.orderKey ?? true;
    this.limit = options.limit ?? 100_000;
  }

  of(election: string, member: MemberRecord): string {
    let kept = this.byElection.get(election);
    if (kept === undefined || !sameButHeartbeat(kept.member, member)) {
      if (this.byElection.size >= this.limit) this.byElection.clear();
      const keyed = this.orderKey ? withOrderKey(member) : member;
      const rest = JSON.stringify({ ...keyed, heartbeatAt: undefined });
      kept = { member, rest };
      this.byElection.set(election, kept);
    }
    const rest = kept.rest;
    return `{"heartbeatAt":${JSON.stringify(member.heartbeatAt)}${rest === '{}' ? '' : ','}${rest.slice(1)}`;
  }
}

/**
 * An election's listed member records (Redis: BEAT's and PUT_MEMBERS' lists) parsed as
 * `withoutOrderKey(JSON.parse(text))`, but a record whose text after its heartbeat time is
 * the one it had in the election's last list is not parsed again: from one tick to the
 * next a record changes only in `heartbeatAt` (`MemberJson` writes it first). Three
 * candidates of 1,000 elections: 3,000 records a tick, a few of them changed. Only the
 * last list is kept per election; text in any other shape is parsed whole.
 */
export class MemberLists {
  private readonly byElection = new Map<string, ListedMember[]>();
  private readonly limit: number;

  constructor(options: { readonly limit?: number } = {}) {
    this.limit = options.limit ?? 100_000;
  }

  read(election: string, texts: readonly (string | null)[]): MemberRecord[] {
    const before = this.byElection.get(election) ?? [];
    const now: ListedMember[] = [];
    const records: MemberRecord[] = [];
    for (const text of texts) {
      if (typeof text !== 'string') continue;
      const listed = readListed(text, before);
      now.push(listed);
      records.push(
        listed.heartbeatAt === null
          ? listed.record
          : { ...listed.record, heartbeatAt: listed.heartbeatAt },
      );
    }
    if (this.byElection.size >= this.limit && !this.byElection.has(election))
      this.byElection.clear();
    this.byElection.set(election, now);
    return records;
  }
}

/** A listed record: the text after its heartbeat time (null: not in that shape), parsed. */
interface ListedMember {
  readonly rest: string | null;
  readonly heartbeatAt: number | null;
  readonly record: MemberRecord;
}

const HEARTBEAT_FIRST = '{"heartbeatAt":';
const DIGITS = /^\d+$/;

function readListed(text: string, before: readonly ListedMember[]): ListedMember {
  const comma = text.startsWith(HEARTBEAT_FIRST) ? text.indexOf(',', HEARTBEAT_FIRST.length) : -1;
  const digits = comma === -1 ? '' : text.slice(HEARTBEAT_FIRST.length, comma);
  if (!DIGITS.test(digits)) {
    return {
      rest: null,
      heartbeatAt: null,
      record: withoutOrderKey(JSON.parse(text) as KeyedMember),
    };
  }
  const rest = text.slice(comma + 1);
  const heartbeatAt = Number(digits);
  const kept = before.find((listed) => listed.rest === rest);
  const record = kept?.record ?? withoutOrderKey(JSON.parse(text) as KeyedMember);
  return { rest, heartbeatAt, record };
}

/** Every field but `heartbeatAt` the same (by value; `metadata` by identity: it is kept). */
function sameButHeartbeat(a: MemberRecord, b: MemberRecord): boolean {
  let fields = 0;
  for (const key in a) {
    const field = key as keyof MemberRecord;
    if (field !== 'heartbeatAt' && a[field] !== b[field]) return false;
    fields += 1;
  }
  for (const key in b) {
    if (!(key in a)) return false;
    fields -= 1;
  }
  return fields === 0;
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
