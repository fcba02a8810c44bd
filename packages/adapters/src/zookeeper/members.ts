import type { MemberRecord } from '@leasehold/core';
import zookeeper from 'node-zookeeper-client';
import { decodeMember } from '../records.js';
import { hasCode, ZooKeeperCode } from './errors.js';
import { encodeMember, type ZnodePaths } from './records.js';
import type { Znodes } from './znodes.js';

/**
 * Member records: one ephemeral znode per member, its data the record. Ephemeral, so a
 * member whose process dies goes with its session; and since the contract gives each record
 * a TTL of its own, the writer also deletes a record it has not rewritten within that TTL
 * (a process that is alive but stopped heartbeating must not be listed for ever).
 */
export class MemberRecords {
  /** Our records by path, with the timer that removes each when its TTL runs out. */
  private readonly own = new Map<string, NodeJS.Timeout>();
  /** The last listing of each election, and when it was taken (performance.now()). */
  private readonly listed = new Map<string, { records: MemberRecord[]; at: number }>();

  constructor(
    private readonly znodes: Znodes,
    private readonly paths: ZnodePaths,
  ) {}

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
    try {
      if (!(ours && (await this.overwrite(path, data)))) await this.create(path, data);
    } finally {
      this.expireAfter(path, ttlMs);
    }
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
    await this.znodes.remove(path);
  }

  /** A new session: our ephemeral records went with the old one. */
  forgetAll(): void {
    for (const path of [...this.own.keys()]) this.forget(path);
    this.listed.clear();
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
