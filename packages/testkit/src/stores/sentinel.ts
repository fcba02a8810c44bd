import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LabHost } from '../netlab.js';
import { redisCli, RedisServer } from './redis.js';
import { freePort } from '../ports.js';
import { ServerProcess, type StoreFixture } from './server.js';
import { until } from '../wait.js';

const MASTER = 'lhch';
const QUORUM = 2;

/**
 * Redis with failover: a primary in the store host, one replica in a lab host of its own
 * (so the replication link can be cut), and three Sentinels in the root namespace that
 * reach both over paths the cut leaves alone. Sidecars find the primary through Sentinel.
 */
export class RedisSentinelSet implements StoreFixture {
  readonly backend = 'redis';
  private readonly dir = mkdtempSync(join(tmpdir(), 'lhch-sentinel-'));

  private constructor(
    readonly primary: RedisServer,
    readonly replica: RedisServer,
    /** The lab host the replica runs in: cutting its store path cuts replication. */
    readonly replicaHost: LabHost,
    private readonly sentinels: { port: number; process: ServerProcess }[],
  ) {}

  static async start(
    store: LabHost,
    storeAddress: string,
    replicaHost: LabHost,
  ): Promise<RedisSentinelSet> {
    const primary = await RedisServer.start({
      host: store,
      address: storeAddress,
      persistent: false,
    });
    const replica = await RedisServer.start({
      host: replicaHost,
      address: replicaHost.address,
      persistent: false,
      // Sentinels and clients reach the replica at its lab address, not the one the
      // primary sees its connection come from.
      args: [
        '--replicaof',
        storeAddress,
        String(primary.port),
        '--replica-announce-ip',
        replicaHost.address,
      ],
    });
    const set = new RedisSentinelSet(primary, replica, replicaHost, []);
    try {
      for (let i = 0; i < 3; i += 1) set.sentinels.push(await set.startSentinel(i));
      await set.waitUntilReplicated();
      await until(
        'the Sentinels to know the replica and each other',
        20_000,
        async () => {
          const replicas = await set.sentinelCli(0, 'SENTINEL', 'REPLICAS', MASTER);
          const peers = await set.sentinelCli(0, 'SENTINEL', 'SENTINELS', MASTER);
          return (
            replicas.includes(replicaHost.address) && (peers.match(/^name$/gm) ?? []).length >= 2
          );
        },
        100,
      );
    } catch (error) {
      await set.close();
      throw error;
    }
    return set;
  }

  get url(): string {
    const sentinels = this.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',');
    return `redis://ignored/0?sentinels=${sentinels}&sentinelMaster=${MASTER}`;
  }

  /** Wait until the replica has everything the primary wrote. */
  async waitUntilReplicated(withinMs = 15_000): Promise<void> {
    await until(
      'the replica to catch up',
      withinMs,
      async () => {
        const info = await this.primary.cli('INFO', 'replication');
        const offset = /master_repl_offset:(\d+)/.exec(info)?.[1];
        const replicaOffset = /slave0:.*state=online,offset=(\d+)/.exec(info)?.[1];
        return offset !== undefined && offset === replicaOffset;
      },
      50,
    );
  }

  /** The address:port the Sentinels name as the master now. */
  async masterAddress(): Promise<string> {
    const reply = await this.sentinelCli(0, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER);
    return reply.trim().split('\n').join(':');
  }

  async close(): Promise<void> {
    await Promise.all(this.sentinels.map((s) => s.process.kill()));
    await Promise.all([this.primary.close(), this.replica.close()]);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private sentinelCli(index: number, ...args: string[]): Promise<string> {
    const sentinel = this.sentinels[index];
    if (sentinel === undefined) throw new Error(`no sentinel ${index}`);
    return redisCli('127.0.0.1', sentinel.port, ...args);
  }

  private async startSentinel(index: number): Promise<{ port: number; process: ServerProcess }> {
    const port = await freePort();
    // Sentinel rewrites its configuration file, so each needs one of its own.
    const conf = join(this.dir, `sentinel-${index}.conf`);
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        // The others meet it where it listens, not at the address it reaches the master from.
        'sentinel announce-ip 127.0.0.1',
        `sentinel monitor ${MASTER} ${this.primary.address} ${this.primary.port} ${QUORUM}`,
        `sentinel down-after-milliseconds ${MASTER} 1000`,
        `sentinel failover-timeout ${MASTER} 5000`,
        '',
      ].join('\n'),
    );
    const process = new ServerProcess({
      name: `sentinel ${index}`,
      host: undefined,
      argv: ['redis-server', conf, '--sentinel'],
      ready: async () => {
        try {
          return (await redisCli('127.0.0.1', port, 'PING')).trim() === 'PONG';
        } catch {
          return false;
        }
      },
    });
    await process.start();
    return { port, process };
  }
}
