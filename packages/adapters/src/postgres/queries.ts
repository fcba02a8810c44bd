import { FOLLOWERS_WOKEN_ON_RELEASE } from '@leasehold/core';
import { randomBytes } from 'node:crypto';
import type { Tables } from './schema.js';

/**
 * The SQL the store runs (store.ts) and its session's settings (session.ts); the DDL is in
 * schema.ts and the member statements in members.ts. Tables are passed in qualified.
 */

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
 * A transfer's reservation (docs/design.md §3.6) lets the claimant (an SQL expression) in:
 * there is none, it lapsed by the database clock, or it names the claimant as successor or
 * as the holder that handed over. Part of the claim's own WHERE, on the row it replaces.
 */
function admittedByReservationSql(claimant: string): string {
  return `(l.reserved_until IS NULL OR l.reserved_until <= now()
           OR ${claimant} = l.reserved_for OR ${claimant} = l.reserved_from)`;
}

/**
 * Whether a claim may take the row the update replaces (`l`): it is released, expired, or
 * names the claim's own lock, or its holder's session is gone (`holderGone`, an SQL test
 * of l.lock_id made after the row is locked); and the reservation admits `claimant`.
 */
function claimableSql(holderGone: string, claimant: string): string {
  return `(l.released OR l.expires_at <= now() OR l.lock_id = excluded.lock_id
           OR (l.lock_id IS NOT NULL AND ${holderGone}))
          AND ${admittedByReservationSql(claimant)}`;
}

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

// ------------------------------------------------------------ the lease statements (store.ts)

/**
 * A claim's update of the row it takes (claimSql): the new holder, the next
 * term (past the clock's on another WAL timeline), no reservation, and how long the new
 * holder must wait for the last one (`ttlMs`: the claim's TTL in ms, an SQL expression).
 */
function claimSetSql(ttlMs: string): string {
  return `SET holder = excluded.holder, token = excluded.token,
              term = CASE WHEN l.timeline <> excluded.timeline
                       THEN greatest(l.term + 1, ${CLOCK_TERM_SQL}) ELSE l.term + 1 END,
              metadata = excluded.metadata, renewed_at = excluded.renewed_at,
              expires_at = excluded.expires_at, released = false, timeline = excluded.timeline,
              lock_id = excluded.lock_id,
              reserved_for = NULL, reserved_from = NULL, reserved_until = NULL,
              claim_wait_ms = CASE
                WHEN l.timeline <> excluded.timeline
                  THEN greatest(${ttlMs}, ceil(extract(epoch FROM l.expires_at - l.renewed_at) * 1000))
                WHEN l.released OR l.expires_at <= now() THEN 0
                ELSE ceil(extract(epoch FROM l.expires_at - now()) * 1000) END`;
}

/**
 * Claim the row in ONE statement, only if the session holds the lock ('try': a fresh
 * random one, taken in the same statement; 'held': checked in pg_locks) and the row is
 * free: released, expired, or its holder's lock held by no session (that session died),
 * or naming this very lock. Raise the term, and record how long the new holder must wait
 * for the last one. One statement is one transaction of its own: nothing else queued on
 * this session can land inside it. The conditions and the wait are computed from the row
 * the update replaces (ON CONFLICT waits for a release or renewal still committing and
 * then sees it), not from an earlier snapshot. $1 election, $2 holder, $3 token, $4
 * metadata (JSON), $5 TTL in ms, $6 the lock id. Returns whether the session holds the
 * lock, and the term, token and wait of the row it claimed (null when it was not free).
 */
export function claimSql(leases: string, mode: 'try' | 'held'): string {
  return `WITH lock AS (${mode === 'try' ? TRY_LOCK_SQL : HOLDS_LOCK_SQL}),
       claimed AS (
       INSERT INTO ${leases} AS l
              (election, holder, token, term, metadata, renewed_at, expires_at, released, claim_wait_ms,
               timeline, lock_id)
       SELECT $1, $2, $3, CASE WHEN ${WAL_TIMELINE_SQL} > 1 THEN ${CLOCK_TERM_SQL} ELSE 1 END, $4, now(),
              now() + make_interval(secs => $5::double precision / 1000), false, 0, ${WAL_TIMELINE_SQL},
              $6::bigint
         FROM lock WHERE locked
       ON CONFLICT (election) DO UPDATE
          ${claimSetSql('$5::double precision')}
        WHERE ${claimableSql(`NOT EXISTS (${lockHeldSql('l.lock_id')})`, '$2')}
       RETURNING l.term::text AS term, l.token, l.claim_wait_ms::float8 AS wait_ms)
       SELECT lock.locked, claimed.term, claimed.token, claimed.wait_ms
         FROM lock LEFT JOIN claimed ON true`;
}

