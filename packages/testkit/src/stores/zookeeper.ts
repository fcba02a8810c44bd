import { createPrivateKey } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, labPort } from '../ports.js';
import { until } from '../wait.js';
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

/** PEM files for a server's TLS port, as TestCertificates has them. */
export interface ZooKeeperTlsFiles {
  /** The CA certificate it trusts (client certificates). */
  readonly caFile: string;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
}

/** The PEM stores a ZooKeeper server's TLS settings name. */
interface PemStores {
  /** Its private key (PKCS#8) followed by its certificate. */
  readonly keyStore: string;
  /** The CA certificates it trusts. */
  readonly trustStore: string;
}

/**
 * The stores for `tls`, the key store written in `dir`: the server's key as PKCS#8 (the one
 * form ZooKeeper reads) followed by its certificate.
 */
function pemStores(dir: string, tls: ZooKeeperTlsFiles): PemStores {
  const keyStore = join(dir, 'keystore.pem');
  const key = createPrivateKey(readFileSync(tls.serverKeyFile, 'utf8'));
  const pkcs8 = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  writeFileSync(keyStore, pkcs8 + readFileSync(tls.serverCertFile, 'utf8'));
  return { keyStore, trustStore: tls.caFile };
}

export interface ZooKeeperOptions {
  /** Also serve TLS on each member's `securePort` (ZooKeeper's Netty connection factory). */
  readonly tls?: ZooKeeperTlsFiles;
  /**
   * An ensemble's limits in ticks: to join a leader, and without it before a follower gives
   * up on it. Default 2 s and 1 s.
   */
  readonly limits?: { readonly initTicks: number; readonly syncTicks: number };
}

interface MemberPorts {
  readonly client: number;
  readonly quorum: number;
  readonly election: number;
  readonly secure: number;
}

/** One member's ports: free loopback ports, or counted up inside the kit's own lab host. */
async function memberPorts(placement: ZooKeeperPlacement): Promise<MemberPorts> {
  const [client = 0, quorum = 0, election = 0, secure = 0] =
    placement.host === undefined
      ? await freePorts(4)
      : [labPort(), labPort(), labPort(), labPort()];
  return { client, quorum, election, secure };
}

const LOOPBACK: ZooKeeperPlacement = {
  host: undefined,
  clientAddress: '127.0.0.1',
  peerAddress: '127.0.0.1',
};

class ZooKeeperMember {
  private server: ServerProcess | null = null;

  constructor(
    readonly id: number,
    readonly placement: ZooKeeperPlacement,
    private readonly ports: MemberPorts,
  ) {}

  get name(): string {
    return `z${this.id}`;
  }

  get clientPort(): number {
    return this.ports.client;
  }

  /** Its TLS port, when started with TLS files. */
  get securePort(): number {
    return this.ports.secure;
  }

  get process(): ServerProcess {
    if (this.server === null) throw new Error(`ZooKeeper member ${this.name} is not set up`);
    return this.server;
  }

