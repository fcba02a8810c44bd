import type { MemberPut, MemberRecord, MemberStore } from '@leasehold/core';
import type Database from 'better-sqlite3';
import { MemberJson } from '../records.js';
import { hostNow } from './boot-id.js';

/** Where the records are: the open file, the members table, and this host's boot. */
interface MemberTable {
  readonly db: Database.Database;
  readonly table: string;
  readonly bootId: string;
}

/**
 * Member records (docs/design.md §3.5): one row per candidate, live until `expires_at` on
 * the host's monotonic clock, and only within the boot that wrote it (store.ts).
 */
export class MemberRows implements MemberStore {
  /** The upsert and the live-records SELECT, prepared once per open file (`statements`). */
  private prepared: {
    readonly db: Database.Database;
    readonly write: Database.Statement;
    readonly read: Database.Statement;
  } | null = null;
  /** Each election's record JSON but for its heartbeat time (`MemberJson`). */
  private readonly json = new MemberJson({ orderKey: false });

  constructor(
    /** The store's file and table (opened in its constructor, after this is made). */
    private readonly where: () => MemberTable,
    /** Runs a call through the store's call guard. */
    private readonly guarded: <T>(work: () => T) => Promise<T>,
  ) {}

  put(election: string, member: MemberRecord, ttlMs: number): Promise<void> {
    return this.guarded(() => this.write(election, member, ttlMs));
  }

  list(election: string): Promise<MemberRecord[]> {
    return this.guarded(() => this.read(election));
  }

  /**
   * Many elections' puts, each followed by its election's list, in ONE transaction
   * (LeaseStore.batch.putMembers, docs/design.md §3.8): one write lock, one commit.
   */
  putMany(puts: readonly MemberPut[]): Promise<MemberRecord[][]> {
    return this.guarded(() =>
      this.where()
        .db.transaction(() => this.putEach(puts))
        .immediate(),
    );
  }

  /** putMany's work, inside the caller's transaction (the store's `batch.beat`). */
  putEach(puts: readonly MemberPut[]): MemberRecord[][] {
    return puts.map(({ election, member, ttlMs }) => {
      this.write(election, member, ttlMs);
      return this.read(election);
    });
  }

  private write(election: string, member: MemberRecord, ttlMs: number): void {
    const { bootId } = this.where();
    this.statements().write.run(
      election,
      member.id,
      this.json.of(election, member),
      hostNow() + ttlMs,
      bootId,
      ttlMs,
    );
  }

  private read(election: string): MemberRecord[] {
    const { bootId } = this.where();
    const now = hostNow();
    const rows = this.statements().read.all(election, now, bootId, now) as { record: string }[];
    return rows.map((row) => JSON.parse(row.record) as MemberRecord);
  }

  /**
   * The two statements a heartbeat runs, prepared once for the open file, not twice per
   * election per tick (a sidecar of 1,000 elections prepared 2,000 statements a tick).
   */
  private statements(): NonNullable<MemberRows['prepared']> {
    const { db, table } = this.where();
    if (this.prepared?.db === db) return this.prepared;
    this.prepared = {
      db,
      write: db.prepare(
        `INSERT INTO ${table} (election, id, record, expires_at, boot, ttl_ms)
           VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (election, id) DO UPDATE SET record = excluded.record,
             expires_at = excluded.expires_at, boot = excluded.boot, ttl_ms = excluded.ttl_ms`,
      ),
      read: db.prepare(
        `SELECT record FROM ${table}
          WHERE election = ? AND expires_at > ? AND boot = ?
            AND (ttl_ms IS NULL OR expires_at - ? <= ttl_ms)`,
      ),
    };
    return this.prepared;
  }

  remove(election: string, id: string): Promise<void> {
    return this.guarded(() => {
      const { db, table } = this.where();
      db.prepare(`DELETE FROM ${table} WHERE election = ? AND id = ?`).run(election, id);
    });
  }
}
