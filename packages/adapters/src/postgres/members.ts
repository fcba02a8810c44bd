import type { MemberPut, MemberRecord, MemberStore } from '@leasehold/core';
import { withOrderKey, withoutOrderKey } from '../records.js';
import type { SerialQueries } from './serial-queries.js';

/**
 * Member records (docs/design.md §3.5): one row per candidate in the schema's members
 * table, its record as JSON with core's order key (the release picks the first in line by
 * it, store.ts), live until `expires_at` by the database clock.
 */
export class MemberRows implements MemberStore {
  constructor(
    /** The qualified members table (the schema's tables are named at construction). */
    private readonly table: () => string,
    /** Runs a statement on the store's session, through its call guard. */
    private readonly onSession: <T>(work: (statements: SerialQueries) => Promise<T>) => Promise<T>,
  ) {}

  put(election: string, member: MemberRecord, ttlMs: number): Promise<void> {
    return this.onSession(async (statements) => {
      await statements.query(
        `INSERT INTO ${this.table()} (election, id, record, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4::double precision / 1000))
         ON CONFLICT (election, id) DO UPDATE SET record = excluded.record, expires_at = excluded.expires_at`,
        [election, member.id, JSON.stringify(withOrderKey(member)), ttlMs],
      );
    });
  }

  list(election: string): Promise<MemberRecord[]> {
    return this.onSession(async (statements) => {
      const { rows } = await statements.query<{ record: MemberRecord }>(
        `SELECT record FROM ${this.table()} WHERE election = $1 AND expires_at > now()`,
        [election],
      );
      return rows.map((row) => withoutOrderKey(row.record));
    });
  }

  /**
   * Many elections' puts and lists in ONE statement (LeaseStore.batch.putMembers,
   * docs/design.md §3.8). The statement's SELECT sees the table as it was before its own
   * INSERT, so each election's list is the rows just written plus the other live ones.
   */
  putMany(puts: readonly MemberPut[]): Promise<MemberRecord[][]> {
    return this.onSession(async (statements) => {
      const { rows } = await statements.query<{ election: string; record: MemberRecord }>(
        `WITH put AS (
           INSERT INTO ${this.table()} (election, id, record, expires_at)
           SELECT p.election, p.id, p.record::jsonb, now() + make_interval(secs => p.ttl_ms / 1000)
             FROM unnest($1::text[], $2::text[], $3::text[], $4::double precision[])
               AS p(election, id, record, ttl_ms)
           ON CONFLICT (election, id) DO UPDATE SET record = excluded.record, expires_at = excluded.expires_at
           RETURNING election, id, record)
         SELECT election, record FROM put
         UNION ALL
         SELECT m.election, m.record FROM ${this.table()} m
          WHERE m.election = ANY($1::text[]) AND m.expires_at > now()
            AND NOT EXISTS (SELECT 1 FROM put WHERE put.election = m.election AND put.id = m.id)`,
        [
          puts.map((p) => p.election),
          puts.map((p) => p.member.id),
          puts.map((p) => JSON.stringify(withOrderKey(p.member))),
          puts.map((p) => p.ttlMs),
        ],
      );
      return puts.map(({ election }) =>
        rows.filter((row) => row.election === election).map((row) => withoutOrderKey(row.record)),
      );
    });
  }

  remove(election: string, id: string): Promise<void> {
    return this.onSession(async (statements) => {
      await statements.query(`DELETE FROM ${this.table()} WHERE election = $1 AND id = $2`, [
        election,
        id,
      ]);
    });
  }
}
