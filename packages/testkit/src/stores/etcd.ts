import { mkdtempSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, labPort } from '../ports.js';
import { MemberGroup, ServerProcess, tool, type MemberPlace } from './server.js';

/** Where one member runs and how the others and the clients reach it. */
export interface EtcdPlacement extends MemberPlace {
  readonly name: string;
}

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

/** One member on loopback: the private single etcd of adapter tests. */
const LOOPBACK: EtcdPlacement = {
  name: 'leasehold-test',
  host: undefined,
  clientAddress: '127.0.0.1',
  peerAddress: '127.0.0.1',
};

// etcd reads ETCD_* variables as flags: give it (and etcdctl) a clean environment.
const CLEAN_PATH = process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin';

class EtcdMember {
  private server: ServerProcess | null = null;

  constructor(
    readonly placement: EtcdPlacement,
    readonly clientPort: number,
    readonly peerPort: number,
    private readonly tls: EtcdTlsFiles | null,
  ) {}

  get process(): ServerProcess {
    if (this.server === null) throw new Error(`etcd member ${this.placement.name} is not set up`);
    return this.server;
  }

  /** Its command line names every member's peer URL, so it is made once all have ports. */
  setUp(dataDir: string, initialCluster: string): void {
    this.server = new ServerProcess({
      name: `etcd member ${this.placement.name}`,
      host: this.placement.host,
      env: { PATH: CLEAN_PATH },
      argv: ['etcd', ...this.flags(dataDir, initialCluster)],
      ready: async () => {
        try {
          return /"health":\s*"true"/.test(await this.get('/health'));
        } catch {
          return false;
        }
      },
    });
  }

  private flags(dataDir: string, initialCluster: string): string[] {
    // In a lab host it listens on every address there; on loopback, on loopback only.
    const listen = this.placement.host === undefined ? this.placement.clientAddress : '0.0.0.0';
    const scheme = this.tls === null ? 'http' : 'https';
    const flags = [
      ...['--name', this.placement.name, '--data-dir', dataDir],
      ...['--listen-client-urls', `${scheme}://${listen}:${this.clientPort}`],
      ...['--advertise-client-urls', this.clientUrl],
      ...['--listen-peer-urls', `http://${listen}:${this.peerPort}`],
      ...['--initial-advertise-peer-urls', this.peerUrl],
      ...['--initial-cluster', initialCluster, '--initial-cluster-state', 'new'],
      ...['--logger', 'zap', '--log-outputs', 'stderr', '--log-level', 'warn'],
    ];
    if (this.tls !== null) {
      flags.push('--cert-file', this.tls.serverCertFile, '--key-file', this.tls.serverKeyFile);
      if (this.tls.requireClientCert) {
        flags.push('--client-cert-auth', '--trusted-ca-file', this.tls.caFile);
      }
    }
    return flags;
  }

  get clientUrl(): string {
    const scheme = this.tls === null ? 'http' : 'https';
    return `${scheme}://${this.placement.clientAddress}:${this.clientPort}`;
  }

  get peerUrl(): string {
    return `http://${this.placement.peerAddress}:${this.peerPort}`;
  }

