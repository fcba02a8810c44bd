import {
  FIRST_IN_LINE,
  StoreAuthError,
  StoreClosedError,
  StoreProtocolError,
  StoreUnavailableError,
  type AcquireRequest,
  type AcquireResult,
  type Lease,
  type LeaseMetadata,
  type LeaseRecord,
  type LeaseStore,
  type MemberRecord,
  type MemberStore,
  type RenewResult,
} from '@leasehold/core';
import pg from 'pg';
import { SerialQueries } from './serial-queries.js';
import { createHash } from 'node:crypto';
import { waitAtMost } from '../wait.js';
import { parseWakeUp, wakes } from '../wake-up.js';
import { diagnoseFirstConnection, dnsHint, type Endpoint } from '../first-connection.js';

/**
 * PostgreSQL: mutual exclusion by a session-level advisory lock on a connection of this
 * candidate's own (never a pooled one: the lock lives and dies with the session), plus a
 * lease row that carries the term, the expiry by the database clock and whether the last
 * holder released cleanly.
 *
 * The session sets idle_session_timeout to the TTL. A holder renews every third of a TTL,
 * so it is never idle that long; a holder that freezes is, and the server then ends its
 * session, which frees the lock. The next holder finds a row that was not released and
 * whose lease may still run, and waits it out (notBeforeMs) before it reports leadership.
 */

export interface PostgresStoreOptions {
  readonly connection: pg.ClientConfig;
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

interface Session {
  readonly client: pg.Client;
  /** Every statement on the session goes through here, one at a time. */
  readonly statements: SerialQueries;
  /** Elections whose advisory lock this session holds, with the token of the lease. */
  readonly locks: Map<string, string>;
  alive: boolean;
}

const CONNECT_TIMEOUT_MS = 5_000;
/** How long close() waits for the server to acknowledge the end of each connection. */
const CLOSE_WAIT_MS = 1_000;

export class PostgresStore implements LeaseStore {
  readonly backend = 'postgres';
  private session: Session | null = null;
  private connecting: Promise<Session> | null = null;
  private listener: pg.Client | null = null;
  private readonly watchers = new Map<string, Set<Watcher>>();
  private schemaReady: Promise<void> | null = null;
  private idleTimeoutMs = 0;
  private closed = false;
  private readonly tables: { leases: string; members: string; channel: string };

  constructor(private readonly options: PostgresStoreOptions) {
    const schema = quoteIdentifier(options.schema);
    this.tables = {
      leases: `${schema}.leases`,
      members: `${schema}.members`,
      channel: `leasehold_${options.schema}`.slice(0, 63),
    };
  }

  /**
   * Connect once at start-up so that wrong credentials fail loudly there. A server that is
   * merely down is not an error: calls fail with StoreUnavailableError until it is back.
   */
  async probe(): Promise<void> {
    try {
      await this.run('connect', () => this.connect());
    } catch (error) {
      const hopeless =
        error instanceof StoreUnavailableError && this.options.endpoint !== undefined
          ? await diagnoseFirstConnection('postgres', [this.options.endpoint])
          : error;
      if (hopeless === null) return;
      await this.close();
      throw hopeless;
    }
  }

  /**
   * Take the advisory lock and claim the lease row in one round trip. When this session
   * already holds the lock (a lease it lost or released without a confirmed unlock), the
   * claim is conditional on still holding it instead: never a second grant of one lock.
   */
  tryAcquire(request: AcquireRequest): Promise<AcquireResult> {
    return this.run('acquire', async () => {
      const { election } = request;
      const session = await this.connect();
      await this.setIdleTimeout(session, request.ttlMs);
      const heldBefore = session.locks.has(election);
      if (heldBefore && (await this.liveHolder(session, election))) {
        // This session already holds the lock for a live lease of ours: not a second grant.
        return this.refused(session, election);
      }
      let lease: Lease | null;
      try {
        lease = await this.claim(session, request, heldBefore ? 'held' : 'try');
      } catch (error) {
        if (!heldBefore) await this.releaseTriedLock(session, election);
        throw error;
      }
      if (lease === null) {
        session.locks.delete(election);
        return this.refused(session, election);
      }
      session.locks.set(election, request.token);
      return { acquired: true, lease };
    });
  }

  renew(lease: Lease): Promise<RenewResult> {
    return this.run('renew', async () => {
      const session = this.session;
      // The lock lived in a session that is gone: the server freed it, someone else may hold it.
      if (session === null || !session.alive || session.locks.get(lease.election) !== lease.token) {
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
        if (!session.alive) return { renewed: false };
        throw error;
      }
    });
  }

