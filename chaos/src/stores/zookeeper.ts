import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labPort, ServerProcess, type MemberPlace, type RestartableStore } from './server.js';

/** Debian's zookeeperd (scripts/services.sh installs it with a JRE). */
const CLASSPATH = '/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar';
/** Sessions expire on tick boundaries: a short tick keeps takeovers close to the TTL. */
const TICK_MS = 100;

export type ZooKeeperPlacement = MemberPlace;

class ZooKeeperMember {
  readonly clientPort = labPort();
  readonly quorumPort = labPort();
  readonly electionPort = labPort();
  private server: ServerProcess | null = null;

  constructor(
    readonly id: number,
    readonly placement: ZooKeeperPlacement,
  ) {}

  get name(): string {
    return `z${this.id}`;
  }

  get process(): ServerProcess {
    if (this.server === null) throw new Error(`ZooKeeper member ${this.name} is not set up`);
    return this.server;
  }

  /** Its configuration names every member's peer ports, so it is made once all have them. */
  setUp(dir: string, servers: readonly string[]): void {
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir, { recursive: true });
    const configFile = join(dir, 'zoo.cfg');
    writeFileSync(configFile, config(dataDir, this.clientPort, servers));
    if (servers.length > 0) writeFileSync(join(dataDir, 'myid'), `${this.id}\n`);
    const { clientAddress } = this.placement;
    this.server = new ServerProcess({
      name: `ZooKeeper ${this.name} on ${clientAddress}:${this.clientPort}`,
      host: this.placement.host,
      argv: [
        'java',
        ...['-Xmx128m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-XX:-UsePerfData'],
        ...['-cp', CLASSPATH, '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn'],
        'org.apache.zookeeper.server.quorum.QuorumPeerMain',
        configFile,
      ],
      ready: async () => (await this.mode()) !== null,
    });
  }

  /** 'standalone', 'leader' or 'follower' once it serves clients; null otherwise. */
  async mode(): Promise<string | null> {
    const answer = await srvr(this.placement.clientAddress, this.clientPort);
    return /^Mode: (\w+)$/m.exec(answer)?.[1] ?? null;
  }

  /** The `server.N` line the others know it by. */
  get serverLine(): string {
    const { peerAddress } = this.placement;
    return `server.${this.id}=${peerAddress}:${this.quorumPort}:${this.electionPort}`;
  }
}

/**
 * A private ZooKeeper of one member (the plain store) or three (an ensemble a member can be
 * killed from or cut off), each inside a lab host, on data of its own that survives a
 * restart (zxids, so terms, keep rising). Its sessions follow the TTL the sidecars ask for:
 * the session timeout is the lease.
 */
export class ZooKeeperEnsemble implements RestartableStore {
  readonly backend = 'zookeeper';
  readonly members: readonly ZooKeeperMember[];
  private readonly dir = mkdtempSync(join(tmpdir(), 'lhch-zk-'));

  private constructor(placements: readonly ZooKeeperPlacement[]) {
    this.members = placements.map((placement, index) => new ZooKeeperMember(index + 1, placement));
    const servers = this.members.length > 1 ? this.members.map((m) => m.serverLine) : [];
    for (const member of this.members) member.setUp(join(this.dir, member.name), servers);
  }

  static async start(placements: readonly ZooKeeperPlacement[]): Promise<ZooKeeperEnsemble> {
    const ensemble = new ZooKeeperEnsemble(placements);
    try {
      await Promise.all(ensemble.members.map((m) => m.process.start()));
    } catch (error) {
      await ensemble.close();
      throw error;
    }
    return ensemble;
  }

  get url(): string {
    const hosts = this.members.map((m) => `${m.placement.clientAddress}:${m.clientPort}`);
    return `zk://${hosts.join(',')}`;
  }

  /** The member that leads the ensemble now, as the running members say; null if none. */
  async leader(): Promise<ZooKeeperMember | null> {
    for (const member of this.members) {
      if (member.process.running && (await member.mode()) === 'leader') return member;
    }
    return null;
  }

  /** Kill every member and start them again on their data. */
  async restart(): Promise<void> {
    await Promise.all(this.members.map((m) => m.process.kill()));
    await Promise.all(this.members.map((m) => m.process.start()));
  }

  async close(): Promise<void> {
    await Promise.all(this.members.map((m) => m.process.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function config(dataDir: string, clientPort: number, servers: readonly string[]): string {
  return [
    `tickTime=${TICK_MS}`,
    `dataDir=${dataDir}`,
    `clientPort=${clientPort}`,
    'clientPortAddress=0.0.0.0',
    'minSessionTimeout=200',
    'maxSessionTimeout=600000',
    'admin.enableServer=false',
    '4lw.commands.whitelist=srvr',
    // Chaos data need not survive a power cut; an fsync per write only slows rounds down.
    'forceSync=no',
    // An ensemble: followers sync within 2 s of a leader's start and fall behind after 1 s.
    ...(servers.length > 0
      ? ['initLimit=20', 'syncLimit=10', 'quorumListenOnAllIPs=true', ...servers]
      : []),
    '',
  ].join('\n');
}

/** ZooKeeper's `srvr` four-letter word: its mode once it serves clients; '' otherwise. */
function srvr(address: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, address);
    let answer = '';
    socket.setTimeout(2_000, () => socket.destroy());
    socket.on('connect', () => socket.end('srvr'));
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('utf8')));
    socket.on('close', () => resolve(answer));
    socket.on('error', () => resolve(''));
  });
}