/**
 * Whether the session holding advisory lock `id` is gone, judged when this is evaluated,
 * never from an earlier snapshot (docs/design.md §3.8, "Claims in batches"): a probe that
 * takes the lock and gives it back at once. Inside a claim's ON CONFLICT WHERE it runs on
 * the row the update holds locked, after any wait for that row, so the lock it probes is
 * the one the row names now; a holder that claimed while the statement waited holds its
 * lock from before its row was committed (it takes it first, in its own statement), and the
 * probe fails. Advisory locks are reentrant: on a lock this very session holds (`mine`, an
 * SQL array of its lock ids read before any probe) the probe would succeed, so those are
 * never gone. CASE evaluates its branches in order: the unlock runs only after a probe that
 * took the lock, and returns true.
 */
function holderGoneSql(id: string, mine: string): string {
  return `CASE WHEN ${id} = ANY(${mine}) THEN false
               WHEN pg_try_advisory_lock(${id}) THEN pg_advisory_unlock(${id})
               ELSE false END`;
}

/**
 * Many claims in ONE statement (LeaseStore.batch.claimMany, docs/design.md §3.8), each
 * judged and written as claimSql's 'try' mode does it: a fresh random lock per claim,
 * taken first (`lock`); a row taken only when its lock was; the term, the wait and the
 * reservation as claimSql. A row's holder is gone when holderGoneSql says so on the locked
 * row (claimSql looks it up in pg_locks after the row lock instead: one row, one lookup;
 * here pg_locks is read once, for this session's own locks, which only this statement
 * could change). When a fresh lock was not taken (another session holds an id drawn at
 * random), no row is written at all. Rows are claimed in the order of their election, so
 * that two batches lock rows in one order and never deadlock. $1 elections, $2 holders,
 * $3 tokens, $4 metadata (JSON), $5 TTLs in ms, $6 lock ids, in the same order. One row per
 * claim: whether its lock was taken, and the term, token and wait of the row it claimed
 * (null when it was not free).
 */
export function claimManySql(leases: string): string {
  return `WITH mine AS MATERIALIZED (
         SELECT coalesce(array_agg((classid::bigint << 32) | objid::bigint), '{}') AS ids
           FROM pg_locks
          WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND pid = pg_backend_pid()),
       req AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                              $5::double precision[], $6::bigint[])
           AS r(election, holder, token, metadata, ttl_ms, lock_id)),
       lock AS MATERIALIZED (
         SELECT req.*, pg_try_advisory_lock(req.lock_id) AS locked FROM mine, req),
       claimed AS (
       INSERT INTO ${leases} AS l
              (election, holder, token, term, metadata, renewed_at, expires_at, released, claim_wait_ms,
               timeline, lock_id)
       SELECT election, holder, token, CASE WHEN ${WAL_TIMELINE_SQL} > 1 THEN ${CLOCK_TERM_SQL} ELSE 1 END,
              metadata::jsonb, now(), now() + make_interval(secs => ttl_ms / 1000), false, 0,
              ${WAL_TIMELINE_SQL}, lock_id
         FROM lock WHERE locked AND NOT EXISTS (SELECT 1 FROM lock WHERE NOT locked)
        ORDER BY election
       ON CONFLICT (election) DO UPDATE
          ${claimSetSql('extract(epoch FROM excluded.expires_at - excluded.renewed_at) * 1000')}
        WHERE ${claimableSql(holderGoneSql('l.lock_id', '(SELECT ids FROM mine)::bigint[]'), 'excluded.holder')}
       RETURNING l.election, l.term::text AS term, l.token, l.claim_wait_ms::float8 AS wait_ms)
       SELECT lock.election, lock.locked, claimed.term, claimed.token, claimed.wait_ms
         FROM lock LEFT JOIN claimed ON claimed.election = lock.election`;
}

/**
 * The claims of a batch that did not take their row: unlock their fresh locks ($2; ids of
 * this session's), then answer, per election of $1, what refused() reads for a single
 * claim: the live lease and the running reservation. The unlocks are the left side of the
 * join, so they run even when $1 is empty (one row of nulls then).
 */
