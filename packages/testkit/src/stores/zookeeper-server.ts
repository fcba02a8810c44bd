import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fourLetterWord, zooKeeperCommand, zooKeeperConfig } from './zookeeper.js';
import { freePort } from '../ports.js';

/**
 * Private ZooKeeper servers for tests that stop, restart or freeze them: a standalone server
 * or a three-member ensemble, each member on its own loopback ports with its own data
 * directory, so the shared ZooKeeper on 2181 is never touched. Each JVM runs in its own
 * process group; `dispose()` kills the groups, waits for them and removes the directories.
 * Start servers once per test file: a JVM takes about half a second to start.
 */

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

export type ZooKeeperMode = 'standalone' | 'leader' | 'follower';

/** One ZooKeeper JVM. */
export class ZooKeeperMember {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private readonly log: string[] = [];
  private readonly killOnExit = (): void => this.signal('SIGKILL');

  constructor(
    readonly id: number,
    readonly clientPort: number,
    private readonly configFile: string,
    /** Its TLS port, when started with TLS files. */
    readonly securePort: number,
  ) {}

  get hostPort(): string {
    return `127.0.0.1:${this.clientPort}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** Start the JVM; `ready` waits until it serves clients. */
  launch(): void {
    if (this.child !== null) throw new Error(`ZooKeeper ${this.id} is already running`);
    const [java = 'java', ...args] = zooKeeperCommand(this.configFile);
    const child = spawn(java, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const record = (chunk: Buffer): void => {
      this.log.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      this.log.splice(0, Math.max(0, this.log.length - 40));
    };
    child.stdout?.on('data', record);
    child.stderr?.on('data', record);
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        if (this.child === child) this.child = null;
        resolve();
      }),
    );
    child.once('error', (error) => this.log.push(`spawn failed: ${error.message}`));
    process.once('exit', this.killOnExit);
  }

  /** Wait until the member answers `srvr` with a mode (it serves clients). */
  async ready(withinMs = START_TIMEOUT_MS): Promise<ZooKeeperMode> {
    const deadline = performance.now() + withinMs;
    for (;;) {
      const mode = await this.mode();
      if (mode !== null) return mode;
      if (this.child === null || performance.now() > deadline) {
        throw new Error(`ZooKeeper ${this.id} did not start serving:\n${this.log.join('\n')}`);
      }
      await delay(50);
    }
  }

  /** standalone, leader or follower; null when it does not serve clients (now). */
  async mode(): Promise<ZooKeeperMode | null> {
    const answer = await fourLetterWord('127.0.0.1', this.clientPort, 'srvr').catch(() => '');
    const mode = /^Mode: (standalone|leader|follower)$/m.exec(answer)?.[1];
    return (mode as ZooKeeperMode | undefined) ?? null;
  }

  /** SIGTERM, then wait until the process is gone (SIGKILL if it takes too long). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.child === null) return;
    process.removeListener('exit', this.killOnExit);
    this.signal('SIGCONT');
    this.signal(signal);
    const timer = setTimeout(() => this.signal('SIGKILL'), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }

  /** Freeze or thaw the JVM (SIGSTOP / SIGCONT): it keeps its sockets but answers nothing. */
  freeze(): void {
    this.signal('SIGSTOP');
  }

  thaw(): void {
    this.signal('SIGCONT');
  }

  /** Signal the whole process group, so nothing the JVM started outlives it. */
  private signal(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  }
}

/** A standalone server or an ensemble, with its directory. */
export class ZooKeeperCluster {
  private constructor(
    readonly members: readonly ZooKeeperMember[],
    private readonly dir: string,
  ) {}

  /**
   * A standalone server; with `tls`, it also serves TLS on `securePort` (ZooKeeper's Netty
   * connection factory), from a PEM key store (private key and certificate) and trust store.
   */
  static standalone(tls?: ZooKeeperTlsFiles): Promise<ZooKeeperCluster> {
    return ZooKeeperCluster.start(1, tls);
  }

  /** A three-member ensemble (each on its own ports and data directory). */
  static ensemble(): Promise<ZooKeeperCluster> {
    return ZooKeeperCluster.start(3);
  }

  private static async start(size: number, tls?: ZooKeeperTlsFiles): Promise<ZooKeeperCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'leasehold-zk-'));
    const ports: number[][] = [];
    for (let i = 0; i < size; i += 1) {
      ports.push([await freePort(), await freePort(), await freePort(), await freePort()]);
    }
    const servers = ports.map(
      ([, quorum, election], i) => `server.${i + 1}=127.0.0.1:${quorum}:${election}`,
    );
    const members = ports.map(([client = 0, , , secure = 0], i) => {
      const dataDir = join(dir, `member-${i + 1}`);
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(join(dataDir, 'myid'), `${i + 1}\n`);
      const configFile = join(dataDir, 'zoo.cfg');
      writeFileSync(
        configFile,
        zooKeeperConfig({
          dataDir,
          clientPort: client,
          clientAddress: '127.0.0.1',
          words: ['ruok', 'srvr', 'mntr'],
          // Ensemble timings in ticks: 5 s to join, 2 s without the leader before a follower
          // gives up on it (a loaded two-core machine needs the slack).
          more: [
            ...(size > 1 ? ['initLimit=50', 'syncLimit=20', ...servers] : []),
            ...(tls === undefined ? [] : secureClientPort(secure, tls)),
          ],
        }),
      );
      return new ZooKeeperMember(i + 1, client, configFile, secure);
    });
    const cluster = new ZooKeeperCluster(members, dir);
    try {
      for (const member of members) member.launch();
      await Promise.all(members.map((member) => member.ready()));
    } catch (error) {
      await cluster.dispose();
      throw error;
    }
    return cluster;
  }

  /** The store URL naming every member. */
  get url(): string {
    return `zk://${this.members.map((member) => member.hostPort).join(',')}`;
  }

  /** The member that leads the ensemble now (waits for one). */
  async leader(withinMs = START_TIMEOUT_MS): Promise<ZooKeeperMember> {
    const deadline = performance.now() + withinMs;
    for (;;) {
      for (const member of this.members) {
        if (member.running && (await member.mode()) === 'leader') return member;
      }
      if (performance.now() > deadline) throw new Error('the ensemble has no leader');
      await delay(50);
    }
  }

  /** Start every member that is not running, and wait until all serve. */
  async startAll(): Promise<void> {
    for (const member of this.members) {
      member.thaw();
      if (!member.running) member.launch();
    }
    await Promise.all(this.members.map((member) => member.ready()));
  }

  async dispose(): Promise<void> {
    await Promise.all(this.members.map((member) => member.stop('SIGKILL')));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** PEM files for a server's TLS port. */
export interface ZooKeeperTlsFiles {
  /** Its private key (PKCS#8) followed by its certificate. */
  readonly keyStore: string;
  /** The CA certificates it trusts (client certificates). */
  readonly trustStore: string;
}

function secureClientPort(port: number, tls: ZooKeeperTlsFiles): string[] {
  return [
    `secureClientPort=${port}`,
    'secureClientPortAddress=127.0.0.1',
    'serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory',
    `ssl.keyStore.location=${tls.keyStore}`,
    'ssl.keyStore.type=PEM',
    `ssl.trustStore.location=${tls.trustStore}`,
    'ssl.trustStore.type=PEM',
    // Clients are authenticated by digest credentials; a client certificate is optional.
    'ssl.clientAuth=want',
  ];
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
