import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import type { LabHost } from '../netlab.js';
import { freePort, labPort } from '../ports.js';
import type { TestCertificates } from '../tls-certificates.js';
import { ServerProcess, tool, type RestartableStore } from './server.js';

/** Ask a Redis server with redis-cli; resolves its raw reply. */
export function redisCli(address: string, port: number, ...args: string[]): Promise<string> {
  return tool('redis-cli', ['-h', address, '-p', String(port), ...args], { timeoutMs: 5_000 });
}

export interface RedisServerOptions {
  /** The lab host it runs in, listening on every address there; undefined: loopback. */
  readonly host?: LabHost;
  /** The address clients reach it at. Default: the host's address, or 127.0.0.1. */
  readonly address?: string;
  /** Keep every acknowledged write on disk (AOF, fsync always), so a restart keeps data. */
  readonly persistent?: boolean;
  /** Serve TLS only (port 0 for plain TCP), with certificates from `TestCertificates`. */
  readonly tls?: TestCertificates;
  /** Run as a Sentinel (`redis-server <conf> --sentinel`) monitoring `master` on loopback. */
  readonly sentinelOf?: { readonly name: string; readonly port: number };
  /**
   * Extra redis-server arguments, one token each: `['--requirepass', 'x']`,
   * `['--user', 'app', 'on', '>pw', '~app:*']`.
   */
  readonly args?: readonly string[];
}

/**
 * A redis-server of the suite's own, for what must never touch the shared one: flushing,
 * restarting empty, passwords and ACLs, TLS, Sentinel, stalls, lab faults. Without
 * persistence (the default, like the CI Redis) a restart comes back empty, as Redis without
 * persistence does after a crash; with it, a restart comes back with every write it
 * acknowledged. Close it in afterAll.
 */
export class RedisServer implements RestartableStore {
  readonly backend = 'redis';
  private readonly dir = mkdtempSync(join(tmpdir(), 'lhch-redis-'));
  private readonly server: ServerProcess;

  private constructor(
    readonly port: number,
    private readonly options: RedisServerOptions,
  ) {
    this.server = new ServerProcess({
      name: `redis-server on ${this.address}:${port}`,
      host: options.host,
      argv: ['redis-server', ...this.argv(), ...(options.args ?? [])],
      ready: () => this.answers(),
    });
  }

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    // A lab host's namespace is the kit's own: counting up is enough there.
    const port = options.host === undefined ? await freePort() : labPort();
    const server = new RedisServer(port, options);
    try {
      await server.start();
    } catch (error) {
      rmSync(server.dir, { recursive: true, force: true });
      throw error;
    }
    return server;
  }

  get address(): string {
    return this.options.address ?? this.options.host?.address ?? '127.0.0.1';
  }

  get url(): string {
    return `${this.options.tls ? 'rediss' : 'redis'}://${this.address}:${this.port}`;
  }

  cli(...args: string[]): Promise<string> {
    return redisCli(this.address, this.port, ...args);
  }

  start(): Promise<void> {
    return this.server.start();
  }

  /** SIGKILL (no chance to save anything) and start again on what is on disk. */
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

  /** SIGKILL the server and wait until it has exited. */
  kill(): Promise<void> {
    return this.server.kill();
  }

  /** SIGSTOP: connections stay open, nothing answers (a frozen or overloaded server). */
  pause(): void {
    this.server.signal('SIGSTOP');
  }

  resume(): void {
    this.server.signal('SIGCONT');
  }

  async close(): Promise<void> {
    await this.server.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private argv(): string[] {
    const { host, tls, sentinelOf, persistent = false } = this.options;
    const argv = host ? ['--bind', '0.0.0.0', '--protected-mode', 'no'] : ['--bind', '127.0.0.1'];
    argv.push('--dir', this.dir);
    if (tls) {
      argv.push('--port', '0', '--tls-port', String(this.port));
      argv.push('--tls-cert-file', tls.serverCertFile, '--tls-key-file', tls.serverKeyFile);
      argv.push('--tls-ca-cert-file', tls.caFile, '--tls-auth-clients', 'optional');
    } else {
      argv.push('--port', String(this.port));
    }
    // Sentinel refuses --save / --appendonly, and rewrites a configuration file of its own.
    if (sentinelOf) return [this.sentinelConfig(sentinelOf), '--sentinel', ...argv];
    const persistence = persistent
      ? ['--appendonly', 'yes', '--appendfsync', 'always']
      : ['--appendonly', 'no'];
    return [...argv, '--save', '', ...persistence];
  }

  private sentinelConfig(master: { readonly name: string; readonly port: number }): string {
    const conf = join(this.dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `sentinel monitor ${master.name} 127.0.0.1 ${master.port} 1`,
        `sentinel down-after-milliseconds ${master.name} 1000`,
        '',
      ].join('\n'),
    );
    return conf;
  }

  /** Up once it answers PING: +PONG, or -NOAUTH when a password is set. */
  private answers(): Promise<boolean> {
    return new Promise((resolve) => {
      const { tls } = this.options;
      const socket: Socket = tls
        ? tlsConnect({
            host: this.address,
            port: this.port,
            ca: tls.ca,
            cert: tls.clientCert,
            key: tls.clientKey,
          })
        : createConnection({ host: this.address, port: this.port });
      const answer = (up: boolean): void => {
        socket.destroy();
        resolve(up);
      };
      socket.setTimeout(500);
      socket.once(tls ? 'secureConnect' : 'connect', () => socket.write('PING\r\n'));
      socket.once('data', (data) => answer(/^(\+PONG|-NOAUTH)/.test(data.toString())));
      socket.once('error', () => answer(false));
      socket.once('timeout', () => answer(false));
    });
  }
}
