import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import type { Placement } from './redis-server.js';

const BIN = '/usr/lib/postgresql/15/bin';

/**
 * A PostgreSQL cluster of the test's own (initdb in a temp dir, run as the postgres user),
 * for restarts that must not disturb the shared server other test files use.
 */
export class PrivatePostgres {
  private stopped = false;

  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly placement: Placement | undefined,
  ) {}

  /** With a placement it runs there (a netlab namespace), open to any client address. */
  static async start(placement?: Placement): Promise<PrivatePostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'leasehold-pg-'));
    chmodSync(dir, 0o777);
    const server = new PrivatePostgres(await freePort(), dir, placement);
    server.asPostgres(`${BIN}/initdb`, [
      '-D',
      server.dataDir,
      '-A',
      'trust',
      '-U',
      'postgres',
      '--no-sync',
    ]);
    if (placement)
      appendFileSync(join(server.dataDir, 'pg_hba.conf'), 'host all all 0.0.0.0/0 trust\n');
    server.ctl('start');
    return server;
  }

  /**
   * A streaming-replication standby of this server (pg_basebackup -R), running beside it.
   * Not for a server in a netlab placement.
   */
  async startStandby(): Promise<PrivatePostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'leasehold-pg-standby-'));
    chmodSync(dir, 0o777);
    const standby = new PrivatePostgres(await freePort(), dir, undefined);
    standby.asPostgres(`${BIN}/pg_basebackup`, [
      ...['-h', '127.0.0.1', '-p', String(this.port), '-U', 'postgres'],
      ...['-D', standby.dataDir, '-R', '-X', 'stream', '--no-sync'],
    ]);
    standby.ctl('start');
    return standby;
  }

  /** End recovery: the standby becomes a primary on a new WAL timeline. */
  promote(): void {
    this.ctl('promote');
  }

  get url(): string {
    return `postgres://postgres@${this.placement?.host ?? '127.0.0.1'}:${this.port}/postgres`;
  }

  /** Stop at once (no clean shutdown, like a crash) and start again on the same data. */
  restart(): void {
    this.ctl('restart', ['-m', 'immediate']);
  }

  /** Stop at once and remove its data; again is a no-op. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    try {
      this.ctl('stop', ['-m', 'immediate']);
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  private get dataDir(): string {
    return join(this.dir, 'data');
  }

  private ctl(command: string, extra: string[] = []): void {
    this.asPostgres(`${BIN}/pg_ctl`, [
      command,
      '-D',
      this.dataDir,
      '-w',
      '-t',
      '30',
      '-l',
      join(this.dir, 'log'),
      '-o',
      `-p ${this.port} -k ${this.dir} -c listen_addresses=${this.placement ? '0.0.0.0' : '127.0.0.1'} -c fsync=off`,
      ...extra,
    ]);
  }

  private asPostgres(command: string, args: string[]): void {
    const wrap = this.placement?.wrap ?? ((argv: readonly string[]) => [...argv]);
    const [runuser = '', ...runuserArgs] = wrap([
      'runuser',
      '-u',
      'postgres',
      '--',
      command,
      ...args,
    ]);
    execFileSync(runuser, runuserArgs, {
      stdio: 'ignore',
      timeout: 60_000,
    });
  }
}
