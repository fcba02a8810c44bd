import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LabHost } from '../netlab.js';
import { labPort, ServerProcess, type RestartableStore } from './server.js';

/** Debian's zookeeperd (scripts/services.sh installs it with a JRE). */
const CLASSPATH = '/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar';
/** Sessions expire on tick boundaries: a short tick keeps takeovers close to the TTL. */
const TICK_MS = 100;

/**
 * A private standalone ZooKeeper in a lab host, on data of its own that survives a restart
 * (zxids, so terms, keep rising). Its sessions follow the TTL the sidecars ask for: the
 * session timeout is the lease.
 */
export class ZooKeeperServer implements RestartableStore {
  readonly backend = 'zookeeper';
  readonly port = labPort();
  private readonly dir = mkdtempSync(join(tmpdir(), 'lhch-zk-'));
  private readonly server: ServerProcess;

  private constructor(
    host: LabHost,
    private readonly address: string,
  ) {
    const dataDir = join(this.dir, 'data');
    mkdirSync(dataDir);
    const configFile = join(this.dir, 'zoo.cfg');
    writeFileSync(configFile, config(dataDir, this.port));
    this.server = new ServerProcess({
      name: `ZooKeeper on ${address}:${this.port}`,
      host,
      argv: [
        'java',
        ...['-Xmx128m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-XX:-UsePerfData'],
        ...['-cp', CLASSPATH, '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn'],
        'org.apache.zookeeper.server.quorum.QuorumPeerMain',
        configFile,
      ],
      ready: async () => /^Mode: standalone$/m.test(await srvr(address, this.port)),
    });
  }

  static async start(host: LabHost, address: string): Promise<ZooKeeperServer> {
    const server = new ZooKeeperServer(host, address);
    await server.server.start();
    return server;
  }

  get url(): string {
    return `zk://${this.address}:${this.port}`;
  }

  restart(): Promise<void> {
    return this.server.restart();
  }

  async close(): Promise<void> {
    await this.server.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function config(dataDir: string, clientPort: number): string {
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
