import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LabHost } from '../netlab.js';
import { labPort } from '../ports.js';
import { ServerProcess, tool, type RestartableStore } from './server.js';

/** Ask a Redis server with redis-cli; resolves its raw reply. */
export function redisCli(address: string, port: number, ...args: string[]): Promise<string> {
  return tool('redis-cli', ['-h', address, '-p', String(port), ...args], { timeoutMs: 5_000 });
}

async function answersPing(address: string, port: number): Promise<boolean> {
  try {
    return (await redisCli(address, port, 'PING')).trim() === 'PONG';
  } catch {
    return false;
  }
}

export interface RedisServerOptions {
  /** Where it runs, listening on every address there. */
  readonly host: LabHost;
  /** The address clients reach it at. */
  readonly address: string;
  /** Keep every acknowledged write on disk (AOF, fsync always), so a restart keeps data. */
  readonly persistent: boolean;
  readonly args?: readonly string[];
}

/**
 * A private redis-server. Without persistence a restart comes back empty, as Redis without
 * persistence does after a crash; with it, a restart comes back with every write it
 * acknowledged.
 */
export class RedisServer implements RestartableStore {
  readonly backend = 'redis';
  readonly port = labPort();
  private readonly dir = mkdtempSync(join(tmpdir(), 'lhch-redis-'));
  private readonly server: ServerProcess;

  private constructor(private readonly options: RedisServerOptions) {
    const persistence = options.persistent
      ? ['--appendonly', 'yes', '--appendfsync', 'always']
      : ['--appendonly', 'no'];
    this.server = new ServerProcess({
      name: `redis-server on ${options.address}:${this.port}`,
      host: options.host,
      argv: [
        'redis-server',
        ...['--bind', '0.0.0.0', '--port', String(this.port), '--protected-mode', 'no'],
        ...['--save', '', '--dir', this.dir, ...persistence],
        ...(options.args ?? []),
      ],
      ready: () => answersPing(options.address, this.port),
    });
  }

  static async start(options: RedisServerOptions): Promise<RedisServer> {
    const server = new RedisServer(options);
    await server.server.start();
    return server;
  }

  get address(): string {
    return this.options.address;
  }

  get url(): string {
    return `redis://${this.options.address}:${this.port}`;
  }

  cli(...args: string[]): Promise<string> {
    return redisCli(this.options.address, this.port, ...args);
  }

  restart(): Promise<void> {
    return this.server.restart();
  }

  /** Crash and come back with nothing: its files are gone too. */
  async restartEmpty(): Promise<void> {
    await this.server.kill();
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir);
    await this.server.start();
  }

  kill(): Promise<void> {
    return this.server.kill();
  }

  /** SIGSTOP / SIGCONT the server: a frozen replica misses what its master writes. */
  signal(signal: NodeJS.Signals): void {
    this.server.signal(signal);
  }

  start(): Promise<void> {
    return this.server.start();
  }

  async close(): Promise<void> {
    await this.server.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