  /**
   * One statement: mark the row released, then (once the update holds that row) unlock,
   * and notify the first in line. A follower that takes the lock before this commits waits
   * in its claim for the row and then finds it released; the notification goes out only at
   * the commit, and names the first in line (see watch()).
   */
  release(lease: Lease): Promise<void> {
    return this.run('release', async () => {
      const session = this.session;
      if (session === null || !session.alive) return;
      const holdsLock = session.locks.get(lease.election) === lease.token;
      const params = [this.tables.channel, lease.election, lease.holder, lease.token];
      await session.statements.query(
        `WITH released AS (
           UPDATE ${this.tables.leases} SET released = true, expires_at = now()
            WHERE election = $2 AND token = $4 RETURNING 1)
         SELECT ${holdsLock ? 'pg_advisory_unlock($5::bigint)' : 'NULL'} AS unlocked,
                pg_notify($1, $2 || coalesce((${this.firstInLineSql()}), ''))
           FROM (SELECT count(*) FROM released) AS done`,
        holdsLock ? [...params, lockId(this.options.schema, lease.election)] : params,
      );
      if (holdsLock) session.locks.delete(lease.election);
    });
  }

  /** The ids of the first in line after holder $3 of election $2, each after a newline. */
  private firstInLineSql(): string {
    return `SELECT string_agg(E'\\n' || id, '') FROM (
              SELECT id FROM ${this.tables.members}
               WHERE election = $2 AND id <> $3 AND expires_at > now()
               ORDER BY (record->>'priority')::numeric DESC, (record->>'startedAt')::numeric, id
               LIMIT ${FIRST_IN_LINE}) AS next`;
  }

  read(election: string): Promise<LeaseRecord | null> {
    return this.run('read', async () => {
      const session = await this.connect();
      return this.selectLive(session, election);
    });
  }

  /** Member records (LeaseStore.members). */
  readonly members: MemberStore = {
    put: (election, member, ttlMs) => this.putMember(election, member, ttlMs),
    list: (election) => this.listMembers(election),
    remove: (election, id) => this.removeMember(election, id),
  };

  private putMember(election: string, member: MemberRecord, ttlMs: number): Promise<void> {
    return this.run('member', async () => {
      const session = await this.connect();
      await session.statements.query(
        `INSERT INTO ${this.tables.members} (election, id, record, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4::double precision / 1000))
         ON CONFLICT (election, id) DO UPDATE SET record = excluded.record, expires_at = excluded.expires_at`,
        [election, member.id, JSON.stringify(member), ttlMs],
      );
    });
  }

  private listMembers(election: string): Promise<MemberRecord[]> {
    return this.run('member', async () => {
      const session = await this.connect();
      const { rows } = await session.statements.query<{ record: MemberRecord }>(
        `SELECT record FROM ${this.tables.members} WHERE election = $1 AND expires_at > now()`,
        [election],
      );
      return rows.map((row) => row.record);
    });
  }

  private removeMember(election: string, id: string): Promise<void> {
    return this.run('member', async () => {
      const session = await this.connect();
      await session.statements.query(
        `DELETE FROM ${this.tables.members} WHERE election = $1 AND id = $2`,
        [election, id],
      );
    });
  }

