import type { MemberRecord, MemberStore } from '@leasehold/core';
import { withOrderKey, withoutOrderKey } from '../records.js';
import type * as scripts from './scripts.js';

/** Runs one of scripts.ts's scripts by name (EVALSHA, then EVAL: RedisStore.script). */
export type RunScript = (
  name: keyof typeof scripts,
  keys: string[],
  args: string[],
) => Promise<unknown>;

/** The two keys of one election's member records (both in the election's slot). */
export interface MemberKeys {
  /** Hash: member id → its record as JSON, with core's order key. */
  readonly members: string;
  /** Sorted set: member id scored by when its record expires (by the server's clock). */
  readonly memberExpiry: string;
}

/**
 * Member records (docs/design.md §3.5): PUT_MEMBER, LIST_MEMBERS and REMOVE_MEMBER in
 * scripts.ts, on the election's members hash and expiry set; the RELEASE script reads them
 * to name the first in line by core's order key.
 */
export class MemberHash implements MemberStore {
  constructor(
    /** The election's member keys (RedisStore.keys). */
    private readonly keys: (election: string) => MemberKeys,
    /** Runs work on the store's connection, through its call guard. */
    private readonly onConnection: <T>(work: (script: RunScript) => Promise<T>) => Promise<T>,
  ) {}

  put(election: string, member: MemberRecord, ttlMs: number): Promise<void> {
    const keys = this.keys(election);
    return this.onConnection(async (script) => {
      await script(
        'PUT_MEMBER',
        [keys.members, keys.memberExpiry],
        [member.id, JSON.stringify(withOrderKey(member)), String(ttlMs)],
      );
    });
  }

  list(election: string): Promise<MemberRecord[]> {
    const keys = this.keys(election);
    return this.onConnection(async (script) => {
      const records = (await script('LIST_MEMBERS', [keys.members, keys.memberExpiry], [])) as (
        string | null
      )[];
      return records
        .filter((r): r is string => typeof r === 'string')
        .map((r) => withoutOrderKey(JSON.parse(r) as MemberRecord));
    });
  }

  remove(election: string, id: string): Promise<void> {
    const keys = this.keys(election);
    return this.onConnection(async (script) => {
      await script('REMOVE_MEMBER', [keys.members, keys.memberExpiry], [id]);
    });
  }
}
