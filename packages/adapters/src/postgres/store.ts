import {
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
  type RenewResult,
} from '@leasehold/core';
import pg from 'pg';
import { createHash } from 'node:crypto';
import { waitAtMost } from '../wait.js';
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
}

interface Session {
  readonly client: pg.Client;
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
  private readonly watchers = new Map<string, Set<() => void>>();
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

  tryAcquire(request: AcquireRequest): Promise<AcquireResult> {
    return this.run('acquire', async () => {
      const session = await this.connect();
      await this.setIdleTimeout(session, request.ttlMs);
      if (!session.locks.has(request.election)) {
        const { rows } = await session.client.query<{ locked: boolean }>(
          'SELECT pg_try_advisory_lock($1) AS locked',
          [lockId(this.options.schema, request.election)],
        );
        if (rows[0]?.locked !== true) return this.refused(session, request.election);
      } else if (await this.liveHolder(session, request.election)) {
        // This session already holds the lock for a live lease of ours: not a second grant.
        return this.refused(session, request.election);
      }
      session.locks.set(request.election, request.token);
      try {
        return await this.claim(session, request);
      } catch (error) {
        await this.unlock(session, request.election);
        throw error;
      }
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
        const { rowCount } = await session.client.query(
          `UPDATE ${this.tables.leases}
              SET renewed_at = now(), expires_at = now() + make_interval(secs => $3::double precision / 1000)
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

  release(lease: Lease): Promise<void> {
    return this.run('release', async () => {
      const session = this.session;
      if (session === null || !session.alive) return;
      await session.client.query(
        `UPDATE ${this.tables.leases} SET released = true, expires_at = now()
          WHERE election = $1 AND token = $2`,
        [lease.election, lease.token],
      );
      if (session.locks.get(lease.election) === lease.token)
        await this.unlock(session, lease.election);
      await session.client.query('SELECT pg_notify($1, $2)', [this.tables.channel, lease.election]);
    });
  }

  read(election: string): Promise<LeaseRecord | null> {
    return this.run('read', async () => {
      const session = await this.connect();
      return this.selectLive(session, election);
    });
  }

  putMember(election: string, member: MemberRecord, ttlMs: number): Promise<void> {
    return this.run('member', async () => {
      const session = await this.connect();
      await session.client.query(
        `INSERT INTO ${this.tables.members} (election, id, record, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4::double precision / 1000))
         ON CONFLICT (election, id) DO UPDATE SET record = excluded.record, expires_at = excluded.expires_at`,
        [election, member.id, JSON.stringify(member), ttlMs],
      );
    });
  }

  listMembers(election: string): Promise<MemberRecord[]> {
    return this.run('member', async () => {
      const session = await this.connect();
      const { rows } = await session.client.query<{ record: MemberRecord }>(
        `SELECT record FROM ${this.tables.members} WHERE election = $1 AND expires_at > now()`,
        [election],
      );
      return rows.map((row) => row.record);
    });
  }

  removeMember(election: string, id: string): Promise<void> {
    return this.run('member', async () => {
      const session = await this.connect();
      await session.client.query(
        `DELETE FROM ${this.tables.members} WHERE election = $1 AND id = $2`,
        [election, id],
      );
    });
  }

  /** NOTIFY on release; one LISTEN connection per store serves every watched election. */
  async watch(election: string, onChange: () => void, signal: AbortSignal): Promise<void> {
    if (this.closed || signal.aborted) return;
    let listeners = this.watchers.get(election);
    if (listeners === undefined) {
      listeners = new Set();
      this.watchers.set(election, listeners);
    }
    const electionListeners = listeners;
    electionListeners.add(onChange);
    signal.addEventListener('abort', () => electionListeners.delete(onChange), { once: true });
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

  /** Claim the row in one transaction: raise the term, and say whether to wait for the last holder. */
  private async claim(session: Session, request: AcquireRequest): Promise<AcquireResult> {
    const { client } = session;
    await client.query('BEGIN');
    try {
      await client.query(
        `INSERT INTO ${this.tables.leases} (election, term, expires_at, released)
         VALUES ($1, 0, now(), true) ON CONFLICT (election) DO NOTHING`,
        [request.election],
      );
      const { rows } = await client.query<{ term: string; wait_ms: number }>(
        `WITH previous AS (
           SELECT election,
                  CASE WHEN released OR expires_at <= now() THEN 0
                       ELSE ceil(extract(epoch FROM expires_at - now()) * 1000) END AS wait_ms
             FROM ${this.tables.leases} WHERE election = $1 FOR UPDATE)
         UPDATE ${this.tables.leases} AS l
            SET holder = $2, token = $3, term = l.term + 1, metadata = $4,
                renewed_at = now(), expires_at = now() + make_interval(secs => $5::double precision / 1000),
                released = false
           FROM previous WHERE l.election = previous.election
         RETURNING l.term::text AS term, previous.wait_ms::float8 AS wait_ms`,
        [
          request.election,
          request.holder,
          request.token,
          JSON.stringify(request.metadata ?? {}),
          request.ttlMs,
        ],
      );
      await client.query('COMMIT');
      const row = rows[0];
      if (row === undefined)
        throw new StoreProtocolError('postgres acquire: the lease row vanished');
      return {
        acquired: true,
        lease: {
          election: request.election,
          holder: request.holder,
          token: request.token,
          term: Number(row.term),
          ttlMs: request.ttlMs,
          // The lock was free, yet the last holder neither released nor ran out: its session
          // broke (crash, freeze, pg_terminate_backend, restart) while it may still believe
          // it leads. Its own deadline ends before this expiry.
          notBeforeMs: Math.max(0, Number(row.wait_ms)),
        },
      };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
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
    const { rows } = await session.client.query<{
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

  private async unlock(session: Session, election: string): Promise<void> {
    session.locks.delete(election);
    await session.client.query('SELECT pg_advisory_unlock($1)', [
      lockId(this.options.schema, election),
    ]);
  }

  // ---------------------------------------------------------------- connections

  private async connect(): Promise<Session> {
    if (this.closed) throw new StoreClosedError(this.backend);
    if (this.session?.alive === true) return this.session;
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
    const session: Session = { client, locks: new Map(), alive: true };
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
      await client.query(
        `SET statement_timeout = '5s'; SET idle_in_transaction_session_timeout = '5s'; SET lock_timeout = '2s'`,
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
    await session.client.query(`SET idle_session_timeout = '${Math.round(ttlMs)}ms'`);
    this.idleTimeoutMs = ttlMs;
  }

  /** Create the schema and tables once; an advisory lock keeps racing candidates in line. */
  private ensureSchema(session: Session): Promise<void> {
    this.schemaReady ??= (async () => {
      const schema = quoteIdentifier(this.options.schema);
      await session.client.query('BEGIN');
      try {
        await session.client.query(`SELECT pg_advisory_xact_lock(${SCHEMA_LOCK_ID})`);
        await session.client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
        await session.client.query(
          `CREATE TABLE IF NOT EXISTS ${this.tables.leases} (
             election   text PRIMARY KEY,
             holder     text,
             token      text,
             term       bigint NOT NULL,
             metadata   jsonb,
             renewed_at timestamptz,
             expires_at timestamptz NOT NULL,
             released   boolean NOT NULL
           )`,
        );
        await session.client.query(
          `CREATE TABLE IF NOT EXISTS ${this.tables.members} (
             election   text NOT NULL,
             id         text NOT NULL,
             record     jsonb NOT NULL,
             expires_at timestamptz NOT NULL,
             PRIMARY KEY (election, id)
           )`,
        );
        await session.client.query('COMMIT');
      } catch (error) {
        await session.client.query('ROLLBACK').catch(() => {});
        this.schemaReady = null;
        throw error;
      }
    })();
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
      for (const listeners of this.watchers.values()) for (const onChange of listeners) onChange();
    };
    listener.on('error', lost);
    listener.on('end', lost);
    listener.on('notification', (message) => {
      if (message.channel !== this.tables.channel || message.payload === undefined) return;
      for (const onChange of this.watchers.get(message.payload) ?? []) onChange();
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
      throw translate(operation, error, this.options.where);
    }
  }
}

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