  /** GET from its client port, without keep-alive: a pooled socket would count as a leak. */
  get(path: string): Promise<string> {
    const tls = this.tls;
    return new Promise((resolve, reject) => {
      const options = {
        host: this.placement.clientAddress,
        port: this.clientPort,
        path,
        timeout: 2_000,
        agent: false,
        ...(tls === null
          ? {}
          : {
              ca: readFileSync(tls.caFile),
              cert: readFileSync(tls.clientCertFile),
              key: readFileSync(tls.clientKeyFile),
            }),
      };
      const request = (tls === null ? httpRequest : httpsRequest)(options, (response) => {
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

/**
 * A private etcd of one or more members, never the shared one on 2379. Without placements:
 * one member on free loopback ports (optionally TLS), for adapter tests that stop, restart
 * or reconfigure it. With placements, each member inside a lab host: with one it is the
 * chaos suite's plain store; with three, a member can be killed or cut off from the others.
 */
export class EtcdCluster extends MemberGroup<EtcdMember> {
  readonly backend = 'etcd';

  private constructor(
    readonly members: readonly EtcdMember[],
    private readonly tls: EtcdTlsFiles | null,
  ) {
    super(mkdtempSync(join(tmpdir(), 'lhch-etcd-')));
    const initialCluster = this.members.map((m) => `${m.placement.name}=${m.peerUrl}`).join(',');
    for (const member of this.members) {
      member.setUp(join(this.dir, member.placement.name), initialCluster);
    }
  }

  static async start(
    placements: readonly EtcdPlacement[] = [LOOPBACK],
    options: { readonly tls?: EtcdTlsFiles } = {},
  ): Promise<EtcdCluster> {
    const tls = options.tls ?? null;
    const members: EtcdMember[] = [];
    for (const placement of placements) {
      // A lab host's namespace is the kit's own: counting up is enough there.
      const [client = 0, peer = 0] =
        placement.host === undefined ? await freePorts(2) : [labPort(), labPort()];
      members.push(new EtcdMember(placement, client, peer, tls));
    }
    const cluster = new EtcdCluster(members, tls);
    await cluster.startMembers();
    return cluster;
  }

  /** The leasehold store URL. */
  get url(): string {
    const scheme = this.tls === null ? 'etcd' : 'etcds';
    return `${scheme}://${this.members.map((m) => `${m.placement.clientAddress}:${m.clientPort}`).join(',')}`;
  }

  /** Every member's `http(s)://address:port`, for etcdctl and raw clients. */
  get endpoint(): string {
    return this.members.map((m) => m.clientUrl).join(',');
  }

  get running(): boolean {
    return this.members.some((m) => m.process.running);
  }

  /** Start every member again on its data, together; resolves once each is healthy. */
  async start(): Promise<void> {
    await Promise.all(this.members.map((m) => m.process.start()));
  }

  /** SIGTERM every member (a clean shutdown) and wait until they are gone. */
  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => m.process.stop()));
  }

  /** Run etcdctl against the members; rejects with its output when it fails. */
  etcdctl(...args: string[]): Promise<string> {
    const tls = this.tls;
    const tlsArgs =
      tls === null
        ? []
        : [`--cacert=${tls.caFile}`, `--cert=${tls.clientCertFile}`, `--key=${tls.clientKeyFile}`];
    return tool('etcdctl', [`--endpoints=${this.endpoint}`, ...tlsArgs, ...args], {
      env: { PATH: CLEAN_PATH, ETCDCTL_API: '3' },
    });
  }

  /** The name of the member that leads the cluster now, as a member it asks says. */
  async leaderName(): Promise<string> {
    const endpoints = this.members.filter((m) => m.process.running).map((m) => m.clientUrl);
    // `-w simple`: endpoint, id, version, db size, is leader, ... one line per endpoint.
    const lines = await tool(
      'etcdctl',
      [`--endpoints=${endpoints.join(',')}`, 'endpoint', 'status', '-w', 'simple'],
      { env: { PATH: CLEAN_PATH, ETCDCTL_API: '3' } },
    );
    const leading = lines
      .split('\n')
      .map((line) => line.split(',').map((field) => field.trim()))
      .find((fields) => fields[4] === 'true')?.[0];
    const leader = this.members.find((m) => m.clientUrl === leading);
    if (leader === undefined) throw new Error(`etcd: no member says it leads:\n${lines}`);
    return leader.placement.name;
  }

  member(name: string): EtcdMember {
    const found = this.members.find((m) => m.placement.name === name);
    if (found === undefined) throw new Error(`etcd: no member ${name}`);
    return found;
  }

  /** This process's open TCP connections to any member's client port, from /proc (Linux). */
  connectionsFromThisProcess(): number {
    const ourSockets = socketInodesOfThisProcess();
    const remotePorts = this.members.map(
      (m) => `:${m.clientPort.toString(16).toUpperCase().padStart(4, '0')}`,
    );
    return ['/proc/net/tcp', '/proc/net/tcp6']
      .flatMap((table) => readFileSync(table, 'utf8').trim().split('\n').slice(1))
      .map((line) => line.trim().split(/\s+/))
      .filter(
        (fields) =>
          remotePorts.some((port) => fields[2]?.endsWith(port)) && ourSockets.has(fields[9] ?? ''),
      ).length;
  }

  /** A Prometheus gauge or counter from the first member's /metrics, summed over labels. */
  async metric(name: string): Promise<number> {
    const [first] = this.members;
    const text = first === undefined ? '' : await first.get('/metrics');
    return text
      .split('\n')
      .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
      .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  }
}

/** The inode numbers of this process's open sockets. */
function socketInodesOfThisProcess(): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (match?.[1] !== undefined) inodes.add(match[1]);
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}
