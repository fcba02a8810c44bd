import {
  FOLLOWERS_WOKEN_ON_RELEASE,
  StoreClosedError,
  StorePoolerError,
  StoreProtocolError,
  StoreUnavailableError,
  type AcquireRequest,
  type AcquireResult,
  type BatchStore,
  type Lease,
  type LeaseMetadata,
  type LeaseRecord,
  type LeaseStore,
  type RenewResult,
  type Reservation,
  type TransferStore,
  waitAtMost,
} from '@leasehold/core';
import pg from 'pg';
import { SerialQueries } from './serial-queries.js';
import type { SslPlan } from './tls.js';
import { parseWakeUp, wakes } from '../wake-up.js';
import { diagnoseFirstConnection, type Endpoint } from '../first-connection.js';
import { guardedCall, type CallGuard } from '../guarded-call.js';
import { endsSession, errorCode, isMissingRelation, translateError } from './errors.js';
import { assertOwnBackend } from './pooler.js';
import { quoteIdentifier } from '../sql-identifier.js';
import { MemberRows } from './members.js';
import { wakeUpChannel, wakeUpTag, type WakeUpKey } from './notifications.js';
import {
  CLOCK_TERM_SQL,
  HOLDS_LOCK_SQL,
  lockHeldSql,
  randomLockId,
  ADMITTED_BY_RESERVATION_SQL,
  renewManySql,
  TRY_LOCK_SQL,
  WAL_TIMELINE_SQL,
} from './queries.js';
import { LOST_SCHEMA_RACE, SCHEMA_ATTEMPTS, schemaSql, tablesIn, type Tables } from './schema.js';

/**
 * PostgreSQL: mutual exclusion by the lease row, in a table only the sidecar's role can
 * write. The row carries the term, the expiry by the database clock, whether the last holder
 * released cleanly, and the id of a session-level advisory lock its holder drew at random
 * when it claimed (on a connection of this candidate's own, never a pooled one: the lock
 * lives and dies with the session). A claim succeeds only when the row is released, expired,
 * or its holder's lock is held by nobody: that session is gone.
 *
 * Every role can see and take any advisory lock id, so the lock only ever speeds a claim up
 * (a holder whose session died before its lease ran out); holding it cannot keep anyone out
 * beyond the lease, and a fresh random id per claim cannot be taken in advance.
 *
 * The session sets idle_session_timeout to the TTL. A holder renews every third of a TTL,
 * so it is never idle that long; a holder that freezes is, and the server then ends its
 * session, which frees the lock. The next holder finds a row that was not released and
 * whose lease may still run, and waits it out (notBeforeMs) before it reports leadership.
 */

export interface PostgresStoreOptions {
  readonly connection: pg.ClientConfig;
  /** sslmode allow and prefer: connect once more with this TLS setting when the first fails so. */
  readonly otherwise?: SslPlan['otherwise'];
  /** Schema holding leasehold's tables. */
  readonly schema: string;
  /** Human-readable server for messages; never contains the password. */
  readonly where: string;
  /** The server's TCP address, to probe when the first connection fails; none for a socket. */
  readonly endpoint?: Endpoint;
  /** statement_timeout of the session: how long one request may take. */
  readonly statementTimeoutMs: number;
}

/** The session's statement_timeout when the caller does not shorten it. */
export const STATEMENT_TIMEOUT_MS = 5_000;

interface Watcher {
  readonly onChange: () => void;
  /** The candidate watching, when it said; woken only when first in line. */
  readonly candidate: string | undefined;
}

interface HeldLock {
  readonly lockId: string;
  /** The lease's token; '' when the lock may be held but the lease is not ours. */
  readonly token: string;
}

interface Session {
  readonly client: pg.Client;
  /** Every statement on the session goes through here, one at a time. */
  readonly statements: SerialQueries;
  /** Elections whose advisory lock this session holds: the lock's id and the lease's token. */
  readonly locks: Map<string, HeldLock>;
  alive: boolean;
}

const CONNECT_TIMEOUT_MS = 5_000;
/** How long close() waits for the server to acknowledge the end of each connection. */
const CLOSE_WAIT_MS = 1_000;

