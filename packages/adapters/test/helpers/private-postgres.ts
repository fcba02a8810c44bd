import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

const BIN = '/usr/lib/postgresql/15/bin';

/**
 * A PostgreSQL cluster of the test's own (initdb in a temp dir, run as the postgres user),
 * for restarts that must not disturb the shared server other test files use.
 */
export class PrivatePostgres {
  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  static async start(): Promise<PrivatePostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'leasehold-pg-'));
    chmodSync(dir, 0o777);
    const server = new PrivatePostgres(await freePort(), dir);
    server.asPostgres(`${BIN}/initdb`, [
      '-D',
      server.dataDir,
      '-A',
      'trust',
      '-U',
      'postgres',
      '--no-sync',
    ]);
    server.ctl('start');
    return server;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** Stop at once (no clean shutdown, like a crash) and start again on the same data. */
  restart(): void {
    this.ctl('restart', ['-m', 'immediate']);
  }

  stop(): void {
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
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
      ...extra,
    ]);
  }

  private asPostgres(command: string, args: string[]): void {
    execFileSync('runuser', ['-u', 'postgres', '--', command, ...args], {
      stdio: 'ignore',
      timeout: 60_000,
    });
  }
}
