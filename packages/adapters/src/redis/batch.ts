import type {
  AcquireRequest,
  AcquireResult,
  BatchStore,
  BeatAnswer,
  BeatRequest,
  Lease,
  LeaseRecord,
  MemberPut,
  MemberRecord,
  RenewResult,
} from '@leasehold/core';
import { MemberJson, MemberLists } from '../records.js';
import type { MemberKeys } from './members.js';
import { acquireArgs, acquireResult, type AcquireReply } from './replies.js';

/** The keys RENEW reads and writes for one election (RedisStore.keys). */
export interface RenewKeys {
  readonly lease: string;
  readonly info: string;
  readonly server: string;
}

/** The keys ACQUIRE reads and writes for one election, besides RENEW's. */
export interface ClaimKeys {
  readonly term: string;
  readonly reserved: string;
}

/** Member records written (`MemberJson`) and read back (`MemberLists`), per election. */
interface MemberCodec {
  readonly json: MemberJson;
  readonly lists: MemberLists;
}

/** What the batch needs of its store. */
export interface RedisBatchHost {
  keys(election: string): RenewKeys & ClaimKeys & MemberKeys;
  /** The key INCARNATION keeps for the namespace (one server: one key). */
  incarnationKey(election: string): string;
  /** Runs a script whose keys span elections (RENEW_MANY, …) through the guard. */
  acrossSlots(
    name: 'RENEW_MANY' | 'PUT_MEMBERS' | 'READ_MANY' | 'BEAT' | 'CLAIM_MANY',
    keys: string[],
    args: string[],
  ): Promise<unknown>;
  /** The store's own RENEW, for a Cluster. */
  renew(lease: Lease): Promise<RenewResult>;
  /** The store's own READ, for a Cluster. */
  read(election: string): Promise<LeaseRecord | null>;
  /** A READ reply as a record (store.ts), or null when the lock is free. */
  toRecord(election: string, reply: (string | number | null)[]): LeaseRecord | null;
  /** members.put then members.list, for a Cluster. */
  putMemberAlone(put: MemberPut): Promise<MemberRecord[]>;
  /** Whether the store talks to a Redis Cluster. */
  onCluster(): boolean;
}

/**
 * Batched renewals (docs/design.md §3.8) on one Redis server: ONE RENEW_MANY script call
 * for every lease, each answered as RENEW answers it. On a Cluster the elections' keys
 * live in different slots, which one script cannot touch: there each lease gets its own
 * RENEW (ioredis sends them to their masters together), so the batch saves timers and
 * wake-ups, not requests. Reads of many elections (`readMany`, for the followers) are one
 * READ_MANY call the same way, and one READ per election on a Cluster.
 *
 * Claims of many elections (`claimMany`) are one CLAIM_MANY call on one server. On a
 * Cluster there is none: the claims would go one ACQUIRE per election all the same, and
 * one ACQUIRE failing while others were granted would hide those grants from their
 * electors, which a single claim's late answer does not (the elector hands that back).
 * `onCluster` is asked once, here: a store's topology does not change.
 */
export function redisBatch(host: RedisBatchHost): BatchStore {
  const codec: MemberCodec = { json: new MemberJson(), lists: new MemberLists() };
  return {
    renewMany: async (leases) => {
      if (leases.length === 0) return [];
      if (host.onCluster()) return Promise.all(leases.map((lease) => host.renew(lease)));
      const keys: string[] = [];
      const args: string[] = [];
      pushRenewals(host, leases, keys, args);
      const replies = (await host.acrossSlots('RENEW_MANY', keys, args)) as number[];
      return leases.map((lease, i) =>
        replies[i] === 1 ? { renewed: true, ttlMs: lease.ttlMs } : { renewed: false },
      );
    },
    putMembers: (puts) => putMembers(host, codec, puts),
    readMany: async (elections) => {
      if (elections.length === 0) return [];
      if (host.onCluster()) return Promise.all(elections.map((election) => host.read(election)));
      const keys = elections.flatMap((election) => {
        const { lease, info, server } = host.keys(election);
        return [lease, info, server];
      });
      const replies = (await host.acrossSlots('READ_MANY', keys, [])) as (
        string | number | null
      )[][];
      return elections.map((election, i) => host.toRecord(election, replies[i] ?? []));
    },
    beat: (request) => beat(host, codec, request),
    ...(host.onCluster() ? {} : { claimMany: (requests) => claimMany(host, requests) }),
    // A claim runs ~10 commands in the script: 500 claims (2,501 keys) a call keep the server
    // busy for about as long as a 4,000-item BEAT (docs/design.md §3.8).
    maxClaims: 500,
    maxReads: 1_000,
    // Lua keeps the server busy while it runs: a bounded script keeps other clients served.
    maxLeases: 500,
    // A tick of 1,000 elections (a leader's renewals and records, 2,000 items; 5,000 keys
    // and 5,003 arguments) runs in one script of a few ms; Redis caps neither count below
    // that (a command may carry 1,048,576 arguments), so the bound is the script's time.
    maxBeat: 4_000,
  };
}

