import type { LabHost } from '../netlab.js';
import { freePort } from '../ports.js';
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
 * A Redis Cluster of the suite's own: six cluster-mode redis-servers in a lab host (the chaos
 * suite's store host) or on loopback (adapter tests, for faults the shared cluster of
 * scripts/services.sh must never see), made into three masters with one replica each by
 * `redis-cli --cluster create`. No persistence: a replica knows what replication brought
 * it, no more. Sidecars reach it with `?cluster=true` and every node as a seed.
 */
export class RedisClusterSet implements StoreFixture {
  readonly backend = 'redis-cluster';

  private constructor(
    readonly address: string,
    readonly nodes: readonly RedisServer[],
  ) {}

  /** In `host` (reached at `address`), or on loopback without one. */
  static async start(host?: LabHost, address = '127.0.0.1'): Promise<RedisClusterSet> {
    const nodes: RedisServer[] = [];
    const set = new RedisClusterSet(address, nodes);
    try {
      for (let i = 0; i < 6; i += 1) {
        // On loopback, bus ports of their own (the default, port + 10000, may be taken).
        const bus = host === undefined ? ['--cluster-port', String(await freePort())] : [];
        nodes.push(
          await RedisServer.start({
            ...(host === undefined ? {} : { host }),
            address,
            persistent: false,
            args: [
              ...['--cluster-enabled', 'yes', '--cluster-announce-ip', address, ...bus],
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

  /** Every live master's port, the one serving `slot` now first. */
  async masters(slot: number): Promise<number[]> {
    const nodes = await this.cli('CLUSTER', 'NODES');
    const serving = parseShard(nodes, slot).master;
    const all = nodes
      .trim()
      .split('\n')
      .map((line) => line.split(' '))
      .filter((fields) => /master/.test(fields[2] ?? '') && !/fail/.test(fields[2] ?? ''))
      .map((fields) => Number(/:(\d+)@/.exec(fields[1] ?? '')?.[1]));
    return [serving, ...all.filter((port) => port !== serving)];
  }

  /**
   * Move `slot` to another master the way `redis-cli --cluster reshard` does, one key at a
   * time with `pauseMs` between keys, so that calls meet the slot half moved (TRYAGAIN, ASK).
   */
  async migrate(slot: number, to: number, pauseMs: number): Promise<void> {
    const from = (await this.shardOf(slot)).master;
    await this.openMove(slot, from, to);
    for (;;) {
      const key = await this.nextKey(slot, from);
      if (key === '') break;
      await this.moveKeys(from, to, [key]);
      await pause(pauseMs);
    }
    await this.finishMove(slot, from, to);
  }

  /** Open `slot`'s move from master `from` to master `to` (IMPORTING, then MIGRATING). */
  async openMove(slot: number, from: number, to: number): Promise<void> {
    const [target, source] = [this.node(to), this.node(from)];
    const [targetId, sourceId] = [await nodeId(target), await nodeId(source)];
    await target.cli('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', sourceId);
    await source.cli('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', targetId);
  }

  /** `keys` (of a slot being moved) from master `from` to master `to`, one at a time. */
  async moveKeys(from: number, to: number, keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      await this.node(from).cli('MIGRATE', this.address, String(to), key, '0', '5000');
    }
  }

  /**
   * Close a move `openMove` opened: every key left in `slot` on `from` moves, then every master
   * learns `to` owns it; resolves once every node agrees.
   */
  async finishMove(slot: number, from: number, to: number): Promise<void> {
    for (
      let key = await this.nextKey(slot, from);
      key !== '';
      key = await this.nextKey(slot, from)
    ) {
      await this.moveKeys(from, to, [key]);
    }
    const [target, source] = [this.node(to), this.node(from)];
    const targetId = await nodeId(target);
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

  /** Whether any of the six still answers (after close(): none may). */
  async anyAnswers(): Promise<boolean> {
    const answers = await Promise.all(
      this.nodes.map((n) =>
        n.cli('PING').then(
          () => true,
          () => false,
        ),
      ),
    );
    return answers.includes(true);
  }

  /** A key still in `slot` on the node on `port`, or '' once none is. */
  private async nextKey(slot: number, port: number): Promise<string> {
    return (await this.node(port).cli('CLUSTER', 'GETKEYSINSLOT', String(slot), '1')).trim();
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
