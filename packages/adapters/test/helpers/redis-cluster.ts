import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, RedisServer, until } from '@leasehold/testkit';

const run = promisify(execFile);

/**
 * A Redis Cluster of the test's own, for faults the shared one (scripts/services.sh) must
 * never see: six cluster-mode RedisServers (no persistence, bus ports of their own)
 * made into three masters with a replica each. dispose() kills all six.
 */
export class PrivateRedisCluster {
  private constructor(readonly nodes: readonly RedisServer[]) {}

  static async start(): Promise<PrivateRedisCluster> {
    const nodes: RedisServer[] = [];
    const cluster = new PrivateRedisCluster(nodes);
    try {
      for (let i = 0; i < 6; i += 1) {
        const bus = String(await freePort());
        const args = ['--cluster-enabled', 'yes', '--cluster-port', bus];
        nodes.push(await RedisServer.start({ args: [...args, '--cluster-node-timeout', '1000'] }));
      }
      const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
      await run(
        'redis-cli',
        ['--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes'],
        {
          timeout: 30_000,
        },
      );
      await until('the private cluster to settle', 30_000, () => cluster.settled());
    } catch (error) {
      await cluster.dispose();
      throw error;
    }
    return cluster;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.nodes[0]?.port ?? 0}?cluster=true`;
  }

  /** One command on the node listening on `port`. */
  async call(port: number, ...args: string[]): Promise<unknown> {
    const node = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0 });
    node.on('error', () => {}); // the call rejects with it
    try {
      await node.connect();
      return await node.call(args[0] ?? 'PING', ...args.slice(1));
    } finally {
      node.disconnect();
    }
  }

  async slotOf(key: string): Promise<number> {
    return Number(await this.call(this.ports[0] ?? 0, 'CLUSTER', 'KEYSLOT', key));
  }

  /** The master ports, the one serving `slot` first. */
  async masters(slot: number): Promise<number[]> {
    const ranges = (await this.call(this.ports[0] ?? 0, 'CLUSTER', 'SLOTS')) as [
      number,
      number,
      [string, number],
    ][];
    const serving = ranges.find(([from, to]) => slot >= from && slot <= to)?.[2][1];
    const all = [...new Set(ranges.map(([, , master]) => master[1]))];
    return [...all.filter((p) => p === serving), ...all.filter((p) => p !== serving)];
  }

  /** Open `slot`'s move from master `from` to master `to` (IMPORTING, then MIGRATING). */
  async openMove(slot: number, from: number, to: number): Promise<void> {
    const [fromId, toId] = [await this.id(from), await this.id(to)];
    await this.call(to, 'CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', fromId);
    await this.call(from, 'CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', toId);
  }

  async moveKeys(from: number, to: number, keys: readonly string[]): Promise<void> {
    await this.call(from, 'MIGRATE', '127.0.0.1', String(to), '', '0', '5000', 'KEYS', ...keys);
  }

  /** Every key left in `slot` on `from` moves, then every node learns `to` owns it. */
  async finishMove(slot: number, from: number, to: number): Promise<void> {
    const left = (await this.call(
      from,
      'CLUSTER',
      'GETKEYSINSLOT',
      String(slot),
      '100',
    )) as string[];
    if (left.length > 0) await this.moveKeys(from, to, left);
    const toId = await this.id(to);
    const others = (await this.masters(slot)).filter((p) => p !== to && p !== from);
    // Masters only (replicas refuse SETSLOT and learn it from their masters).
    for (const port of [to, from, ...others]) {
      await this.call(port, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', toId);
    }
  }

  async dispose(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.close()));
  }

  /** Whether any of the six still answers (after dispose(): none may). */
  async anyAnswers(): Promise<boolean> {
    const answers = await Promise.all(
      this.ports.map((port) =>
        this.call(port, 'PING').then(
          () => true,
          () => false,
        ),
      ),
    );
    return answers.includes(true);
  }

  private get ports(): number[] {
    return this.nodes.map((n) => n.port);
  }

  private async id(port: number): Promise<string> {
    return String(await this.call(port, 'CLUSTER', 'MYID'));
  }

  private async settled(): Promise<boolean> {
    for (const port of this.ports) {
      const info = String(await this.call(port, 'CLUSTER', 'INFO'));
      const known = String(await this.call(port, 'CLUSTER', 'NODES'))
        .trim()
        .split('\n');
      if (
        !/cluster_state:ok/.test(info) ||
        known.some((l) => /fail|handshake/.test(l)) ||
        known.length !== 6
      ) {
        return false;
      }
    }
    return true;
  }
}