  /**
   * NOTIFY on release; one LISTEN connection per store serves every watched election. The
   * payload is the election and the ids of the first in line (one per line): only those
   * watchers wake, the others try at their poll. Without ids, everyone wakes.
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
    const clients = [this.session?.client, this.listener].filter(
      (c): c is pg.Client => c !== undefined && c !== null,
    );
    this.session = null;
    this.listener = null;
    // end() waits for the server to answer Terminate; on a stalled server it never does.
    await Promise.all(clients.map((client) => waitAtMost(client.end(), CLOSE_WAIT_MS)));
  }

  // ---------------------------------------------------------------- acquisition

  /**
   * Claim the row in ONE statement, only if the session holds the lock ('try': taken in the
   * same statement; 'held': checked in pg_locks): raise the term, and record how long the
   * new holder must wait for the last one. One statement is one transaction of its own:
   * nothing else queued on this session can land inside it. The wait is computed from the
   * row the update replaces (ON CONFLICT waits for a release still committing and then
   * sees it), not from an earlier snapshot. Null when the lock was not ours.
   */
  private async claim(
    session: Session,
    request: AcquireRequest,
    mode: 'try' | 'held',
  ): Promise<Lease | null> {
    const { rows } = await session.statements.query<{
      term: string;
      token: string;
      wait_ms: number;
    }>(
      `WITH lock AS (${mode === 'try' ? TRY_LOCK_SQL : HOLDS_LOCK_SQL})
       INSERT INTO ${this.tables.leases} AS l
              (election, holder, token, term, metadata, renewed_at, expires_at, released, claim_wait_ms,
               timeline)
       SELECT $1, $2, $3, 1, $4, now(), now() + make_interval(secs => $5::double precision / 1000), false, 0,
              ${WAL_TIMELINE_SQL}
         FROM lock WHERE locked
       ON CONFLICT (election) DO UPDATE
          SET holder = excluded.holder, token = excluded.token, term = l.term + 1,
              metadata = excluded.metadata, renewed_at = excluded.renewed_at,
              expires_at = excluded.expires_at, released = false, timeline = excluded.timeline,
              claim_wait_ms = CASE
                WHEN l.timeline <> excluded.timeline
                  THEN greatest($5::double precision, ceil(extract(epoch FROM l.expires_at - l.renewed_at) * 1000))
                WHEN l.released OR l.expires_at <= now() THEN 0
                ELSE ceil(extract(epoch FROM l.expires_at - now()) * 1000) END
       RETURNING l.term::text AS term, l.token, l.claim_wait_ms::float8 AS wait_ms`,
      [
        request.election,
        request.holder,
        request.token,
        JSON.stringify(request.metadata ?? {}),
        request.ttlMs,
        lockId(this.options.schema, request.election),
      ],
    );
    const row = rows[0];
    if (row === undefined) return null;
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
      // The lock was free, yet the last holder neither released nor ran out: its session
      // broke (crash, freeze, pg_terminate_backend, restart) while it may still believe it
      // leads; its own deadline ends before this expiry. Or the row was written on another
      // WAL timeline: the server was promoted (a failover) or restored since, and may have
      // missed the last writes; any holder it forgot ends its lease within one TTL.
      notBeforeMs: Math.max(0, Number(row.wait_ms)),
    };
  }

  /**
   * A claim that tried the lock failed: whether the lock was taken is unknown, so unlock
   * (false when it was not ours). If even that fails, remember the lock as perhaps held: the
   * next claim checks pg_locks rather than taking it a second time.
   */
  private async releaseTriedLock(session: Session, election: string): Promise<void> {
    try {
      await session.statements.query('SELECT pg_advisory_unlock($1::bigint)', [
        lockId(this.options.schema, election),
      ]);
    } catch {
      session.locks.set(election, '');
    }
  }

