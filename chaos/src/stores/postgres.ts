import { appendFileSync, chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LabHost } from '../netlab.js';
import { labPort, tool, type RestartableStore } from './server.js';

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

/**
 * A private PostgreSQL cluster (initdb in a temp dir, run as the postgres user) inside a lab
 * host, reachable from anywhere in the lab. Restarts stop it at once, like a crash.
 */
export class PostgresServer implements RestartableStore {
  readonly backend = 'postgres';
  readonly port = labPort();
  private readonly bin = postgresBin();
  private readonly dir = mkdtempSync(join(tmpdir(), 'lhch-pg-'));

  private constructor(
    private readonly host: LabHost,
    private readonly address: string,
  ) {}

  static async start(host: LabHost, address: string): Promise<PostgresServer> {
    const server = new PostgresServer(host, address);
    chmodSync(server.dir, 0o777);
    await server.asPostgres('initdb', [
      '-D',
      server.dataDir,
      '-A',
      'trust',
      '-U',
      'postgres',
      '--no-sync',
    ]);
    // Candidates connect from other namespaces, over the lab's links.
    appendFileSync(join(server.dataDir, 'pg_hba.conf'), 'host all all 0.0.0.0/0 trust\n');
    await server.ctl('start');
    return server;
  }

  get url(): string {
    return `postgres://postgres@${this.address}:${this.port}/postgres`;
  }

  /** Stop at once (no clean shutdown, like a crash) and start again on the same data. */
  async restart(): Promise<void> {
    await this.ctl('restart', ['-m', 'immediate']);
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
    return tool('psql', [
      '-h',
      this.address,
      '-p',
      String(this.port),
      '-U',
      'postgres',
      '-d',
      'postgres',
      '-Atc',
      query,
    ]);
  }

  async close(): Promise<void> {
    try {
      await this.ctl('stop', ['-m', 'immediate']);
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  private get dataDir(): string {
    return join(this.dir, 'data');
  }

  private ctl(command: string, extra: string[] = []): Promise<string> {
    return this.asPostgres('pg_ctl', [
      command,
      ...['-D', this.dataDir, '-w', '-t', '30', '-l', join(this.dir, 'log')],
      '-o',
      `-p ${this.port} -k ${this.dir} -c listen_addresses=* -c fsync=off`,
      ...extra,
    ]);
  }

  /** Run a server binary as the postgres user, inside the lab host (pg_ctl's server stays there). */
  private asPostgres(binary: string, args: string[]): Promise<string> {
    const [command = '', ...rest] = this.host.wrap([
      'runuser',
      '-u',
      'postgres',
      '--',
      join(this.bin, binary),
      ...args,
    ]);
    return tool(command, rest, { timeoutMs: 60_000 });
  }
}
