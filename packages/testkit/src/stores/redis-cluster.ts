import type { LabHost } from '../netlab.js';
import { pause, until } from '../wait.js';
import { RedisServer } from './redis.js';
import { tool, type StoreFixture } from './server.js';

/** How long a node may be unreachable before the others mark it failed and fail over. */
const NODE_TIMEOUT_MS = 1_000;

/** One shard of the slot map: the master's port and its replicas'. */
export interface Shard {
  readonly master: number;
  readonly replicas: readonly number[];
}

/**
 * A Redis Cluster of the suite's own: six cluster-mode redis-servers in the store host, made
 * into three masters with one replica each by `redis-cli --cluster create`. No persistence:
 * a replica knows what replication brought it, no more. Sidecars reach it with
 * `?cluster=true` and every node as a seed.
 */
export class RedisClusterSet implements StoreFixture {
  readonly backend = 'redis-cluster';

  private constructor(
    readonly address: string,
    readonly nodes: readonly RedisServer[],
  ) {}

  static async start(host: LabHost, address: string): Promise<RedisClusterSet> {
    const nodes: RedisServer[] = [];
    const set = new RedisClusterSet(address, nodes);
    try {
      for (let i = 0; i < 6; i += 1) {
        nodes.push(
          await RedisServer.start({
            host,
            address,
            persistent: false,
            args: [
              ...['--cluster-enabled', 'yes', '--cluster-announce-ip', address],
              ...['--cluster-node-timeout', String(NODE_TIMEOUT_MS)],
            ],
          }),
        );
      }
      const seeds = nodes.map((n) => `${address}:${n.port}`);
      await tool(
        'redis-cli',
        ['--cluster', 'create', ...seeds, '--cluster-replicas', '1', '--cluster-yes'],
        {
          timeoutMs: 30_000,
        },
      );
      await set.waitUntilSettled();
    } catch (error) {
      await set.close();
      throw error;
    }
    return set;
  }

  get url(): string {
    const [first, ...others] = this.nodes.map((n) => `${this.address}:${n.port}`);
    return `redis://${first}?cluster=true&clusterNodes=${others.join(',')}`;
  }

  node(port: number): RedisServer {
    const node = this.nodes.find((n) => n.port === port);
    if (node === undefined) throw new Error(`no cluster node on port ${port}`);
    return node;
  }

  /** Ask any node that answers. */
  async cli(...args: string[]): Promise<string> {
    for (const node of this.nodes) {
      try {
        return await node.cli(...args);
      } catch {
        // Killed or frozen: the next one.
      }
    }
    throw new Error(`no cluster node answered ${args.join(' ')}`);
  }

  /** The slot of an election's keys (their hash tag is the election's name). */
  async slotOf(election: string): Promise<number> {
    return Number((await this.cli('CLUSTER', 'KEYSLOT', election)).trim());
  }

  /** Who serves `slot` now, as the node on `port` (or any node) sees it. */
  async shardOf(slot: number, port?: number): Promise<Shard> {
    const nodes = await (port === undefined ? this : this.node(port)).cli('CLUSTER', 'NODES');
    return parseShard(nodes, slot);
  }

  /**
   * Move `slot` to another master the way `redis-cli --cluster reshard` does, one key at a
   * time with `pauseMs` between keys, so that calls meet the slot half moved (TRYAGAIN, ASK).
   */
  async migrate(slot: number, to: number, pauseMs: number): Promise<void> {
    const from = (await this.shardOf(slot)).master;
    const [target, source] = [this.node(to), this.node(from)];
    const [targetId, sourceId] = [await nodeId(target), await nodeId(source)];
    await target.cli('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', sourceId);
    await source.cli('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', targetId);
    for (;;) {
      const key = (await source.cli('CLUSTER', 'GETKEYSINSLOT', String(slot), '1')).trim();
      if (key === '') break;
      await source.cli('MIGRATE', this.address, String(to), key, '0', '5000');
      await pause(pauseMs);
    }
    // The new owner first, then the old one (it stops redirecting with ASK), then the other
    // masters (replicas refuse SETSLOT and learn it from their masters).
    const roles = await Promise.all(this.nodes.map((n) => n.cli('ROLE')));
    const rest = this.nodes.filter(
      (n, i) => n !== target && n !== source && roles[i]?.startsWith('master'),
    );
    for (const node of [target, source, ...rest]) {
      await node.cli('CLUSTER', 'SETSLOT', String(slot), 'NODE', targetId);
    }
    await until(
      'every node to agree on the moved slot',
      15_000,
      async () => {
        const views = await Promise.all(this.nodes.map((n) => this.shardOf(slot, n.port)));
        return views.every((v) => v.master === to);
      },
      50,
    );
  }