  private async refused(session: Session, election: string): Promise<AcquireResult> {
    const current = await this.selectLive(session, election);
    return { acquired: false, current, retryAfterMs: current?.remainingMs ?? null };
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
    const client = new pg.Client({
      ...this.options.connection,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      keepAlive: true,
      application_name: 'leasehold',
    });
    const session: Session = {
      client,
      statements: new SerialQueries(client),
      locks: new Map(),
      alive: true,
    };
    // The server ends sessions (idle timeout, restart, pg_terminate_backend): that is news
    // to act on, not a crash. Every lock the session held is gone with it.
    const dead = (): void => {
      session.alive = false;
      session.locks.clear();
    };
    client.on('error', dead);
    client.on('end', dead);
    try {
      await client.connect();
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

  /** The TTL of the lease this session may hold decides how long it may sit idle. */
  private async setIdleTimeout(session: Session, ttlMs: number): Promise<void> {
    if (this.idleTimeoutMs === ttlMs) return;
    await session.statements.query(`SET idle_session_timeout = '${Math.round(ttlMs)}ms'`);
    this.idleTimeoutMs = ttlMs;
  }

  /**
   * Create the schema and tables once; an advisory lock keeps racing candidates in line. One
   * multi-statement message is one implicit transaction that nothing else queued on the
   * session can land inside (an explicit BEGIN ... COMMIT spread over several queries could).
   */
  private ensureSchema(session: Session): Promise<void> {
    this.schemaReady ??= session.statements
      .query(
        `SELECT pg_advisory_xact_lock(${SCHEMA_LOCK_ID});
         CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(this.options.schema)};
         CREATE TABLE IF NOT EXISTS ${this.tables.leases} (
           election   text PRIMARY KEY,
           holder     text,
           token      text,
           term       bigint NOT NULL,
           metadata   jsonb,
           renewed_at timestamptz,
           expires_at timestamptz NOT NULL,
           released   boolean NOT NULL,
           claim_wait_ms double precision,
           timeline   integer
         );
         ALTER TABLE ${this.tables.leases} ADD COLUMN IF NOT EXISTS claim_wait_ms double precision;
         ALTER TABLE ${this.tables.leases} ADD COLUMN IF NOT EXISTS timeline integer;
         CREATE TABLE IF NOT EXISTS ${this.tables.members} (
           election   text NOT NULL,
           id         text NOT NULL,
           record     jsonb NOT NULL,
           expires_at timestamptz NOT NULL,
           PRIMARY KEY (election, id)
         );`,
      )
      .then(
        () => undefined,
        (error: unknown) => {
          this.schemaReady = null;
          throw error;
        },
      );
    return this.schemaReady;
  }

  private async listen(): Promise<void> {
    if (this.listener !== null || this.closed) return;
    const listener = new pg.Client({
      ...this.options.connection,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      keepAlive: true,
    });
    this.listener = listener;
    const lost = (): void => {
      if (this.listener === listener) this.listener = null;
      // Wake everyone: a release may have happened while we could not hear it.
      for (const listeners of this.watchers.values()) {
        for (const watcher of listeners) watcher.onChange();
      }
    };
    listener.on('error', lost);
    listener.on('end', lost);
    listener.on('notification', (message) => {
      if (message.channel !== this.tables.channel || message.payload === undefined) return;
      const { election, firstInLine } = parseWakeUp(message.payload);
      for (const watcher of this.watchers.get(election) ?? []) {
        if (wakes(firstInLine, watcher.candidate)) watcher.onChange();
      }
    });
    try {
      await listener.connect();
      await listener.query(`LISTEN ${quoteIdentifier(this.tables.channel)}`);
    } catch (error) {
      if (this.listener === listener) this.listener = null;
      await listener.end().catch(() => {});
      throw error;
    }
  }

  private async run<T>(operation: string, work: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreClosedError(this.backend);
    try {
      return await work();
    } catch (error) {
      if (this.closed) throw new StoreClosedError(this.backend);
      // The schema or a table is gone (dropped by hand, a restored or reset database): make
      // them again on the next call and carry on. Terms restart, and electors notice.
      if (isMissingRelation(error)) this.schemaReady = null;
      throw translate(operation, error, this.options.where);
    }
  }
}

function isMissingRelation(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : '';
  return code === '42P01' || code === '3F000';
}

/** Takes the election's lock ($6) in the claim's own statement. */
const TRY_LOCK_SQL = 'SELECT pg_try_advisory_lock($6::bigint) AS locked';

/**
 * The server's WAL timeline: the first 8 hex digits of the current WAL file's name. It rises
 * when a standby is promoted (a failover) and when a backup is restored to a point in time:
 * exactly when the server may lack the last writes another server took. Rows record it.
 */
const WAL_TIMELINE_SQL = `('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int`;

/** Whether this session holds the election's lock ($6): a bigint key is two oids in pg_locks. */
const HOLDS_LOCK_SQL = `SELECT EXISTS (SELECT 1 FROM pg_locks
  WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid() AND objsubid = 1
    AND classid = (($6::bigint >> 32) & 4294967295)::oid
    AND objid = ($6::bigint & 4294967295)::oid) AS locked`;

/** A fixed lock id serialising CREATE SCHEMA / TABLE across candidates. */
const SCHEMA_LOCK_ID = '7226384219';

/** Stable 64-bit advisory lock id for an election (hashtext is not stable across versions). */
export function lockId(schema: string, election: string): string {
  return createHash('sha256')
    .update(`leasehold:${schema}:${election}`)
    .digest()
    .readBigInt64BE(0)
    .toString();
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function translate(operation: string, error: unknown, where: string): Error {
  if (error instanceof StoreClosedError || error instanceof StoreProtocolError) return error;
  const code =
    typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  const message = error instanceof Error ? error.message : String(error);
  if (code === '28P01' || code === '28000') {
    return new StoreAuthError(
      `postgres ${operation} at ${where}: the server refused the credentials (${message}); check the user and password in the store URL or PGPASSWORD`,
      { cause: error },
    );
  }
  if (code === '42501') {
    return new StoreAuthError(
      `postgres ${operation} at ${where}: permission denied (${message}); the user needs CREATE on the database (for the schema) and rights on leasehold's tables`,
      { cause: error },
    );
  }
  if (code === '3D000') {
    return new StoreAuthError(
      `postgres ${operation} at ${where}: ${message}; create the database or fix the URL`,
      {
        cause: error,
      },
    );
  }
  return new StoreUnavailableError(
    `postgres ${operation} at ${where} failed: ${message}${dnsHint(error)}`,
    {
      cause: error,
    },
  );
}