export class PostgresStore implements LeaseStore {
  readonly backend = 'postgres';
  private session: Session | null = null;
  private connecting: Promise<Session> | null = null;
  /** The LISTEN connection, and the channel it listens on. */
  private listening: { readonly client: pg.Client; readonly channel: string } | null = null;
  /** A LISTEN connection is being opened: one at a time. */
  private listenConnecting = false;
  private readonly watchers = new Map<string, Set<Watcher>>();
  /** The schema is in place, and the key that hides wake-ups from other roles (hex) read. */
  private schemaReady: Promise<WakeUpKey> | null = null;
  private idleTimeoutMs = 0;
  private closed = false;
  private readonly tables: Tables;
  /** Every store call goes through it (../guarded-call.ts). */
  private readonly guard: CallGuard = {
    backend: 'postgres',
    isClosed: () => this.closed,
    failed: (error, op) => {
      // The schema or a table is gone (dropped by hand, a restored or reset database): make
      // them again on the next call and carry on. Terms restart, and electors notice.
      if (isMissingRelation(error)) this.schemaReady = null;
      return translateError(error, op, this.options);
    },
  };

  constructor(private readonly options: PostgresStoreOptions) {
    this.tables = tablesIn(options.schema);
  }

  /**
   * Connect once at start-up so that wrong credentials, and a pooler that shares sessions,
   * fail loudly there. A server that is merely down is not an error: calls fail with
   * StoreUnavailableError until it is back (and the pooler check is not made).
   */
  async start(): Promise<void> {
    try {
      await guardedCall(this.guard, 'connect', () => this.connect());
    } catch (error) {
      const hopeless =
        error instanceof StoreUnavailableError && this.options.endpoint !== undefined
          ? await diagnoseFirstConnection('postgres', [this.options.endpoint])
          : error;
      if (hopeless === null) return;
      await this.close();
      throw hopeless;
    }
    try {
      await assertOwnBackend((extra) => this.connectClient(extra), this.options.where);
    } catch (error) {
      // A check that could not finish met a server that is down or flaky: not fatal, as above.
      if (!(error instanceof StorePoolerError)) return;
      await this.close();
      throw error;
    }
  }

  /**
   * Take the advisory lock and claim the lease row in one round trip. When this session
   * already holds the lock (a lease it lost or released without a confirmed unlock), the
   * claim is conditional on still holding it instead: never a second grant of one lock.
   */
  tryAcquire(request: AcquireRequest): Promise<AcquireResult> {
    return guardedCall(this.guard, 'acquire', async () => {
      const { election } = request;
      const session = await this.connect();
      await this.setIdleTimeout(session, request.ttlMs);
      const held = session.locks.get(election);
      if (held !== undefined && (await this.liveHolder(session, election))) {
        // This session already holds the lock for a live lease of ours: not a second grant.
        return this.refused(session, election);
      }
      // A lock this session still holds is claimed with again; otherwise a fresh random one.
      const lockKey = held?.lockId ?? randomLockId();
      let lease: Lease | null;
      try {
        lease = await this.claim(session, request, held === undefined ? 'try' : 'held', lockKey);
      } catch (error) {
        await this.releaseTriedLock(session, election, lockKey);
        throw error;
      }
      if (lease === null) {
        await this.releaseTriedLock(session, election, lockKey);
        return this.refused(session, election);
      }
      session.locks.set(election, { lockId: lockKey, token: request.token });
      return { acquired: true, lease };
    });
  }

  renew(lease: Lease): Promise<RenewResult> {
    return guardedCall(this.guard, 'renew', async () => {
      const session = this.session;
      // The lock lived in a session that is gone: the server freed it, someone else may hold it.
      if (
        session === null ||
        !session.alive ||
        session.locks.get(lease.election)?.token !== lease.token
      ) {
        return { renewed: false };
      }
      try {
        const { rowCount } = await session.statements.query(
          `UPDATE ${this.tables.leases}
              SET renewed_at = now(), expires_at = now() + make_interval(secs => $3::double precision / 1000),
                  timeline = ${WAL_TIMELINE_SQL}
            WHERE election = $1 AND token = $2 AND NOT released`,
          [lease.election, lease.token, lease.ttlMs],
        );
        return rowCount === 1 ? { renewed: true, ttlMs: lease.ttlMs } : { renewed: false };
      } catch (error) {
        // The server ended the session (idle past the TTL, terminated, shut down) and its
        // FATAL came back as this statement's answer, before the client's own 'error' or
        // 'end': the lock went with the session, so the lease is lost, not the store.
        if (endsSession(error)) sessionEnded(session);
        if (!session.alive) return { renewed: false };
        throw error;
      }
    });
  }

