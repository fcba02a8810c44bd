import { execFileSync } from 'node:child_process';

/**
 * A small network of our own for fault injection: a "store host" namespace where test stores
 * run, reachable from the root namespace, and candidate hosts (one namespace each) whose own
 * path to the store can be cut (nftables drop) or stalled (a `tc` token bucket that holds
 * packets and releases them later). This kernel has no netem, so these two are the faults.
 *
 * Topology, with `p` the lab's prefix and addresses inside 10.<octet>.x.y:
 *
 *     root ns ──veth── p-store (store host, listens on every address)
 *        │                 │
 *        └──veth── p-c1 ───┘   (HTTP from root over one link, store traffic over the other)
 *
 * Every candidate (root or host) reaches the store at `storeAddress`: a host routes it over
 * its own link to the store host, which accepts packets for any of its addresses on any
 * interface. Only addresses inside these namespaces are ever targeted. Needs root, `ip`,
 * `tc` and `nft` (scripts/services.sh installs nftables).
 */

export interface LabHost {
  /** The namespace's name, also used for its nftables table and qdiscs. */
  readonly namespace: string;
  /** Where the root namespace reaches processes in this host (bind them to 0.0.0.0). */
  readonly address: string;
  /**
   * This host's own address on its link to the store host: where servers in the store host
   * reach it (a cluster peer, for one). Null for the store host itself.
   */
  readonly storeSideAddress: string | null;
  /** `argv` prefixed so that it runs inside this host's namespace. */
  wrap(argv: readonly string[]): string[];
  /** Drop every packet between this host and the store host, both ways. */
  cutStore(): void;
  /** Hold packets to and from the store host (delivered late once unstalled). */
  stallStore(): void;
  /**
   * Each direction of the path to the store on its own: `toStore` is what this host sends,
   * `fromStore` what the store host answers. Replaces whatever was set before; drops take
   * effect before held packets of the previous setting are let go.
   */
  breakStore(path: StorePath): void;
  /** Undo a cut or a stall: held packets go out now. */
  healStore(): void;
}

/** What happens to packets in one direction: delivered, held (late), or dropped (lost). */
export type PathState = 'pass' | 'hold' | 'drop';

export interface StorePath {
  readonly toStore: PathState;
  readonly fromStore: PathState;
}

const OPEN_PATH: StorePath = { toStore: 'pass', fromStore: 'pass' };

export interface NetLab {
  readonly prefix: string;
  /** The store host. Run servers with `store.wrap([...])`, listening on 0.0.0.0. */
  readonly store: LabHost;
  /** The store host's address as every candidate reaches it. */
  readonly storeAddress: string;
  /** A candidate host with its own (breakable) path to the store. */
  addHost(name: string): LabHost;
  /** Kill every process left in the lab's namespaces and delete them (and their links). */
  destroy(): void;
}

/**
 * Build a lab. `prefix` names every namespace and device (keep it short: device names are at
 * most 15 characters); leftovers of an earlier run with the same prefix are removed first.
 */
export function createNetLab(prefix: string): NetLab {
  if (!/^[a-z][a-z0-9]{1,5}$/.test(prefix)) {
    throw new Error(`netlab prefix ${JSON.stringify(prefix)}: 2-6 lowercase letters or digits`);
  }
  removeNamespaces(prefix);
  const octet = freeOctet(prefix);
  const storeNs = `${prefix}-store`;
  ip('netns', 'add', storeNs);
  ipIn(storeNs, 'link', 'set', 'lo', 'up');
  // root <-> store host: link 0.
  const rootLink = link(prefix, octet, 0, null, storeNs);
  const storeAddress = rootLink.farAddress;
  const hosts: LabHost[] = [];
  let next = 1;

  const store = makeHost(storeNs, storeAddress, null, prefix);
  return {
    prefix,
    store,
    storeAddress,
    addHost(name: string): LabHost {
      if (!/^[a-z0-9]{1,4}$/.test(name)) {
        throw new Error(`netlab host ${JSON.stringify(name)}: 1-4 lowercase letters or digits`);
      }
      const namespace = `${prefix}-${name}`;
      ip('netns', 'add', namespace);
      ipIn(namespace, 'link', 'set', 'lo', 'up');
      const storeLink = link(prefix, octet, next++, namespace, storeNs);
      const httpLink = link(prefix, octet, next++, null, namespace);
      // Store traffic goes over the store link, whatever address the store is known by.
      ipIn(namespace, 'route', 'add', `${storeAddress}/32`, 'via', storeLink.farAddress);
      const host = makeHost(namespace, httpLink.farAddress, storeLink, prefix);
      hosts.push(host);
      return host;
    },
    destroy(): void {
      removeNamespaces(prefix);
    },
  };
}

