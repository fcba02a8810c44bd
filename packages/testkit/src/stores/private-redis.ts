import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { freePort } from '../ports.js';
import type { TestCertificates } from '../tls-certificates.js';
import { until } from '../wait.js';

export interface PrivateRedisOptions {
  /**
   * Extra redis-server arguments, one token each: `['--requirepass', 'x']`,
   * `['--user', 'app', 'on', '>pw', '~app:*']`.
   */
  readonly args?: readonly string[];
  /** Serve TLS only (port 0 for plain TCP), with certificates from `TestCertificates`. */
  readonly tls?: TestCertificates;
  /** Run as a Sentinel (`redis-server <conf> --sentinel`) monitoring `master`. */
  readonly sentinelOf?: { readonly name: string; readonly port: number };
  /** Run it somewhere else than on loopback, e.g. in a network namespace of a netlab. */
  readonly placement?: Placement;
}

/**
 * Where a private server runs: `wrap` prefixes its command line (`ip netns exec <ns>`), it
 * listens on every address there, and clients reach it at `host`.
 */
export interface Placement {
  readonly host: string;
  readonly wrap: (argv: readonly string[]) => string[];
}

/**
 * A redis-server of the test's own, for what must never touch the shared one: flushing,
 * restarting empty, passwords and ACLs, TLS, Sentinel, stalls. Keeps nothing on disk, like
 * the CI Redis. Stop it in afterAll.
 */
export class PrivateRedis {
  private process: ChildProcess | null = null;
  private readonly dir = mkdtempSync(join(tmpdir(), 'leasehold-redis-'));

  private constructor(
    readonly port: number,
    private readonly options: PrivateRedisOptions,
  ) {}

  static async start(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
    const server = new PrivateRedis(await freePort(), options);
    await server.start();
    return server;
  }

  get url(): string {
    return `${this.options.tls ? 'rediss' : 'redis'}://${this.host}:${this.port}`;
  }

  private get host(): string {
    return this.options.placement?.host ?? '127.0.0.1';
  }

  async start(): Promise<void> {
    const { tls, sentinelOf, placement, args = [] } = this.options;
    const argv = ['--save', '', '--appendonly', 'no', '--dir', this.dir];
    argv.push(
      ...(placement ? ['--bind', '0.0.0.0', '--protected-mode', 'no'] : ['--bind', '127.0.0.1']),
    );
    if (tls) {
      argv.push('--port', '0', '--tls-port', String(this.port));
      argv.push('--tls-cert-file', tls.serverCertFile, '--tls-key-file', tls.serverKeyFile);
      argv.push('--tls-ca-cert-file', tls.caFile, '--tls-auth-clients', 'optional');
    } else {
      argv.push('--port', String(this.port));
    }
    if (sentinelOf) {
      // Sentinel rewrites its configuration file, so it needs one of its own.
      const conf = join(this.dir, 'sentinel.conf');
      writeFileSync(
        conf,
        [
          `sentinel monitor ${sentinelOf.name} 127.0.0.1 ${sentinelOf.port} 1`,
          `sentinel down-after-milliseconds ${sentinelOf.name} 1000`,
          '',
        ].join('\n'),
      );
      argv.unshift(conf, '--sentinel');
      // Sentinel refuses --save / --appendonly.
      argv.splice(argv.indexOf('--save'), 4);
    }
    const log = join(this.dir, 'redis.log');
    const output = openSync(log, 'a');
    const [command = '', ...commandArgs] = (placement?.wrap ?? ((a) => [...a]))([
      'redis-server',
      ...argv,
      ...args,
    ]);
    const child = spawn(command, commandArgs, { stdio: ['ignore', output, output] });
    closeSync(output);
    this.process = child;
    try {
      await until(
        `redis-server on ${this.port}`,
        10_000,
        () => child.exitCode === null && this.answers(),
      );
    } catch (error) {
      await this.stop();
      const tail = readFileSync(log, 'utf8').trim().split('\n').slice(-3).join('\n');
      throw new Error(`${(error as Error).message}; its log ends:\n${tail}`);
    }
  }

  /** Kill the server (SIGKILL: no chance to save anything) and wait until it has exited. */
  async stop(): Promise<void> {
    const child = this.process;
    this.process = null;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (child.killed) child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
  }

  /** Stop and delete its directory. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Restart empty, as Redis without persistence does after a crash. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** SIGSTOP: connections stay open, nothing answers (a frozen or overloaded server). */
  pause(): void {
    this.process?.kill('SIGSTOP');
  }

  resume(): void {
    this.process?.kill('SIGCONT');
  }

  private answers(): Promise<boolean> {
    return new Promise((resolve) => {
      const { tls } = this.options;
      const socket: Socket = tls
        ? tlsConnect({
            host: this.host,
            port: this.port,
            ca: tls.ca,
            cert: tls.clientCert,
            key: tls.clientKey,
          })
        : createConnection({ host: this.host, port: this.port });
      socket.setTimeout(500);
      socket.once(tls ? 'secureConnect' : 'connect', () => socket.write('PING\r\n'));
      socket.once('data', (data) => {
        socket.destroy();
        // +PONG, or -NOAUTH when a password is set: either way the server is up.
        resolve(/^(\+PONG|-NOAUTH)/.test(data.toString()));
      });
      socket.once('error', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('timeout', () => {
        socket.destroy();
        resolve(false);
      });
    });
  }
}
