import { appendFileSync, chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from '../wait.js';
import { labPort } from '../ports.js';
import { tool, type RestartableStore } from './server.js';

/** The newest PostgreSQL server binaries Debian installed. */
function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const newest = versions[0];
  if (newest === undefined) {
    throw new Error(
      'PostgreSQL server binaries not found under /usr/lib/postgresql: run scripts/services.sh',
    );
  }
  return join(root, newest, 'bin');
}

/** Where a private PostgreSQL runs and who may connect. */
export interface PostgresPlace {
  /** Prefixes its command lines (a lab host's `ip netns exec …`); none: this namespace. */
  readonly wrap?: (argv: readonly string[]) => string[];
  /** Where clients reach it. */
  readonly address: string;
  /** Its port; the next lab port when not given. */
  readonly port?: number;
  /** Listen on every address and trust clients from anywhere (a lab), or only `address`. */
  readonly open: boolean;
}

/**
 * A private PostgreSQL cluster (initdb in a temp dir, run as the postgres user), in a lab
 * host for the chaos suite or on loopback for the adapters' tests. Restarts stop it at
 * once, like a crash. A standby of it can be made and promoted (a failover).
 */
export class PostgresServer implements RestartableStore {
  readonly backend = 'postgres';
  readonly port: number;
  private readonly bin = postgresBin();
  private readonly dir = mkdtempSync(join(tmpdir(), 'lhch-pg-'));
  private closed = false;
  /** Crashed on purpose and not started again. */
  private down = false;

  private constructor(private readonly place: PostgresPlace) {
    this.port = place.port ?? labPort();
    chmodSync(this.dir, 0o777);
  }

  static async start(place: PostgresPlace): Promise<PostgresServer> {
    const server = new PostgresServer(place);
    await server.asPostgres('initdb', [
      ...['-D', server.dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync'],
    ]);
    // Candidates connect from other namespaces, over the lab's links.
    if (place.open) {
      appendFileSync(
        join(server.dataDir, 'pg_hba.conf'),
        'host all all 0.0.0.0/0 trust\nhost replication all 0.0.0.0/0 trust\n',
      );
    }
    await server.ctl('start');
    return server;
  }

  /** A streaming-replication standby of this server (pg_basebackup -R) beside it, on `port`. */
  async startStandby(port?: number): Promise<PostgresServer> {
    const standby = new PostgresServer({ ...this.place, ...(port === undefined ? {} : { port }) });
    await standby.asPostgres('pg_basebackup', [
      ...['-h', this.place.address, '-p', String(this.port), '-U', 'postgres'],
      ...['-D', standby.dataDir, '-R', '-X', 'stream', '--no-sync'],
    ]);
    await standby.ctl('start');
    return standby;
  }

  get url(): string {
    return `postgres://postgres@${this.place.address}:${this.port}/postgres`;
  }

  /** Stop at once (no clean shutdown, like a crash) and start again on the same data. */
  async restart(): Promise<void> {
    await this.ctl('restart', ['-m', 'immediate']);
  }

  /** Stop at once, like a crash, and stay down (close() still removes its data). */
  async crash(): Promise<void> {
    await this.ctl('stop', ['-m', 'immediate']);
    this.down = true;
  }

  /** A standby stops receiving WAL from its primary (and says so in pg_stat_wal_receiver). */
  async stopReplication(): Promise<void> {
    await this.sql(`ALTER SYSTEM SET primary_conninfo = ''`);
    await this.sql('SELECT pg_reload_conf()');
    await until(
      'the standby to stop receiving WAL',
      20_000,
      async () => (await this.sql('SELECT count(*) FROM pg_stat_wal_receiver')).trim() === '0',
      100,
    );
  }

  /** Wait until this standby has replayed everything `primary` had written when asked. */
  async caughtUpWith(primary: PostgresServer): Promise<void> {
    const lsn = (await primary.sql('SELECT pg_current_wal_lsn()')).trim();
    await until(
      'the standby to replay the primary’s WAL',
      20_000,
      async () =>
        (await this.sql(`SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn`)).trim() === 't',
      100,
    );
  }

  /** End recovery: a standby becomes a primary on a new WAL timeline. */
  async promote(): Promise<void> {
    await this.ctl('promote');
  }

  /** End the session of whoever holds an advisory lock (the leader); returns how many. */
  async terminateLockHolders(): Promise<number> {
    const count = await this.sql(
      `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()`,
    );
    return Number(count.trim());
  }

  sql(query: string): Promise<string> {
    const { address } = this.place;
    return tool('psql', [
      ...['-h', address, '-p', String(this.port), '-U', 'postgres', '-d', 'postgres'],
      ...['-Atc', query],
    ]);
  }

  /** Stop at once and remove its data; again is a no-op. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (!this.down) await this.ctl('stop', ['-m', 'immediate']);
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  private get dataDir(): string {
    return join(this.dir, 'data');
  }

  private ctl(command: string, extra: string[] = []): Promise<string> {
    const listen = this.place.open ? '*' : this.place.address;
    return this.asPostgres('pg_ctl', [
      command,
      ...['-D', this.dataDir, '-w', '-t', '30', '-l', join(this.dir, 'log')],
      '-o',
      `-p ${this.port} -k ${this.dir} -c listen_addresses=${listen} -c fsync=off`,
      ...extra,
    ]);
  }

  /** Run a server binary as the postgres user where the server runs (pg_ctl's server stays there). */
  private asPostgres(binary: string, args: string[]): Promise<string> {
    const argv = ['runuser', '-u', 'postgres', '--', join(this.bin, binary), ...args];
    const [command = '', ...rest] = this.place.wrap?.(argv) ?? argv;
    return tool(command, rest, { timeoutMs: 60_000 });
  }
}
