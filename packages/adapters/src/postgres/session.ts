import { StoreProtocolError } from '@leasehold/core';
import pg from 'pg';
import { endsSession, errorCode } from './errors.js';
import { wakeUpChannel, type WakeUpKey } from './notifications.js';
import { idleTimeoutSql, sessionSettingsSql, wakeUpSecretSql } from './queries.js';
import { LOST_SCHEMA_RACE, SCHEMA_ATTEMPTS, schemaSql, type Tables } from './schema.js';
import { SerialQueries } from './serial-queries.js';
import type { PostgresStoreOptions } from './store.js';

/**
 * The store's one session with the server (store.ts): opened on first use and again after
 * the server ended it, with its limits set; the schema made and the wake-up key read on it
 * once (again after a table went missing). Advisory locks belong to the session: the locks
 * it holds are kept with it, and go with it when it ends.
 */

export interface HeldLock {
  readonly lockId: string;
  /** The lease's token; '' when the lock may be held but the lease is not ours. */
  readonly token: string;
}

export interface Session {
  readonly client: pg.Client;
  /** Every statement on the session goes through here, one at a time. */
  readonly statements: SerialQueries;
  /** Elections whose advisory lock this session holds: the lock's id and the lease's token. */
  readonly locks: Map<string, HeldLock>;
  alive: boolean;
}

const CONNECT_TIMEOUT_MS = 5_000;

export class StoreSession {
  private session: Session | null = null;
  private connecting: Promise<Session> | null = null;
  /** The schema is in place, and the key that hides wake-ups from other roles (hex) read. */
  private schemaReady: Promise<WakeUpKey> | null = null;
  private idleTimeoutMs = 0;

  constructor(
    private readonly options: PostgresStoreOptions,
    private readonly tables: Tables,
    /** A key was read (the first, or a new one after the schema was made again). */
    private readonly onKey: (key: WakeUpKey) => void,
  ) {}

  /** The session as it is, never opened for it: null before the first and after close. */
  get current(): Session | null {
    return this.session;
  }

  /** The live session, opened when there is none. */
  async connect(): Promise<Session> {
    const session = this.session;
    if (session?.alive === true) {
      // Cached once created; made again after someone dropped the schema (see forgetSchema()).
      await this.ensureSchema(session);
      return session;
    }
    this.connecting ??= this.openSession().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  /** The schema or a table is gone: make them again on the next call. */
  forgetSchema(): void {
    this.schemaReady = null;
  }

  /** Forget the session; its client, for the caller to end. */
  detach(): pg.Client | undefined {
    const client = this.session?.client;
    this.session = null;
    return client;
  }

  /** A connected client of the store's: with the TLS plan's fallback (allow, prefer). */
  async connectClient(extra: pg.ClientConfig): Promise<pg.Client> {
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

  /** The TTL of the lease this session may hold decides how long it may sit idle. */
  async setIdleTimeout(session: Session, ttlMs: number): Promise<void> {
    if (this.idleTimeoutMs === ttlMs) return;
    await session.statements.query(idleTimeoutSql(ttlMs));
    this.idleTimeoutMs = ttlMs;
  }

  wakeUpKey(session: Session): Promise<WakeUpKey> {
    return this.ensureSchema(session);
  }

  private async openSession(): Promise<Session> {
    const client = await this.connectClient({ application_name: 'leasehold' });
    // The server ends sessions (idle timeout, restart, pg_terminate_backend): that is news
    // to act on, not a crash. Every lock the session held is gone with it. A statement
    // answered FATAL ends the session at once: the client's 'end' comes later, and a
    // statement sent in between (through PgBouncer, which answers it "server conn
    // crashed?") would fail too.
    const dead = (): void => sessionEnded(session);
    const session: Session = {
      client,
      statements: new SerialQueries(client, (error) => {
        if (endsSession(error)) dead();
      }),
      locks: new Map(),
      alive: true,
    };
    client.on('error', dead);
    client.on('end', dead);
    try {
      await session.statements.query(sessionSettingsSql(this.options.statementTimeoutMs));
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

  private clientConfig(ssl: pg.ClientConfig['ssl']): pg.ClientConfig {
    return {
      ...this.options.connection,
      ssl,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      keepAlive: true,
    };
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
        this.onKey(key);
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
      wakeUpSecretSql(this.tables.secrets),
    );
    const secret = rows[0]?.secret;
    if (secret === undefined) {
      throw new StoreProtocolError(
        `postgres at ${this.options.where}: no wake-up key in ${this.tables.secrets}`,
      );
    }
    return { secret, channel: wakeUpChannel(secret) };
  }
}

/** A session the server ended: every lock it held is gone with it. */
export function sessionEnded(session: Session): void {
  session.alive = false;
  session.locks.clear();
}