export function refusedManySql(leases: string): string {
  return `WITH unlocked AS MATERIALIZED (
         SELECT count(pg_advisory_unlock(id)) AS unlocked FROM unnest($2::bigint[]) AS id)
       SELECT r.election,
              CASE WHEN NOT l.released AND l.expires_at > now() THEN l.holder END AS holder,
              l.term::text AS term, l.metadata,
              ceil(extract(epoch FROM l.expires_at - now()) * 1000)::float8 AS remaining_ms,
              CASE WHEN l.reserved_until > now() THEN l.reserved_for END AS successor,
              l.reserved_from AS "from",
              floor(extract(epoch FROM l.reserved_until - now()) * 1000)::float8 AS reserved_ms
         FROM unlocked LEFT JOIN (unnest($1::text[]) AS r(election)
              LEFT JOIN ${leases} AS l ON l.election = r.election) ON true`;
}

/** Unlock the advisory lock $1 (false when this session did not hold it). */
export const UNLOCK_SQL = 'SELECT pg_advisory_unlock($1::bigint)';

/** Renew one lease: $1 election, $2 token, $3 TTL in ms; one row when it was still ours. */
export function renewSql(leases: string): string {
  return `UPDATE ${leases}
              SET renewed_at = now(), expires_at = now() + make_interval(secs => $3::double precision / 1000),
                  timeline = ${WAL_TIMELINE_SQL}
            WHERE election = $1 AND token = $2 AND NOT released`;
}

/**
 * Release in one statement: mark the row released, then (once the update holds that row)
 * unlock ($6, when `unlock`), and notify on channel $1 the election's tag ($5) followed by
 * the tags of the first in line after holder $3. $2 election, $4 token.
 */
export function releaseSql(tables: Tables, unlock: boolean): string {
  return `WITH released AS (
             UPDATE ${tables.leases} SET released = true, expires_at = now()
              WHERE election = $2 AND token = $4 RETURNING 1)
           SELECT ${unlock ? 'pg_advisory_unlock($6::bigint)' : 'NULL'} AS unlocked,
                  pg_notify($1, $5 || coalesce((${firstInLineSql(tables)}), ''))
             FROM (SELECT count(*) FROM released) AS done`;
}

/**
 * The tags of the first in line after holder $3 of election $2, each after a newline, as
 * wakeUpTag computes them. The line is core's candidate order: the records' order keys,
 * bytewise (COLLATE "C", not the database's collation); a record written before sidecars
 * kept the key goes last. The key is read where it is kept: it never travels as a
 * parameter (which a server logging statements would write down).
 */
function firstInLineSql(tables: Tables): string {
  const tag = `substr(encode(sha256(wake_up.secret || convert_to(E'c\\n' || $2 || E'\\n' || id, 'UTF8')), 'hex'), 1, 32)`;
  return `SELECT string_agg(E'\\n' || ${tag}, '') FROM (
              SELECT id FROM ${tables.members}
               WHERE election = $2 AND id <> $3 AND expires_at > now()
               ORDER BY record->>'orderKey' COLLATE "C" NULLS LAST, id COLLATE "C"
               LIMIT ${FOLLOWERS_WOKEN_ON_RELEASE}) AS next,
              (SELECT secret FROM ${tables.secrets} WHERE name = 'wake-up') AS wake_up`;
}

/**
 * A transfer in one statement, as release: where token $5 still holds a live row of
 * election $2, mark it released and reserve it for successor $3 until now() + $4 ms by the
 * database clock; then unlock $6 and, when it handed over, notify payload $7 on channel $1.
 */
export function handOverSql(leases: string): string {
  return `WITH handed AS (
           UPDATE ${leases}
              SET released = true, expires_at = now(), reserved_for = $3, reserved_from = holder,
                  reserved_until = now() + make_interval(secs => $4::double precision / 1000)
            WHERE election = $2 AND token = $5 AND NOT released AND expires_at > now()
           RETURNING 1),
         done AS (SELECT count(*) > 0 AS handed FROM handed)
         SELECT handed, pg_advisory_unlock($6::bigint) AS unlocked,
                CASE WHEN handed THEN pg_notify($1, $7) END AS notified
           FROM done`;
}