interface Link {
  /** The device on the near side, in `nearNs` (null: the root namespace). */
  readonly nearDevice: string;
  readonly nearNs: string | null;
  readonly farDevice: string;
  readonly farNs: string;
  readonly nearAddress: string;
  readonly farAddress: string;
}

/** A veth pair with a /30 between `nearNs` (null: root) and `farNs`. */
function link(prefix: string, octet: number, index: number, nearNs: string | null, farNs: string) {
  const nearDevice = `${prefix}n${index}`;
  const farDevice = `${prefix}f${index}`;
  const base = 4 * index;
  const nearAddress = `10.${octet}.${Math.floor(base / 256)}.${(base % 256) + 1}`;
  const farAddress = `10.${octet}.${Math.floor(base / 256)}.${(base % 256) + 2}`;
  ip('link', 'add', nearDevice, 'type', 'veth', 'peer', 'name', farDevice);
  ip('link', 'set', farDevice, 'netns', farNs);
  if (nearNs !== null) ip('link', 'set', nearDevice, 'netns', nearNs);
  ipMaybeIn(nearNs, 'addr', 'add', `${nearAddress}/30`, 'dev', nearDevice);
  ipMaybeIn(nearNs, 'link', 'set', nearDevice, 'up');
  ipIn(farNs, 'addr', 'add', `${farAddress}/30`, 'dev', farDevice);
  ipIn(farNs, 'link', 'set', farDevice, 'up');
  return { nearDevice, nearNs, farDevice, farNs, nearAddress, farAddress } satisfies Link;
}

function makeHost(
  namespace: string,
  address: string,
  storeLink: Link | null,
  prefix: string,
): LabHost {
  const table = `${prefix}lab`;
  let current: StorePath = OPEN_PATH;

  const setPath = (next: StorePath): void => {
    if (storeLink === null)
      throw new Error(`netlab: ${namespace} has no path to the store to break`);
    // Drops first, so that nothing slips through while held packets are let go.
    applyDrops(namespace, table, storeLink.nearDevice, next);
    const ends = {
      // What this host sends queues on its own end; what the store answers, on the far end.
      toStore: { ns: storeLink.nearNs, device: storeLink.nearDevice, peer: storeLink.farAddress },
      fromStore: { ns: storeLink.farNs, device: storeLink.farDevice, peer: storeLink.nearAddress },
    };
    for (const direction of ['toStore', 'fromStore'] as const) {
      const { ns, device, peer } = ends[direction];
      const wasHeld = current[direction] === 'hold';
      const held = next[direction] === 'hold';
      if (held && !wasHeld) {
        tcIn(ns, 'qdisc', 'add', 'dev', device, 'root', ...TBF_STALLED);
        // A new bucket starts full (one burst passes); spend it on junk so that the next
        // real packet is the first one held.
        drainBucket(ns, peer);
      } else if (!held && wasHeld) {
        // Raise the rate first so held packets leave, then remove the shaper.
        quietly(() => tcIn(ns, 'qdisc', 'change', 'dev', device, 'root', ...TBF_OPEN));
        quietly(() => tcIn(ns, 'qdisc', 'del', 'dev', device, 'root'));
      }
    }
    current = next;
  };

  return {
    namespace,
    address,
    storeSideAddress: storeLink?.nearAddress ?? null,
    wrap: (argv) => ['ip', 'netns', 'exec', namespace, ...argv],
    cutStore: () => setPath({ toStore: 'drop', fromStore: 'drop' }),
    stallStore: () => setPath({ toStore: 'hold', fromStore: 'hold' }),
    breakStore: setPath,
    healStore: () => {
      if (storeLink !== null) setPath(OPEN_PATH);
    },
  };
}