  /** A master other than the one serving `slot` now. */
  async otherMaster(slot: number): Promise<number> {
    const current = (await this.shardOf(slot)).master;
    const masters = (await this.cli('CLUSTER', 'NODES'))
      .split('\n')
      .filter((line) => / master /.test(line) && !/fail/.test(line))
      .map((line) => Number(/:(\d+)@/.exec(line)?.[1]));
    const other = masters.find((port) => port !== current);
    if (other === undefined) throw new Error('no other master');
    return other;
  }

  /** Wait until the slot's replica has everything its master wrote. */
  async waitUntilReplicated(slot: number, withinMs = 15_000): Promise<void> {
    const { master } = await this.shardOf(slot);
    await until(
      'the replica to catch up',
      withinMs,
      async () => {
        const info = await this.node(master).cli('INFO', 'replication');
        const offset = /master_repl_offset:(\d+)/.exec(info)?.[1];
        const replicaOffset = /slave0:.*state=online,offset=(\d+)/.exec(info)?.[1];
        return offset !== undefined && offset === replicaOffset;
      },
      50,
    );
  }

  /** The slot's replica takes over from its master (`CLUSTER FAILOVER`, no data lost). */
  async failover(slot: number): Promise<number> {
    const { replicas } = await this.shardOf(slot);
    const replica = replicas[0];
    if (replica === undefined) throw new Error(`slot ${slot} has no replica`);
    await this.node(replica).cli('CLUSTER', 'FAILOVER');
    await this.waitForMaster(slot, replica);
    return replica;
  }

  /** Wait until `port` serves `slot` and the cluster is whole again in every live node's view. */
  async waitForMaster(slot: number, port: number, withinMs = 30_000): Promise<void> {
    await until(
      `node ${port} to serve slot ${slot}`,
      withinMs,
      async () => {
        try {
          const shard = await this.shardOf(slot, port);
          const info = await this.node(port).cli('CLUSTER', 'INFO');
          return shard.master === port && /cluster_state:ok/.test(info);
        } catch {
          return false;
        }
      },
      100,
    );
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.close()));
  }

  private async waitUntilSettled(): Promise<void> {
    await until(
      'the cluster to be whole in every node’s view',
      30_000,
      async () => {
        const views = await Promise.all(
          this.nodes.map(async (n) => [
            await n.cli('CLUSTER', 'INFO'),
            await n.cli('CLUSTER', 'NODES'),
          ]),
        );
        return views.every(
          ([info = '', nodes = '']) =>
            /cluster_state:ok/.test(info) &&
            nodes
              .trim()
              .split('\n')
              .filter((l) => /master|slave/.test(l) && !/fail|handshake/.test(l)).length === 6,
        );
      },
      100,
    );
  }
}

/** The master (and its replicas) serving `slot` in a CLUSTER NODES reply. */
export function parseShard(nodes: string, slot: number): Shard {
  const lines = nodes
    .trim()
    .split('\n')
    .map((line) => line.split(' '));
  const portOf = (fields: string[]) => Number(/:(\d+)@/.exec(fields[1] ?? '')?.[1]);
  const master = lines.find(
    (fields) =>
      /master/.test(fields[2] ?? '') &&
      !/fail/.test(fields[2] ?? '') &&
      fields.slice(8).some((range) => inRange(range, slot)),
  );
  if (master === undefined) throw new Error(`no master serves slot ${slot}`);
  const replicas = lines
    .filter((fields) => fields[3] === master[0] && !/fail/.test(fields[2] ?? ''))
    .map(portOf);
  return { master: portOf(master), replicas };
}

function inRange(range: string, slot: number): boolean {
  if (range.startsWith('[')) return false;
  const [from = NaN, to = from] = range.split('-').map(Number);
  return slot >= from && slot <= to;
}

async function nodeId(node: RedisServer): Promise<string> {
  return (await node.cli('CLUSTER', 'MYID')).trim();
}
