import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from '../ports.js';

/**
 * A private, single-member etcd for tests that stop, restart or reconfigure it: on free
 * loopback ports with its own data directory, so the shared etcd on 2379 is never touched.
 */

/** PEM files for a TLS etcd: one CA signs the server and the client certificate. */
export interface EtcdTlsFiles {
  readonly caFile: string;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  /** The client's, for the health probe and etcdctl. */
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  /** Make etcd refuse clients without a certificate signed by the CA. */
  readonly requireClientCert: boolean;
}

const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

export class EtcdServer {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private readonly log: string[] = [];
  private readonly killOnExit = (): void => {
    this.child?.kill('SIGKILL');
  };

  private constructor(
    readonly dataDir: string,
    readonly clientPort: number,
    readonly peerPort: number,
    private readonly tls: EtcdTlsFiles | null,
  ) {}

  static async start(options: { tls?: EtcdTlsFiles } = {}): Promise<EtcdServer> {
    const [clientPort, peerPort] = await freePorts(2);
    const server = new EtcdServer(
      mkdtempSync(join(tmpdir(), 'leasehold-etcd-')),
      clientPort ?? 0,
      peerPort ?? 0,
      options.tls ?? null,
    );
    await server.start();
    return server;
  }

  /** `http(s)://127.0.0.1:port`, for etcdctl and raw clients. */
  get endpoint(): string {
    return `${this.tls === null ? 'http' : 'https'}://127.0.0.1:${this.clientPort}`;
  }

  /** The leasehold store URL. */
  get url(): string {
    return `${this.tls === null ? 'etcd' : 'etcds'}://127.0.0.1:${this.clientPort}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** Start (again, on the same data directory) and wait until etcd reports itself healthy. */
  async start(): Promise<void> {
    if (this.child !== null) throw new Error('etcd is already running');
    const client = this.endpoint;
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const args = [
      '--name',
      'leasehold-test',
      '--data-dir',
      this.dataDir,
      '--listen-client-urls',
      client,
      '--advertise-client-urls',
      client,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `leasehold-test=${peer}`,
      '--logger',
      'zap',
      '--log-outputs',
      'stderr',
      '--log-level',
      'warn',
    ];
    if (this.tls !== null) {
      args.push('--cert-file', this.tls.serverCertFile, '--key-file', this.tls.serverKeyFile);
      if (this.tls.requireClientCert) {
        args.push('--client-cert-auth', '--trusted-ca-file', this.tls.caFile);
      }
    }
    // etcd reads ETCD_* variables as flags: give it a clean environment.
    const child = spawn('etcd', args, {
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const record = (chunk: Buffer): void => {
      this.log.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      this.log.splice(0, Math.max(0, this.log.length - 50));
    };
    child.stdout?.on('data', record);
    child.stderr?.on('data', record);
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        if (this.child === child) this.child = null;
        resolve();
      });
    });
    child.once('error', (error) => this.log.push(`spawn failed: ${error.message}`));
    process.once('exit', this.killOnExit);

    const deadline = performance.now() + START_TIMEOUT_MS;
    while (!(await this.healthy())) {
      if (this.child !== child || performance.now() > deadline) {
        await this.stop();
        throw new Error(`private etcd did not become healthy:\n${this.log.join('\n')}`);
      }
      await delay(50);
    }
  }

  /** SIGTERM, then wait until the process is gone (SIGKILL if it takes too long). */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === null) return;
    process.removeListener('exit', this.killOnExit);
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** Run etcdctl against this server; rejects with its output when it fails. */
  etcdctl(...args: string[]): Promise<string> {
    const tlsArgs =
      this.tls === null
        ? []
        : [
            `--cacert=${this.tls.caFile}`,
            `--cert=${this.tls.clientCertFile}`,
            `--key=${this.tls.clientKeyFile}`,
          ];
    return new Promise((resolve, reject) => {
      execFile(
        'etcdctl',
        [`--endpoints=${this.endpoint}`, ...tlsArgs, ...args],
        {
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ETCDCTL_API: '3' },
          timeout: 10_000,
        },
        (error, stdout, stderr) => {
          if (error) reject(new Error(`etcdctl ${args.join(' ')}: ${stderr || error.message}`));
          else resolve(stdout);
        },
      );
    });
  }

  /** This process's open TCP connections to etcd's client port, from /proc (Linux). */
  connectionsFromThisProcess(): number {
    const ourSockets = new Set<string>();
    for (const fd of readdirSync('/proc/self/fd')) {
      try {
        const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
        if (match?.[1] !== undefined) ourSockets.add(match[1]);
      } catch {
        // closed meanwhile
      }
    }
    const remotePort = `:${this.clientPort.toString(16).toUpperCase().padStart(4, '0')}`;
    return ['/proc/net/tcp', '/proc/net/tcp6']
      .flatMap((table) => readFileSync(table, 'utf8').trim().split('\n').slice(1))
      .map((line) => line.trim().split(/\s+/))
      .filter((fields) => fields[2]?.endsWith(remotePort) && ourSockets.has(fields[9] ?? ''))
      .length;
  }

  /** The value of a Prometheus gauge or counter from etcd's /metrics, summed over labels. */
  async metric(name: string): Promise<number> {
    const text = await this.get('/metrics');
    return text
      .split('\n')
      .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
      .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  }

  private async healthy(): Promise<boolean> {
    try {
      return /"health":\s*"true"/.test(await this.get('/health'));
    } catch {
      return false;
    }
  }

  private get(path: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const options = {
        host: '127.0.0.1',
        port: this.clientPort,
        path,
        timeout: 2_000,
        // No keep-alive: a pooled socket to etcd would count against the leak test.
        agent: false,
        ...(this.tls === null
          ? {}
          : {
              ca: readFileSync(this.tls.caFile),
              cert: readFileSync(this.tls.clientCertFile),
              key: readFileSync(this.tls.clientKeyFile),
            }),
      };
      const request = (this.tls === null ? httpRequest : httpsRequest)(options, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve(body));
        response.on('error', reject);
      });
      request.on('timeout', () => request.destroy(new Error(`GET ${path} timed out`)));
      request.on('error', reject);
      request.end();
    });
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