/**
 * One tick in ONE BEAT script call (scripts.ts), each part answered as renewMany,
 * putMembers and readMany answer it. On a Cluster, each part as those do there. Keys and
 * arguments are pushed in loops, one array each: a tick of 1,000 elections has 5,000 keys.
 */
async function beat(
  host: RedisBatchHost,
  codec: MemberCodec,
  request: BeatRequest,
): Promise<BeatAnswer> {
  const { renewals, puts, reads } = request;
  if (host.onCluster()) {
    const [renewed, members, records] = await Promise.all([
      Promise.all(renewals.map((lease) => host.renew(lease))),
      Promise.all(puts.map((put) => host.putMemberAlone(put))),
      Promise.all(reads.map((election) => host.read(election))),
    ]);
    return { renewals: renewed, members, reads: records };
  }
  if (renewals.length + puts.length + reads.length === 0) {
    return { renewals: [], members: [], reads: [] };
  }
  const keys: string[] = [];
  const args = [String(renewals.length), String(puts.length), String(reads.length)];
  pushRenewals(host, renewals, keys, args);
  pushPuts(host, codec.json, puts, keys, args);
  for (const election of reads) {
    const { lease, info, server } = host.keys(election);
    keys.push(lease, info, server);
  }
  const [renewed = [], lists = [], records = []] = (await host.acrossSlots('BEAT', keys, args)) as [
    number[]?,
    (string | null)[][]?,
    (string | number | null)[][]?,
  ];
  return {
    renewals: renewals.map((lease, i) =>
      renewed[i] === 1 ? { renewed: true, ttlMs: lease.ttlMs } : { renewed: false },
    ),
    members: puts.map(({ election }, i) => codec.lists.read(election, lists[i] ?? [])),
    reads: reads.map((election, i) => host.toRecord(election, records[i] ?? [])),
  };
}

/** RENEW's keys (lease, info, server) and arguments (token, ttlMs) of each lease, in turn. */
function pushRenewals(
  host: RedisBatchHost,
  leases: readonly Lease[],
  keys: string[],
  args: string[],
): void {
  for (const { election, token, ttlMs } of leases) {
    const { lease, info, server } = host.keys(election);
    keys.push(lease, info, server);
    args.push(token, String(ttlMs));
  }
}

/** PUT_MEMBER's keys (members, expiry) and arguments (id, record, ttlMs) of each put. */
function pushPuts(
  host: RedisBatchHost,
  json: MemberJson,
  puts: readonly MemberPut[],
  keys: string[],
  args: string[],
): void {
  for (const { election, member, ttlMs } of puts) {
    const { members, memberExpiry } = host.keys(election);
    keys.push(members, memberExpiry);
    args.push(member.id, json.of(election, member), String(ttlMs));
  }
}

/** PUT_MEMBERS on one server; on a Cluster, each election's put and list (members.ts). */
async function putMembers(
  host: RedisBatchHost,
  codec: MemberCodec,
  puts: readonly MemberPut[],
): Promise<MemberRecord[][]> {
  if (puts.length === 0) return [];
  if (host.onCluster()) return Promise.all(puts.map((put) => host.putMemberAlone(put)));
  const keys: string[] = [];
  const args: string[] = [];
  pushPuts(host, codec.json, puts, keys, args);
  const lists = (await host.acrossSlots('PUT_MEMBERS', keys, args)) as (string | null)[][];
  return puts.map(({ election }, i) => codec.lists.read(election, lists[i] ?? []));
}

/**
 * ONE CLAIM_MANY call (scripts.ts): each claim judged by ACQUIRE's own Lua function, in
 * order, and answered as tryAcquire answers it. A granted claim that may have found stale
 * state waits what INCARNATION says (read in the same call), or a whole TTL when the
 * answer came from another server, as tryAcquire's lossWaitMs.
 */
async function claimMany(
  host: RedisBatchHost,
  requests: readonly AcquireRequest[],
): Promise<AcquireResult[]> {
  const first = requests[0];
  if (first === undefined) return [];
  const keys = requests.flatMap(({ election }) => {
    const { lease, info, term, server, reserved } = host.keys(election);
    return [lease, info, term, server, reserved];
  });
  keys.push(host.incarnationKey(first.election));
  const args = requests.flatMap(acquireArgs);
  const [replies, incarnation] = (await host.acrossSlots('CLAIM_MANY', keys, args)) as [
    AcquireReply[],
    [number, string] | null,
  ];
  if (replies.length !== requests.length) {
    throw new Error(`CLAIM_MANY answered ${replies.length} claims of ${requests.length}`);
  }
  return requests.map((request, i) => {
    const reply = replies[i] as AcquireReply;
    const stale = reply[0] === 1 && reply[2] === 1;
    return acquireResult(request, reply, stale ? lossWaitMs(incarnation, reply, request) : 0);
  });
}

/** tryAcquire's wait after a claim that may have found stale state (store.ts lossWaitMs). */
function lossWaitMs(
  incarnation: [number, string] | null,
  reply: AcquireReply,
  request: AcquireRequest,
): number {
  if (incarnation === null || incarnation[1] !== String(reply[3])) return request.ttlMs;
  return Math.max(0, request.ttlMs - incarnation[0]);
}