  /** Its configuration names every member's peer ports, so it is made once all have them. */
  setUp(dir: string, servers: readonly string[], options: ZooKeeperOptions): void {
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir, { recursive: true });
    const configFile = join(dir, 'zoo.cfg');
    const stores = options.tls === undefined ? undefined : pemStores(dir, options.tls);
    writeFileSync(configFile, this.config(dataDir, servers, options, stores));
    if (servers.length > 0) writeFileSync(join(dataDir, 'myid'), `${this.id}\n`);
    const { clientAddress } = this.placement;
    this.server = new ServerProcess({
      name: `ZooKeeper ${this.name} on ${clientAddress}:${this.clientPort}`,
      host: this.placement.host,
      argv: zooKeeperCommand(configFile),
      ready: async () => (await this.mode()) !== null,
    });
  }

  private config(
    dataDir: string,
    servers: readonly string[],
    options: ZooKeeperOptions,
    stores: PemStores | undefined,
  ): string {
    const { initTicks, syncTicks } = options.limits ?? { initTicks: 20, syncTicks: 10 };
    return zooKeeperConfig({
      dataDir,
      clientPort: this.clientPort,
      // In a lab host it listens on every address there; on loopback, on loopback only.
      clientAddress: this.placement.host === undefined ? this.placement.clientAddress : '0.0.0.0',
      words: ['ruok', 'srvr', 'mntr'],
      more: [
        ...(servers.length > 0
          ? [`initLimit=${initTicks}`, `syncLimit=${syncTicks}`, 'quorumListenOnAllIPs=true']
          : []),
        ...servers,
        ...(stores === undefined ? [] : this.secureClientPort(stores)),
      ],
    });
  }

  private secureClientPort({ keyStore, trustStore }: PemStores): string[] {
    return [
      `secureClientPort=${this.securePort}`,
      `secureClientPortAddress=${this.placement.clientAddress}`,
      'serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory',
      `ssl.keyStore.location=${keyStore}`,
      'ssl.keyStore.type=PEM',
      `ssl.trustStore.location=${trustStore}`,
      'ssl.trustStore.type=PEM',
      // Clients are authenticated by digest credentials; a client certificate is optional.
      'ssl.clientAuth=want',
    ];
  }

  /** 'standalone', 'leader' or 'follower' once it serves clients; null otherwise. */
  async mode(): Promise<string | null> {
    const { clientAddress } = this.placement;
    const answer = await fourLetterWord(clientAddress, this.clientPort, 'srvr').catch(() => '');
    return /^Mode: (\w+)$/m.exec(answer)?.[1] ?? null;
  }

  /** Wait until it serves clients again (after a thaw). */
  async serving(withinMs = 30_000): Promise<void> {
    await until(`${this.name} to serve`, withinMs, async () => (await this.mode()) !== null, 50);
  }

  /** Freeze or thaw the JVM (SIGSTOP / SIGCONT): it keeps its sockets but answers nothing. */
  freeze(): void {
    this.process.signal('SIGSTOP');
  }

  thaw(): void {
    this.process.signal('SIGCONT');
  }

  /** The `server.N` line the others know it by. */
  get serverLine(): string {
    const { peerAddress } = this.placement;
    return `server.${this.id}=${peerAddress}:${this.ports.quorum}:${this.ports.election}`;
  }
}

/**
 * A private ZooKeeper of one member (the plain store) or three (an ensemble a member can be
 * killed from, frozen or cut off), never the shared one on 2181: each member on loopback or
 * inside a lab host, on data of its own that survives a restart (zxids, so terms, keep
 * rising). Its sessions follow the TTL the sidecars ask for: the session timeout is the
 * lease. A JVM takes about half a second to start: start one per test file.
 */
export class ZooKeeperEnsemble extends MemberGroup<ZooKeeperMember> {
  readonly backend = 'zookeeper';

  private constructor(
    readonly members: readonly ZooKeeperMember[],
    options: ZooKeeperOptions,
  ) {
    super(mkdtempSync(join(tmpdir(), 'lhch-zk-')));
    const servers = this.members.length > 1 ? this.members.map((m) => m.serverLine) : [];
    for (const member of this.members) member.setUp(join(this.dir, member.name), servers, options);
  }

  static async start(
    placements: readonly ZooKeeperPlacement[] = [LOOPBACK],
    options: ZooKeeperOptions = {},
  ): Promise<ZooKeeperEnsemble> {
    const members: ZooKeeperMember[] = [];
    for (const [index, placement] of placements.entries()) {
      members.push(new ZooKeeperMember(index + 1, placement, await memberPorts(placement)));
    }
    const ensemble = new ZooKeeperEnsemble(members, options);
    await ensemble.startMembers();
    return ensemble;
  }

  /**
   * Three members on loopback, with slack for a loaded two-core machine: 5 s to join, 2 s
   * without the leader before a follower gives up on it.
   */
  static onLoopback(): Promise<ZooKeeperEnsemble> {
    return ZooKeeperEnsemble.start([LOOPBACK, LOOPBACK, LOOPBACK], {
      limits: { initTicks: 50, syncTicks: 20 },
    });
  }

  get url(): string {
    const hosts = this.members.map((m) => `${m.placement.clientAddress}:${m.clientPort}`);
    return `zk://${hosts.join(',')}`;
  }

  /** The member that leads the ensemble now, as the running members say (waits for one). */
  async leader(withinMs = 30_000): Promise<ZooKeeperMember> {
    let found: ZooKeeperMember | null = null;
    await until('a ZooKeeper member to lead', withinMs, async () => {
      found = await this.runningLeader();
      return found !== null;
    });
    if (found === null) throw new Error('no ZooKeeper member leads');
    return found;
  }

  private async runningLeader(): Promise<ZooKeeperMember | null> {
    for (const member of this.members) {
      if (member.process.running && (await member.mode()) === 'leader') return member;
    }
    return null;
  }

  /** Thaw every member, start those that are not running, and wait until all serve. */
  async startAll(): Promise<void> {
    for (const member of this.members) if (member.process.running) member.thaw();
    await Promise.all(
      this.members.map((m) => (m.process.running ? m.serving() : m.process.start())),
    );
  }
}