/** The nftables table of a host: its drop rules for the directions set to `drop`, or none. */
function applyDrops(namespace: string, table: string, device: string, path: StorePath): void {
  const rules = [
    path.fromStore === 'drop'
      ? `chain input { type filter hook input priority -10; iifname "${device}" drop; }`
      : '',
    path.toStore === 'drop'
      ? `chain output { type filter hook output priority -10; oifname "${device}" drop; }`
      : '',
  ].filter((rule) => rule !== '');
  // One nft transaction: the old rules go and the new ones arrive at the same instant.
  nftIn(
    namespace,
    [
      `add table inet ${table}`,
      `delete table inet ${table}`,
      ...(rules.length === 0 ? [] : [`table inet ${table} {`, ...rules, '}']),
    ].join('\n'),
  );
}

/**
 * A token bucket so slow it holds every packet (about one byte a second gets through) with
 * a queue deep enough that nothing is dropped, and the rate that releases them again. The
 * burst must exceed the link's MTU, or larger packets would be dropped instead of held.
 */
const TBF_STALLED = ['tbf', 'rate', '8bit', 'burst', '1600', 'limit', '4000000'];
const TBF_OPEN = ['tbf', 'rate', '10gbit', 'burst', '1600000', 'limit', '4000000'];

/** Two datagrams of 1,400 bytes to a discard port: more than the bucket's 1,600 bytes. */
function drainBucket(namespace: string | null, peer: string): void {
  const send = `for i in 1 2; do head -c 1400 /dev/zero > /dev/udp/${peer}/9; done`;
  if (namespace === null) run('bash', '-c', send);
  else run('ip', 'netns', 'exec', namespace, 'bash', '-c', send);
}

/** Kill what runs in the prefix's namespaces, then delete them (links go with them). */
function removeNamespaces(prefix: string): void {
  const names = run('ip', 'netns', 'list')
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith(`${prefix}-`));
  for (const name of names) {
    const pids = quietly(() => run('ip', 'netns', 'pids', name)) ?? '';
    for (const pid of pids.split('\n').filter((p) => p !== '')) {
      quietly(() => process.kill(Number(pid), 'SIGKILL'));
    }
    quietly(() => run('ip', 'netns', 'del', name));
  }
  // Root-side ends of links whose far end was in a deleted namespace vanish with it; any
  // half-made pair from a crashed run is removed here.
  for (const line of run('ip', '-o', 'link', 'show').split('\n')) {
    const device = /^\d+: ([^:@]+)/.exec(line)?.[1];
    if (device?.startsWith(`${prefix}n`) === true || device?.startsWith(`${prefix}f`) === true) {
      quietly(() => run('ip', 'link', 'del', device));
    }
  }
}

function ip(...args: string[]): void {
  run('ip', ...args);
}

function ipIn(namespace: string, ...args: string[]): void {
  run('ip', '-n', namespace, ...args);
}

function ipMaybeIn(namespace: string | null, ...args: string[]): void {
  if (namespace === null) ip(...args);
  else ipIn(namespace, ...args);
}

function tcIn(namespace: string | null, ...args: string[]): void {
  if (namespace === null) run('tc', ...args);
  else run('ip', 'netns', 'exec', namespace, 'tc', ...args);
}

function nftIn(namespace: string, ruleset: string): void {
  execFileSync('ip', ['netns', 'exec', namespace, 'nft', '-f', '-'], {
    input: ruleset,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

function run(command: string, ...args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`netlab: ${command} ${args.join(' ')} failed: ${stderr.trim()}`, {
      cause: error,
    });
  }
}

function quietly<T>(work: () => T): T | undefined {
  try {
    return work();
  } catch {
    return undefined;
  }
}

/**
 * The second octet of the lab's 10.x.0.0/16: derived from the prefix, moved on past any
 * taken by another lab (every lab has a link in the root namespace, so the root's addresses
 * show which are in use).
 */
function freeOctet(prefix: string): number {
  const taken = new Set(
    [...run('ip', '-o', '-4', 'addr', 'show').matchAll(/inet 10\.(\d+)\./g)].map((m) =>
      Number(m[1]),
    ),
  );
  const start = hash(prefix) % 100;
  for (let step = 0; step < 100; step += 1) {
    const octet = 100 + ((start + step) % 100);
    if (!taken.has(octet)) return octet;
  }
  throw new Error('netlab: every 10.100-199.0.0/16 is in use by another lab');
}

function hash(text: string): number {
  let h = 0;
  for (const char of text) h = (h * 31 + char.charCodeAt(0)) >>> 0;
  return h;
}
