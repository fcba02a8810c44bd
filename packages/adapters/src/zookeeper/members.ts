import type { MemberPut, MemberRecord } from '@leasehold/core';
import zookeeper from 'node-zookeeper-client';
import { decodeMember } from '../records.js';
import type { LeaderBarrier } from './barrier.js';
import { hasCode, ZooKeeperCode } from './errors.js';
import { MemberView } from './member-view.js';
import { encodeMember, type ZnodePaths } from './records.js';
import type { Znodes } from './znodes.js';

/**
 * Member records: one ephemeral znode per member, its data the record. Ephemeral, so a
 * member whose process dies goes with its session; and since the contract gives each record
 * a TTL of its own, the writer also deletes a record it has not rewritten within that TTL
 * (a process that is alive but stopped heartbeating must not be listed for ever).
 *
 * Batched (`putMany`, docs/design.md §3.8): the session keeps a record alive, so a heartbeat
 * rewrites it only when its content changed (its `heartbeatAt` aside) or it is missing, and
 * answers the lists from the MemberView after an ordering barrier.
 */
export class MemberRecords {
  /** Our records by path, with the timer that removes each when its TTL runs out. */
  private readonly own = new Map<string, NodeJS.Timeout>();
  /** What this session last wrote at each of our paths, while it is there. */
  private readonly written = new Map<string, Written>();
  /** The last listing of each election, and when it was taken (performance.now()). */
  private readonly listed = new Map<string, { records: MemberRecord[]; at: number }>();
  private readonly view: MemberView;

  constructor(
    private readonly znodes: Znodes,
    private readonly paths: ZnodePaths,
    private readonly barrier: LeaderBarrier,
  ) {
    this.view = new MemberView(znodes, paths, (path) => this.written.has(path));
  }

  /** Whether this session holds records (which a new session would lose). */
  get held(): boolean {
    return this.own.size > 0;
  }

  /**
   * The record's expiry waits while it is rewritten: after a stalled event loop both timers
   * are overdue, and an expiry that ran after the heartbeat's write was sent deleted the
   * record it had just renewed (a live candidate unlisted until its next heartbeat).
   */
  async put(election: string, member: MemberRecord, ttlMs: number): Promise<void> {
    const path = this.paths.member(election, member.id);
    const data = encodeMember(member);
    const ours = this.own.has(path);
    this.forget(path);
    // Until the write is answered, what the znode holds is not known.
    this.written.delete(path);
    try {
      if (!(ours && (await this.overwrite(path, data)))) await this.create(path, data);
      this.written.set(path, { key: contentKey(member), record: member });
    } finally {
      this.expireAfter(path, ttlMs);
    }
  }

  /**
   * Member heartbeats of many elections (`batch.putMembers`): first the elections' records,
   * fresh as of a barrier asked for at the call (member-view.ts); then each record written
   * only when it changed or is not listed (deleted behind our back, say), and each
   * election's live records answered. A record left as it was still has its TTL restarted
   * here, as a write would.
   */
  async putMany(puts: readonly MemberPut[]): Promise<MemberRecord[][]> {
    await this.barrier.wait();
    await this.view.settle(puts.map((put) => put.election));
    await Promise.all(puts.map((put) => this.putIfChanged(put)));
    return puts.map((put) => {
      const self = this.paths.member(put.election, put.member.id);
      const own = (path: string) => (path === self ? put.member : this.written.get(path)?.record);
      const records = this.view.records(put.election, own);
      if (!records.includes(put.member)) records.push(put.member);
      this.listed.set(put.election, { records, at: performance.now() });
      return records;
    });
  }

  private async putIfChanged({ election, member, ttlMs }: MemberPut): Promise<void> {
    const path = this.paths.member(election, member.id);
    const kept = this.written.get(path)?.key === contentKey(member);
    if (kept && this.own.has(path) && this.view.lists(election, path)) {
      this.expireAfter(path, ttlMs);
      return;
    }
    await this.put(election, member, ttlMs);
  }

  private async create(path: string, data: Buffer): Promise<void> {
    try {
      await this.znodes.create(path, data, zookeeper.CreateMode.EPHEMERAL);
    } catch (error) {
      // Still there from an earlier process with this id, whose session has not ended yet.
      if (!hasCode(error, ZooKeeperCode.NODE_EXISTS)) throw error;
      await this.znodes.setData(path, data);
    }
  }

  async list(election: string): Promise<MemberRecord[]> {
    const directory = this.paths.members(election);
    const names = (await this.znodes.children(directory)) ?? [];
    const records = await Promise.all(
      names.map((name) => this.znodes.data(`${directory}/${name}`)),
    );
    const members = records.flatMap((record) =>
      record?.data === undefined ? [] : (decodeMember(record.data) ?? []),
    );
    this.listed.set(election, { records: members, at: performance.now() });
    return members;
  }

  /**
   * The election's records as last listed (every elector lists them with each heartbeat), or
   * null when that listing is older than `maxAgeMs`: no round trip of its own.
   */
  recent(election: string, maxAgeMs: number): readonly MemberRecord[] | null {
    const last = this.listed.get(election);
    return last !== undefined && performance.now() - last.at <= maxAgeMs ? last.records : null;
  }

  async remove(election: string, id: string): Promise<void> {
    const path = this.paths.member(election, id);
    this.forget(path);
    this.written.delete(path);
    await this.znodes.remove(path);
  }

  /** A new session: our ephemeral records went with the old one. */
  forgetAll(): void {
    for (const path of [...this.own.keys()]) this.forget(path);
    this.written.clear();
    this.listed.clear();
    this.view.reset();
  }

  private async overwrite(path: string, data: Buffer): Promise<boolean> {
    try {
      await this.znodes.setData(path, data);
      return true;
    } catch (error) {
      if (hasCode(error, ZooKeeperCode.NO_NODE)) return false;
      throw error;
    }
  }

  private expireAfter(path: string, ttlMs: number): void {
    this.forget(path);
    const timer = setTimeout(() => {
      if (this.own.get(path) !== timer) return;
      this.own.delete(path);
      this.written.delete(path);
      this.znodes.remove(path).catch(() => {
        // Unreachable now: the record goes with the session if the process is in trouble,
        // or is replaced by the next heartbeat otherwise.
      });
    }, ttlMs);
    timer.unref();
    this.own.set(path, timer);
  }

  private forget(path: string): void {
    const timer = this.own.get(path);
    if (timer !== undefined) clearTimeout(timer);
    this.own.delete(path);
  }
}

/** What this session wrote at one of its paths. */
interface Written {
  /** The record's content as compared between heartbeats (`contentKey`). */
  readonly key: string;
  readonly record: MemberRecord;
}

/**
 * A record's content but for its `heartbeatAt`, which moves at every heartbeat: on
 * ZooKeeper the record's presence (its session, and our TTL timer) is its liveness.
 */
function contentKey(member: MemberRecord): string {
  return JSON.stringify({ ...member, heartbeatAt: 0 });
}
