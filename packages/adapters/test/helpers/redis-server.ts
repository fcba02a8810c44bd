import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { freePort, waitUntil } from './free-port.js';

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
      await waitUntil(
        () => child.exitCode === null && this.answers(),
        10_000,
        `redis-server on ${this.port}`,
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

/**
 * A throwaway CA and two certificates it signs: the server's (for 127.0.0.1 and localhost)
 * and a client's. Made with the openssl CLI; files live until `dispose()`.
 */
export class TestCertificates {
  readonly caFile: string;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  readonly ca: string;
  readonly clientCert: string;
  readonly clientKey: string;

  private constructor(private readonly dir: string) {
    this.caFile = join(dir, 'ca.crt');
    this.serverCertFile = join(dir, 'server.crt');
    this.serverKeyFile = join(dir, 'server.key');
    this.ca = readFileSync(this.caFile, 'utf8');
    this.clientCert = readFileSync(join(dir, 'client.crt'), 'utf8');
    this.clientKey = readFileSync(join(dir, 'client.key'), 'utf8');
  }

  static create(): TestCertificates {
    const dir = mkdtempSync(join(tmpdir(), 'leasehold-tls-'));
    const openssl = (...args: string[]) =>
      execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=leasehold test CA',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
    );
    for (const [name, ext] of [
      ['server', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
      ['client', 'extendedKeyUsage=clientAuth'],
    ] as const) {
      writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
      openssl(
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        `/CN=${name}`,
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.csr`,
      );
      openssl(
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        '2',
        '-extfile',
        `${name}.ext`,
        '-out',
        `${name}.crt`,
      );
    }
    return new TestCertificates(dir);
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A TCP proxy in front of a server, to break connections the way networks do: `hold()`
 * stops forwarding what clients send (requests stay in flight, unanswered), `cut()` resets
 * every open connection. New connections are forwarded normally.
 */
export class CuttableProxy {
  private readonly pairs = new Set<[Socket, Socket]>();
  private readonly held = new WeakSet<Socket>();
  private readonly server: Server;

  private constructor(
    private readonly targetPort: number,
    readonly port: number,
  ) {
    this.server = createServer((client) => this.forward(client));
  }

  static async start(targetPort: number): Promise<CuttableProxy> {
    const proxy = new CuttableProxy(targetPort, await freePort());
    await new Promise<void>((resolve) => proxy.server.listen(proxy.port, '127.0.0.1', resolve));
    return proxy;
  }

  private forward(client: Socket): void {
    const upstream = createConnection({ host: '127.0.0.1', port: this.targetPort });
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    client.on('data', (data) => {
      if (!this.held.has(client)) upstream.write(data);
    });
    upstream.pipe(client);
    const close = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Drop (never deliver) what clients send from now on, on the connections open now. */
  hold(): void {
    for (const [client] of this.pairs) this.held.add(client);
  }

  /** Reset every open connection; new ones are forwarded normally again. */
  cut(): void {
    for (const [client, upstream] of this.pairs) {
      client.resetAndDestroy();
      upstream.destroy();
    }
    this.pairs.clear();
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