  /** Many renewals in one UPDATE (LeaseStore.batch, docs/design.md §3.8). */
  readonly batch: BatchStore = {
    renewMany: (leases) => this.renewMany(leases),
    putMembers: (puts) => this.members.putMany(puts),
  };

  /**
   * `renew` for every lease in one statement. A lease whose lock this session does not
   * hold (the session that took it is gone) is lost without asking, as `renew` answers it.
   */
  private renewMany(leases: readonly Lease[]): Promise<RenewResult[]> {
    return guardedCall(this.guard, 'renew', async () => {
      const session = this.session;
      const ours = (lease: Lease): boolean =>
        session !== null &&
        session.alive &&
        session.locks.get(lease.election)?.token === lease.token;
      const asked = leases.filter(ours);
      if (session === null || asked.length === 0) return leases.map(() => ({ renewed: false }));
      let renewed: Set<string>;
      try {
        const { rows } = await session.statements.query<{ election: string }>(
          renewManySql(this.tables.leases),
          [asked.map((l) => l.election), asked.map((l) => l.token), asked.map((l) => l.ttlMs)],
        );
        renewed = new Set(rows.map((row) => row.election));
      } catch (error) {
        // As in renew: the session's end came back as this statement's answer.
        if (endsSession(error)) sessionEnded(session);
        if (!session.alive) return leases.map(() => ({ renewed: false }));
        throw error;
      }
      return leases.map((lease) =>
        ours(lease) && renewed.has(lease.election)
          ? { renewed: true, ttlMs: lease.ttlMs }
          : { renewed: false },
      );
    });
  }

  /**
   * One statement: mark the row released, then (once the update holds that row) unlock,
   * and notify the first in line. A follower that claims before this commits waits in its
   * claim for the row and then finds it released; the notification goes out only at the
   * commit, on a channel and with a payload only holders of the key can read (see watch()).
   */
  release(lease: Lease): Promise<void> {
    return guardedCall(this.guard, 'release', async () => {
      const session = this.session;
      if (session === null || !session.alive) return;
      const key = await this.wakeUpKey(session);
      const held = session.locks.get(lease.election);
      const holdsLock = held !== undefined && held.token === lease.token;
      const params = [
        key.channel,
        lease.election,
        lease.holder,
        lease.token,
        wakeUpTag(key, 'election', lease.election),
      ];
      try {
        await session.statements.query(
          `WITH released AS (
             UPDATE ${this.tables.leases} SET released = true, expires_at = now()
              WHERE election = $2 AND token = $4 RETURNING 1)
           SELECT ${holdsLock ? 'pg_advisory_unlock($6::bigint)' : 'NULL'} AS unlocked,
                  pg_notify($1, $5 || coalesce((${this.firstInLineSql()}), ''))
             FROM (SELECT count(*) FROM released) AS done`,
          holdsLock ? [...params, held.lockId] : params,
        );
      } catch (error) {
        // The server ended the session for idling a whole TTL (see above): no renewal for a
        // TTL, so the lease has run out and its lock went with the session. Releasing a
        // lease that is gone is not an error (the contract); anything else still is.
        if (!isIdleSessionEnd(error)) throw error;
      }
      if (holdsLock) session.locks.delete(lease.election);
    });
  }

  /**
   * The tags of the first in line after holder $3 of election $2, each after a newline, as
   * wakeUpTag computes them. The line is core's candidate order: the records' order keys,
   * bytewise (COLLATE "C", not the database's collation); a record written before sidecars
   * kept the key goes last. The key is read where it is kept: it never travels as a
   * parameter (which a server logging statements would write down).
   */
  private firstInLineSql(): string {
    const tag = `substr(encode(sha256(wake_up.secret || convert_to(E'c\\n' || $2 || E'\\n' || id, 'UTF8')), 'hex'), 1, 32)`;
    return `SELECT string_agg(E'\\n' || ${tag}, '') FROM (
              SELECT id FROM ${this.tables.members}
               WHERE election = $2 AND id <> $3 AND expires_at > now()
               ORDER BY record->>'orderKey' COLLATE "C" NULLS LAST, id COLLATE "C"
               LIMIT ${FOLLOWERS_WOKEN_ON_RELEASE}) AS next,
              (SELECT secret FROM ${this.tables.secrets} WHERE name = 'wake-up') AS wake_up`;
  }

