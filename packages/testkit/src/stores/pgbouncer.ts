import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresServer, type PostgresPlace } from './postgres.js';
import { labPort } from '../ports.js';
import { ServerProcess, tool, type RestartableStore } from './server.js';

/** How PgBouncer hands server connections to its clients (its `pool_mode`). */
export type PoolMode = 'session' | 'transaction' | 'statement';

/**
 * Debian's PgBouncer in front of a private PostgreSQL: clients connect to the pooler, which
 * reaches the server beside it. Restarts crash the PostgreSQL behind it (the pooler stays,
 * as it does when a database server restarts under it).
 */
export class PgBouncerFront implements RestartableStore {
  readonly backend = 'pgbouncer';
  private readonly dir = mkdtempSync(join(tmpdir(), 'lhch-pgbouncer-'));
  private readonly pooler: ServerProcess;
  private closed = false;

  private constructor(
    /** The PostgreSQL behind the pooler. */
    readonly server: PostgresServer,
    private readonly place: PostgresPlace,
    readonly port: number,
    readonly mode: PoolMode,
    /** Whether closing the pooler closes the server too (it was started for the pooler). */
    private readonly ownsServer: boolean,
  ) {
    chmodSync(this.dir, 0o777);
    const config = join(this.dir, 'pgbouncer.ini');
    writeFileSync(join(this.dir, 'userlist.txt'), '"postgres" ""\n');
    writeFileSync(
      config,
      [
        '[databases]',
        `* = host=${place.address} port=${server.port}`,
        '[pgbouncer]',
        `listen_addr = ${place.open ? '*' : place.address}`,
        `listen_port = ${port}`,
        `unix_socket_dir = ${this.dir}`,
        'auth_type = trust',
        `auth_file = ${join(this.dir, 'userlist.txt')}`,
        `pool_mode = ${mode}`,
        'max_client_conn = 500',
        'default_pool_size = 100',
        // Sidecars set these per session; the pooler passes them on instead of refusing.
        'ignore_startup_parameters = extra_float_digits,options',
        // After a failed login to a restarting server PgBouncer waits this long (default 15 s)
        // before it tries again: every failover after a server restart would take that long.
        'server_login_retry = 1',
        'logfile =',
        '',
      ].join('\n'),
    );
    // PgBouncer refuses to run as root.
    const argv = ['runuser', '-u', 'postgres', '--', 'pgbouncer', config];
    this.pooler = new ServerProcess({
      name: `pgbouncer (${mode} pooling)`,
      host: undefined,
      argv: place.wrap?.(argv) ?? argv,
      ready: () => this.answers(),
    });
  }

  /** A new PostgreSQL and a pooler in `mode` in front of it, each on a lab port. */
  static async start(place: PostgresPlace, mode: PoolMode = 'session'): Promise<PgBouncerFront> {
    const server = await PostgresServer.start(place);
    return PgBouncerFront.launch(server, place, labPort(), mode, true);
  }

  /** A pooler in `mode` on `port` in front of a running `server` (left running by close()). */
  static before(
    server: PostgresServer,
    place: PostgresPlace,
    port: number,
    mode: PoolMode,
  ): Promise<PgBouncerFront> {
    return PgBouncerFront.launch(server, place, port, mode, false);
  }

  private static async launch(
    server: PostgresServer,
    place: PostgresPlace,
    port: number,
    mode: PoolMode,
    ownsServer: boolean,
  ): Promise<PgBouncerFront> {
    const front = new PgBouncerFront(server, place, port, mode, ownsServer);
    try {
      await front.pooler.start();
    } catch (error) {
      await front.close();
      throw error;
    }
    return front;
  }

  get url(): string {
    return `postgres://postgres@${this.place.address}:${this.port}/postgres`;
  }

  /** The PostgreSQL behind the pooler crashes and restarts; the pooler stays up. */
  restart(): Promise<void> {
    return this.server.restart();
  }

  /** End the server session of whoever holds an advisory lock (see PostgresServer). */
  terminateLockHolders(): Promise<number> {
    return this.server.terminateLockHolders();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.pooler.kill();
      if (this.ownsServer) await this.server.close();
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  private async answers(): Promise<boolean> {
    try {
      await tool('psql', [
        ...['-h', this.place.address, '-p', String(this.port), '-U', 'postgres', '-d', 'postgres'],
        ...['-Atc', 'SELECT 1'],
      ]);
      return true;
    } catch {
      return false;
    }
  }
}
