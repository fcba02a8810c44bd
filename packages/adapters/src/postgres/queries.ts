import { randomBytes } from 'node:crypto';

/** The SQL fragments the lease statements share (store.ts composes the statements). */

/** Takes the claim's fresh random lock ($6) in the claim's own statement. */
export const TRY_LOCK_SQL = 'SELECT pg_try_advisory_lock($6::bigint) AS locked';

/**
 * The server's WAL timeline: the first 8 hex digits of the current WAL file's name. It rises
 * when a standby is promoted (a failover) and when a backup is restored to a point in time:
 * exactly when the server may lack the last writes another server took. Rows record it.
 */
export const WAL_TIMELINE_SQL = `('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int`;

/** Rows of pg_locks for a granted advisory lock on the bigint `id`: a bigint key is two oids. */
export function lockHeldSql(id: string): string {
  return `SELECT 1 FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND objsubid = 1
      AND classid = ((${id} >> 32) & 4294967295)::oid AND objid = (${id} & 4294967295)::oid`;
}

/**
 * A term past any the server may have forgotten: microseconds of the server's clock. Used
 * when the claim finds a row of another WAL timeline, or no row on a server that has been
 * promoted or restored (timeline above 1): claims the old primary granted after the last
 * write this server has were lost with it, their terms too, and the next term must still
 * be higher than each of them (fencing). They counted up by one from the row's term, far
 * slower than the clock (as on Redis, which draws terms from the server clock likewise).
 */
export const CLOCK_TERM_SQL = `(extract(epoch FROM clock_timestamp()) * 1000000)::bigint`;

/** Whether this session holds the lock it claims with ($6). */
export const HOLDS_LOCK_SQL = `SELECT EXISTS (${lockHeldSql('$6::bigint')} AND pid = pg_backend_pid()) AS locked`;

/** A fresh advisory lock id for one claim: nobody can take it before we do. */
export function randomLockId(): string {
  return randomBytes(8).readBigInt64BE(0).toString();
}

/**
 * A transfer's reservation (docs/design.md §3.6) lets the claimant ($2) in: there is none,
 * it lapsed by the database clock, or it names the claimant as successor or as the holder
 * that handed over. Part of the claim's own WHERE, on the row the update replaces.
 */
export const ADMITTED_BY_RESERVATION_SQL = `(l.reserved_until IS NULL OR l.reserved_until <= now()
           OR $2 = l.reserved_for OR $2 = l.reserved_from)`;

/**
 * Renew many leases in ONE statement (LeaseStore.batch, docs/design.md §3.8), each row as
 * `renew` updates it: conditional on its own token, its own TTL. $1 elections, $2 tokens,
 * $3 TTLs in ms, in the same order. Returns the elections renewed; the others were lost.
 */
export function renewManySql(leases: string): string {
  return `UPDATE ${leases} AS l
     SET renewed_at = now(), expires_at = now() + make_interval(secs => b.ttl_ms / 1000),
         timeline = ${WAL_TIMELINE_SQL}
    FROM unnest($1::text[], $2::text[], $3::double precision[]) AS b(election, token, ttl_ms)
   WHERE l.election = b.election AND l.token = b.token AND NOT l.released
  RETURNING l.election`;
}