  read(election: string): Promise<LeaseRecord | null> {
    return guardedCall(this.guard, 'read', async () => {
      const session = await this.connect();
      return this.selectLive(session, election);
    });
  }

  /** Transfers (LeaseStore.transfer, docs/design.md §3.6). */
  readonly transfer: TransferStore = {
    handOver: (lease, successor, reservationMs) => this.handOver(lease, successor, reservationMs),
    reservation: (election) =>
      guardedCall(this.guard, 'read', async () =>
        this.selectReservation(await this.connect(), election),
      ),
  };

  /**
   * One statement, as release(): where this token still holds a live row, mark it released
   * (cleanly: the successor need not wait) and reserve it for `successor` until now() +
   * reservationMs by the database clock; then unlock and wake the successor. A session that
   * died lost its lock with it (see renew): no hand-over then, the row is not ours to give.
   */
  private handOver(lease: Lease, successor: string, reservationMs: number): Promise<boolean> {
    return guardedCall(this.guard, 'release', async () => {
      const session = this.session;
      const held = session?.locks.get(lease.election);
      if (session === null || !session.alive || held?.token !== lease.token) return false;
      const key = await this.wakeUpKey(session);
      const { rows } = await session.statements.query<{ handed: boolean }>(
        `WITH handed AS (
           UPDATE ${this.tables.leases}
              SET released = true, expires_at = now(), reserved_for = $3, reserved_from = holder,
                  reserved_until = now() + make_interval(secs => $4::double precision / 1000)
            WHERE election = $2 AND token = $5 AND NOT released AND expires_at > now()
           RETURNING 1),
         done AS (SELECT count(*) > 0 AS handed FROM handed)
         SELECT handed, pg_advisory_unlock($6::bigint) AS unlocked,
                CASE WHEN handed THEN pg_notify($1, $7) END AS notified
           FROM done`,
        [
          key.channel,
          lease.election,
          successor,
          reservationMs,
          lease.token,
          held.lockId,
          // Only the successor (or the holder that handed over) may claim: wake it alone.
          `${wakeUpTag(key, 'election', lease.election)}\n${wakeUpTag(key, 'candidate', lease.election, successor)}`,
        ],
      );
      session.locks.delete(lease.election);
      return rows[0]?.handed === true;
    });
  }

  /** Member records (LeaseStore.members, members.ts), on this store's session. */
  readonly members: MemberRows = new MemberRows(
    () => this.tables.members,
    (work) =>
      guardedCall(this.guard, 'member', async () => work((await this.connect()).statements)),
  );

