import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labPort } from '../ports.js';
import { MemberGroup, ServerProcess, type MemberPlace } from './server.js';

/** Debian's zookeeperd (scripts/services.sh installs it with a JRE). */
/** ZooKeeper, its logger and Netty (its TLS port: `secureClientPort` needs the Netty factory). */
const CLASSPATH = [
  'zookeeper',
  'slf4j-simple',
  ...['buffer', 'codec', 'common', 'handler', 'resolver', 'transport'].map((n) => `netty-${n}`),
  'netty-transport-native-unix-common',
]
  .map((jar) => `/usr/share/java/${jar}.jar`)
  .join(':');
/** Sessions expire on tick boundaries: a short tick keeps takeovers close to the TTL. */
const TICK_MS = 100;

/**
 * The command line of one ZooKeeper server: a small heap and a quick start, logging
 * warnings only. The chaos suite and the adapters' tests run their private servers with it.
 */
export function zooKeeperCommand(configFile: string): string[] {
  return [
    'java',
    ...['-Xmx128m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-XX:-UsePerfData'],
    ...['-cp', CLASSPATH, '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn'],
    'org.apache.zookeeper.server.quorum.QuorumPeerMain',
    configFile,
  ];
}

export interface ZooKeeperConfig {
  readonly dataDir: string;
  readonly clientPort: number;
  /** The address clients connect to it on (0.0.0.0: every address). */
  readonly clientAddress: string;
  /** The four-letter words it answers. */
  readonly words: readonly string[];
  /** Further lines: an ensemble's limits and `server.N` lines. */
  readonly more?: readonly string[];
}

/** zoo.cfg for a private server: short ticks, sessions from 200 ms, no admin server. */
export function zooKeeperConfig(config: ZooKeeperConfig): string {
  return [
    `tickTime=${TICK_MS}`,
    `dataDir=${config.dataDir}`,
    `clientPort=${config.clientPort}`,
    `clientPortAddress=${config.clientAddress}`,
    'minSessionTimeout=200',
    'maxSessionTimeout=600000',
    'admin.enableServer=false',
    `4lw.commands.whitelist=${config.words.join(',')}`,
    // Test data need not survive a power cut; an fsync per write only slows tests down.
    'forceSync=no',
    ...(config.more ?? []),
    '',
  ].join('\n');
}

/** Send a four-letter word and resolve the whole answer; rejects if it cannot be asked. */
export function fourLetterWord(address: string, port: number, word: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, address);
    let answer = '';
    socket.setTimeout(2_000, () => socket.destroy(new Error(`${word} timed out`)));
    socket.on('connect', () => socket.end(word));
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('utf8')));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

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
    writeFileSync(
      configFile,
      zooKeeperConfig({
        dataDir,
        clientPort: this.clientPort,
        clientAddress: '0.0.0.0',
        words: ['srvr'],
        // An ensemble: followers sync within 2 s of a leader's start, fall behind after 1 s.
        more:
          servers.length > 0
            ? ['initLimit=20', 'syncLimit=10', 'quorumListenOnAllIPs=true', ...servers]
            : [],
      }),
    );
    if (servers.length > 0) writeFileSync(join(dataDir, 'myid'), `${this.id}\n`);
    const { clientAddress } = this.placement;
    this.server = new ServerProcess({
      name: `ZooKeeper ${this.name} on ${clientAddress}:${this.clientPort}`,
      host: this.placement.host,
      argv: zooKeeperCommand(configFile),
      ready: async () => (await this.mode()) !== null,
    });
  }

  /** 'standalone', 'leader' or 'follower' once it serves clients; null otherwise. */
  async mode(): Promise<string | null> {
    const { clientAddress } = this.placement;
    const answer = await fourLetterWord(clientAddress, this.clientPort, 'srvr').catch(() => '');
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
export class ZooKeeperEnsemble extends MemberGroup<ZooKeeperMember> {
  readonly backend = 'zookeeper';
  readonly members: readonly ZooKeeperMember[];

  private constructor(placements: readonly ZooKeeperPlacement[]) {
    super(mkdtempSync(join(tmpdir(), 'lhch-zk-')));
    this.members = placements.map((placement, index) => new ZooKeeperMember(index + 1, placement));
    const servers = this.members.length > 1 ? this.members.map((m) => m.serverLine) : [];
    for (const member of this.members) member.setUp(join(this.dir, member.name), servers);
  }

  static async start(placements: readonly ZooKeeperPlacement[]): Promise<ZooKeeperEnsemble> {
    const ensemble = new ZooKeeperEnsemble(placements);
    await ensemble.startMembers();
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
}
