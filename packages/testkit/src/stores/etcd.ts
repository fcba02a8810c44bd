import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labPort } from '../ports.js';
import { httpGet, MemberGroup, ServerProcess, tool, type MemberPlace } from './server.js';

/** Where one member runs and how the others and the clients reach it. */
export interface EtcdPlacement extends MemberPlace {
  readonly name: string;
}

class EtcdMember {
  readonly clientPort = labPort();
  readonly peerPort = labPort();
  private server: ServerProcess | null = null;

  constructor(readonly placement: EtcdPlacement) {}

  get process(): ServerProcess {
    if (this.server === null) throw new Error(`etcd member ${this.placement.name} is not set up`);
    return this.server;
  }

  /** Its command line names every member's peer URL, so it is made once all have ports. */
  setUp(dataDir: string, initialCluster: string): void {
    this.server = new ServerProcess({
      name: `etcd member ${this.placement.name}`,
      host: this.placement.host,
      // etcd reads ETCD_* variables as flags: give it a clean environment.
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
      argv: [
        'etcd',
        ...['--name', this.placement.name, '--data-dir', dataDir],
        ...['--listen-client-urls', `http://0.0.0.0:${this.clientPort}`],
        ...['--advertise-client-urls', this.clientUrl],
        ...['--listen-peer-urls', `http://0.0.0.0:${this.peerPort}`],
        ...['--initial-advertise-peer-urls', this.peerUrl],
        ...['--initial-cluster', initialCluster, '--initial-cluster-state', 'new'],
        ...['--logger', 'zap', '--log-outputs', 'stderr', '--log-level', 'error'],
      ],
      ready: async () => {
        try {
          return /"health":\s*"true"/.test(await httpGet(`${this.clientUrl}/health`));
        } catch {
          return false;
        }
      },
    });
  }

  get clientUrl(): string {
    return `http://${this.placement.clientAddress}:${this.clientPort}`;
  }

  get peerUrl(): string {
    return `http://${this.placement.peerAddress}:${this.peerPort}`;
  }
}

/**
 * A private etcd of one or more members, each inside a lab host. With one member it is the
 * plain store; with three, a member can be killed or cut off from the others.
 */
export class EtcdCluster extends MemberGroup<EtcdMember> {
  readonly backend = 'etcd';
  readonly members: readonly EtcdMember[];

  private constructor(placements: readonly EtcdPlacement[]) {
    super(mkdtempSync(join(tmpdir(), 'lhch-etcd-')));
    this.members = placements.map((p) => new EtcdMember(p));
    const initialCluster = this.members.map((m) => `${m.placement.name}=${m.peerUrl}`).join(',');
    for (const member of this.members) {
      member.setUp(join(this.dir, member.placement.name), initialCluster);
    }
  }

  static async start(placements: readonly EtcdPlacement[]): Promise<EtcdCluster> {
    const cluster = new EtcdCluster(placements);
    await cluster.startMembers();
    return cluster;
  }

  get url(): string {
    return `etcd://${this.members.map((m) => `${m.placement.clientAddress}:${m.clientPort}`).join(',')}`;
  }

  /** The name of the member that leads the cluster now, as a member it asks says. */
  async leaderName(): Promise<string> {
    const endpoints = this.members.filter((m) => m.process.running).map((m) => m.clientUrl);
    // `-w simple`: endpoint, id, version, db size, is leader, ... one line per endpoint.
    const lines = await tool(
      'etcdctl',
      [`--endpoints=${endpoints.join(',')}`, 'endpoint', 'status', '-w', 'simple'],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ETCDCTL_API: '3' } },
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
}