  /**
   * NOTIFY on release; one LISTEN connection per store serves every watched election. The
   * channel's name and the payload are keyed digests (see WakeUpKey): the election's tag,
   * then the tags of the first in line (one per line): only those watchers wake, the others
   * try at their poll. Without tags after the election's, everyone wakes.
   */
  async watch(
    election: string,
    onChange: () => void,
    signal: AbortSignal,
    candidate?: string,
  ): Promise<void> {
    if (this.closed || signal.aborted) return;
    let listeners = this.watchers.get(election);
    if (listeners === undefined) {
      listeners = new Set();
      this.watchers.set(election, listeners);
    }
    const electionListeners = listeners;
    const watcher: Watcher = { onChange, candidate };
    electionListeners.add(watcher);
    signal.addEventListener('abort', () => electionListeners.delete(watcher), { once: true });
    try {
      await this.listen();
    } catch {
      // Best effort: the elector polls as well; the next watch() call tries again.
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watchers.clear();
    const clients = [this.session?.client, this.listening?.client].filter(
      (c): c is pg.Client => c !== undefined,
    );
    this.session = null;
    this.listening = null;
    // end() waits for the server to answer Terminate; on a stalled server it never does.
    await Promise.all(clients.map((client) => waitAtMost(client.end(), CLOSE_WAIT_MS)));
  }

  // ---------------------------------------------------------------- acquisition

  /**
   * Claim the row in ONE statement, only if the session holds the lock ('try': a fresh
   * random one, taken in the same statement; 'held': checked in pg_locks) and the row is
   * free: released, expired, or its holder's lock held by no session (that session died),
   * or naming this very lock. Raise the term, and record how long the new holder must wait
   * for the last one. One statement is one transaction of its own: nothing else queued on
   * this session can land inside it. The conditions and the wait are computed from the row
   * the update replaces (ON CONFLICT waits for a release or renewal still committing and
   * then sees it), not from an earlier snapshot. Null when the row was not free.
   */
  private async claim(
    session: Session,
    request: AcquireRequest,
    mode: 'try' | 'held',
    lockKey: string,
  ): Promise<Lease | null> {
    const { rows } = await session.statements.query<{
      locked: boolean;
      term: string | null;
      token: string | null;
      wait_ms: number | null;
    }>(
      `WITH lock AS (${mode === 'try' ? TRY_LOCK_SQL : HOLDS_LOCK_SQL}),
       claimed AS (
       INSERT INTO ${this.tables.leases} AS l
              (election, holder, token, term, metadata, renewed_at, expires_at, released, claim_wait_ms,
               timeline, lock_id)
       SELECT $1, $2, $3, CASE WHEN ${WAL_TIMELINE_SQL} > 1 THEN ${CLOCK_TERM_SQL} ELSE 1 END, $4, now(),
              now() + make_interval(secs => $5::double precision / 1000), false, 0, ${WAL_TIMELINE_SQL},
              $6::bigint
         FROM lock WHERE locked
       ON CONFLICT (election) DO UPDATE
          SET holder = excluded.holder, token = excluded.token,
              term = CASE WHEN l.timeline <> excluded.timeline
                       THEN greatest(l.term + 1, ${CLOCK_TERM_SQL}) ELSE l.term + 1 END,
              metadata = excluded.metadata, renewed_at = excluded.renewed_at,
              expires_at = excluded.expires_at, released = false, timeline = excluded.timeline,
              lock_id = excluded.lock_id,
              reserved_for = NULL, reserved_from = NULL, reserved_until = NULL,
              claim_wait_ms = CASE
                WHEN l.timeline <> excluded.timeline
                  THEN greatest($5::double precision, ceil(extract(epoch FROM l.expires_at - l.renewed_at) * 1000))
                WHEN l.released OR l.expires_at <= now() THEN 0
                ELSE ceil(extract(epoch FROM l.expires_at - now()) * 1000) END
        WHERE (l.released OR l.expires_at <= now() OR l.lock_id = excluded.lock_id
           OR (l.lock_id IS NOT NULL AND NOT EXISTS (${lockHeldSql('l.lock_id')})))
          AND ${ADMITTED_BY_RESERVATION_SQL}
       RETURNING l.term::text AS term, l.token, l.claim_wait_ms::float8 AS wait_ms)
       SELECT lock.locked, claimed.term, claimed.token, claimed.wait_ms
         FROM lock LEFT JOIN claimed ON true`,
      [
        request.election,
        request.holder,
        request.token,
        JSON.stringify(request.metadata ?? {}),
        request.ttlMs,
        lockKey,
      ],
    );
    const row = rows[0];
    if (row === undefined) {
      throw new StoreProtocolError(
        `postgres acquire: the claim of "${request.election}" returned no row`,
      );
    }
    if (!row.locked && mode === 'try') {
      // Nobody can know a fresh random id in advance: loud, never a silent "no leader".
      throw new StoreUnavailableError(
        `postgres acquire at ${this.options.where}: another session holds the advisory lock this claim of "${request.election}" drew at random (${lockKey}); another database role may be taking advisory locks to stall elections (see pg_locks)`,
      );
    }
    if (row.term === null) return null;
    if (row.token !== request.token) {
      throw new StoreProtocolError(
        `postgres acquire: the claim of "${request.election}" did not write our lease row`,
      );
    }
    return {
      election: request.election,
      holder: request.holder,
      token: request.token,
      term: Number(row.term),
      ttlMs: request.ttlMs,
      // The row was claimable before its lease ran out: the last holder neither released
      // nor ran out, but its session broke (crash, freeze, pg_terminate_backend, restart)
      // while it may still believe it leads; its own deadline ends before this expiry. Or the
      // row was written on another WAL timeline: the server was promoted (a failover) or
      // restored since, and may have missed the last writes; any holder it forgot ends its
      // lease within one TTL.
      notBeforeMs: Math.max(0, Number(row.wait_ms)),
    };
  }

  /**
   * A claim did not take the row, or failed: whether it holds the lock is unknown, so unlock
   * (false when it was not ours). If even that fails, remember the lock as perhaps held: the
   * next claim checks pg_locks rather than taking another one.
   */
  private async releaseTriedLock(
    session: Session,
    election: string,
    lockKey: string,
  ): Promise<void> {
    try {
      await session.statements.query('SELECT pg_advisory_unlock($1::bigint)', [lockKey]);
      session.locks.delete(election);
    } catch {
      session.locks.set(election, { lockId: lockKey, token: '' });
    }
  }

  /** Who holds the election; when nobody does, the transfer's reservation that kept us out. */
  private async refused(session: Session, election: string): Promise<AcquireResult> {
    const current = await this.selectLive(session, election);
    if (current !== null) return { acquired: false, current, retryAfterMs: current.remainingMs };
    const reserved = await this.selectReservation(session, election);
    return reserved === null
      ? { acquired: false, current: null, retryAfterMs: null }
      : {
          acquired: false,
          current: null,
          retryAfterMs: reserved.remainingMs,
          reservedFor: reserved.successor,
        };
  }

  private async selectReservation(session: Session, election: string): Promise<Reservation | null> {
    const { rows } = await session.statements.query<{
      successor: string;
      from: string;
      remaining_ms: number;
    }>(
      `SELECT reserved_for AS successor, reserved_from AS "from",
              floor(extract(epoch FROM reserved_until - now()) * 1000)::float8 AS remaining_ms
         FROM ${this.tables.leases}
        WHERE election = $1 AND reserved_until > now()`,
      [election],
    );
    const row = rows[0];
    return row === undefined
      ? null
      : { successor: row.successor, from: row.from, remainingMs: Number(row.remaining_ms) };
  }

  private async liveHolder(session: Session, election: string): Promise<boolean> {
    return (await this.selectLive(session, election)) !== null;
  }

  private async selectLive(session: Session, election: string): Promise<LeaseRecord | null> {
    const { rows } = await session.statements.query<{
      holder: string;
      term: string;
      metadata: LeaseMetadata | null;
      remaining_ms: number;
    }>(
      `SELECT holder, term::text AS term, metadata,
              ceil(extract(epoch FROM expires_at - now()) * 1000)::float8 AS remaining_ms
         FROM ${this.tables.leases}
        WHERE election = $1 AND NOT released AND expires_at > now()`,
      [election],
    );
    const row = rows[0];
    if (row === undefined) return null;
    return {
      election,
      holder: row.holder,
      term: Number(row.term),
      metadata: row.metadata ?? {},
      remainingMs: Number(row.remaining_ms),
    };
  }

  // ---------------------------------------------------------------- connections

  private async connect(): Promise<Session> {
    if (this.closed) throw new StoreClosedError(this.backend);
    const session = this.session;
    if (session?.alive === true) {
      // Cached once created; made again after someone dropped the schema (see run()).
      await this.ensureSchema(session);
      return session;
    }
    this.connecting ??= this.openSession().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async openSession(): Promise<Session> {
    const client = await this.connectClient({ application_name: 'leasehold' });
    const session: Session = {
      client,
      statements: new SerialQueries(client),
      locks: new Map(),
      alive: true,
    };
    // The server ends sessions (idle timeout, restart, pg_terminate_backend): that is news
    // to act on, not a crash. Every lock the session held is gone with it.
    const dead = (): void => sessionEnded(session);
    client.on('error', dead);
    client.on('end', dead);
    try {
      await session.statements.query(
        `SET statement_timeout = '${this.options.statementTimeoutMs}ms';
         SET idle_in_transaction_session_timeout = '5s';
         SET lock_timeout = '${Math.min(2_000, this.options.statementTimeoutMs)}ms'`,
      );
    } catch (error) {
      dead();
      await client.end().catch(() => {});
      throw error;
    }
    this.idleTimeoutMs = 0;
    this.session = session;
    await this.ensureSchema(session);
    return session;
  }

  /** A connected client of the store's: with the TLS plan's fallback (allow, prefer). */
  private async connectClient(extra: pg.ClientConfig): Promise<pg.Client> {
    const client = new pg.Client({ ...this.clientConfig(this.options.connection.ssl), ...extra });
    try {
      await client.connect();
      return client;
    } catch (error) {
      const otherwise = this.options.otherwise;
      await client.end().catch(() => {});
      if (otherwise === undefined || !otherwise.when(error)) throw error;
      const second = new pg.Client({ ...this.clientConfig(otherwise.ssl), ...extra });
      try {
        await second.connect();
      } catch (secondError) {
        await second.end().catch(() => {});
        throw secondError;
      }
      return second;
    }
  }

  private clientConfig(ssl: pg.ClientConfig['ssl']): pg.ClientConfig {
    return {
      ...this.options.connection,
      ssl,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      keepAlive: true,
    };
  }

  /** The TTL of the lease this session may hold decides how long it may sit idle. */
  private async setIdleTimeout(session: Session, ttlMs: number): Promise<void> {
    if (this.idleTimeoutMs === ttlMs) return;
    await session.statements.query(`SET idle_session_timeout = '${Math.round(ttlMs)}ms'`);
    this.idleTimeoutMs = ttlMs;
  }

  /**
   * Create the schema and tables once, and read the wake-up key (see WakeUpKey). One
   * multi-statement message is one implicit transaction that nothing else queued on the
   * session can land inside (an explicit BEGIN ... COMMIT spread over several queries could).
   * Candidates racing to create the same objects are not kept in line by a lock (any role
   * could hold it and stall every start-up): the loser of a race fails on a duplicate and
   * simply runs the idempotent statements again.
   */
  private ensureSchema(session: Session): Promise<WakeUpKey> {
    this.schemaReady ??= this.createSchema(session).then(
      (key) => {
        this.adoptWakeUpKey(key);
        return key;
      },
      (error: unknown) => {
        this.schemaReady = null;
        throw error;
      },
    );
    return this.schemaReady;
  }

  private async createSchema(session: Session): Promise<WakeUpKey> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await session.statements.query(schemaSql(this.options.schema, this.tables));
        break;
      } catch (error) {
        if (attempt >= SCHEMA_ATTEMPTS || !LOST_SCHEMA_RACE.has(errorCode(error))) throw error;
      }
    }
    const { rows } = await session.statements.query<{ secret: string }>(
      `SELECT encode(secret, 'hex') AS secret FROM ${this.tables.secrets} WHERE name = 'wake-up'`,
    );
    const secret = rows[0]?.secret;
    if (secret === undefined) {
      throw new StoreProtocolError(
        `postgres at ${this.options.where}: no wake-up key in ${this.tables.secrets}`,
      );
    }
    return { secret, channel: wakeUpChannel(secret) };
  }

  private wakeUpKey(session: Session): Promise<WakeUpKey> {
    return this.ensureSchema(session);
  }

  /** A new key (the schema was made again): the listener's channel is dead, listen anew. */
  private adoptWakeUpKey(key: WakeUpKey): void {
    const listening = this.listening;
    if (listening !== null && listening.channel !== key.channel) {
      void listening.client.end().catch(() => {});
    }
  }

  private async listen(): Promise<void> {
    if (this.listening !== null || this.closed) return;
    const key = await this.wakeUpKey(await this.connect());
    if (this.listening !== null || this.closed || this.listenConnecting) return;
    this.listenConnecting = true;
    let listener: pg.Client;
    try {
      listener = await this.connectClient({});
    } finally {
      this.listenConnecting = false;
    }
    if (this.listening !== null || this.closed) {
      await listener.end().catch(() => {});
      return;
    }
    const listening = { client: listener, channel: key.channel };
    this.listening = listening;
    const lost = (): void => {
      if (this.listening === listening) this.listening = null;
      // Wake everyone: a release may have happened while we could not hear it.
      for (const listeners of this.watchers.values()) {
        for (const watcher of listeners) watcher.onChange();
      }
    };
    listener.on('error', lost);
    listener.on('end', lost);
    listener.on('notification', (message) => {
      if (message.channel !== key.channel || message.payload === undefined) return;
      const { election: electionTag, firstInLine } = parseWakeUp(message.payload);
      for (const [election, watchers] of this.watchers) {
        if (wakeUpTag(key, 'election', election) !== electionTag) continue;
        for (const watcher of watchers) {
          const candidate =
            watcher.candidate === undefined
              ? undefined
              : wakeUpTag(key, 'candidate', election, watcher.candidate);
          if (wakes(firstInLine, candidate)) watcher.onChange();
        }
      }
    });
    try {
      await listener.query(`LISTEN ${quoteIdentifier(key.channel)}`);
    } catch (error) {
      if (this.listening === listening) this.listening = null;
      await listener.end().catch(() => {});
      throw error;
    }
  }
}

/** A session the server ended: every lock it held is gone with it. */
function sessionEnded(session: Session): void {
  session.alive = false;
  session.locks.clear();
}

/** PostgreSQL's idle_session_timeout ended the session (SQLSTATE 57P05). */
function isIdleSessionEnd(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '57P05';
}