const LIVE_COLUMNS = `holder, term::text AS term, metadata,
              ceil(extract(epoch FROM expires_at - now()) * 1000)::float8 AS remaining_ms`;

/** The live lease of election $1: holder, term, metadata and the time it has left. */
export function liveLeaseSql(leases: string): string {
  return `SELECT ${LIVE_COLUMNS}
         FROM ${leases}
        WHERE election = $1 AND NOT released AND expires_at > now()`;
}

/**
 * The live leases of the elections $1 (text[]) in ONE statement, each row as liveLeaseSql's
 * with its election: the followers' batched reads (LeaseStore.batch.readMany, §3.8).
 */
export function liveLeasesSql(leases: string): string {
  return `SELECT election, ${LIVE_COLUMNS}
         FROM ${leases}
        WHERE election = ANY($1::text[]) AND NOT released AND expires_at > now()`;
}

/**
 * One tick of a sidecar's shared heartbeat in ONE statement (LeaseStore.batch.beat,
 * docs/design.md §3.8): renewManySql's update ($1 elections, $2 tokens, $3 TTLs in ms),
 * members.ts's putMany ($4 elections, $5 ids, $6 records as JSON, $7 TTLs in ms) and
 * liveLeasesSql's read ($8 elections), each part as its own statement does it. Arrays, so
 * the parameters are 8 however many elections (PostgreSQL's limit is 65,535 parameters,
 * not array lengths). One row: `renewed` (the elections renewed), `members` ({election,
 * record} of each live record of the put elections, the ones just written included) and
 * `reads` (liveLeasesSql's rows), each as JSON. Every part sees the table as it was before
 * the statement's own writes, as the single statements do.
 */
export function beatSql(tables: Tables): string {
  return `WITH renewed AS (${renewManySql(tables.leases)}),
       put AS (
         INSERT INTO ${tables.members} (election, id, record, expires_at)
         SELECT p.election, p.id, p.record::jsonb, now() + make_interval(secs => p.ttl_ms / 1000)
           FROM unnest($4::text[], $5::text[], $6::text[], $7::double precision[])
             AS p(election, id, record, ttl_ms)
         ON CONFLICT (election, id) DO UPDATE SET record = excluded.record, expires_at = excluded.expires_at
         RETURNING election, id, record),
       listed AS (
         SELECT election, record FROM put
         UNION ALL
         SELECT m.election, m.record FROM ${tables.members} m
          WHERE m.election = ANY($4::text[]) AND m.expires_at > now()
            AND NOT EXISTS (SELECT 1 FROM put WHERE put.election = m.election AND put.id = m.id)),
       live AS (
         SELECT election, ${LIVE_COLUMNS}
           FROM ${tables.leases}
          WHERE election = ANY($8::text[]) AND NOT released AND expires_at > now())
     SELECT (SELECT coalesce(json_agg(election), '[]') FROM renewed) AS renewed,
            (SELECT coalesce(json_agg(json_build_object('election', election, 'record', record)), '[]')
               FROM listed) AS members,
            (SELECT coalesce(json_agg(row_to_json(live)), '[]') FROM live) AS reads`;
}

/** A transfer's reservation of election $1 still running: successor, from, time left. */
export function reservationSql(leases: string): string {
  return `SELECT reserved_for AS successor, reserved_from AS "from",
              floor(extract(epoch FROM reserved_until - now()) * 1000)::float8 AS remaining_ms
         FROM ${leases}
        WHERE election = $1 AND reserved_until > now()`;
}

// ------------------------------------------------------------ the session (session.ts)

/** A new session's limits: how long one statement, a lock wait and an open transaction may take. */
export function sessionSettingsSql(statementTimeoutMs: number): string {
  return `SET statement_timeout = '${statementTimeoutMs}ms';
         SET idle_in_transaction_session_timeout = '5s';
         SET lock_timeout = '${Math.min(2_000, statementTimeoutMs)}ms'`;
}

/** How long the session may sit idle before the server ends it (and frees its locks). */
export function idleTimeoutSql(ttlMs: number): string {
  return `SET idle_session_timeout = '${Math.round(ttlMs)}ms'`;
}

/** The wake-up key (notifications.ts), hex. */
export function wakeUpSecretSql(secrets: string): string {
  return `SELECT encode(secret, 'hex') AS secret FROM ${secrets} WHERE name = 'wake-up'`;
}
