import {
  FOLLOWERS_WOKEN_ON_RELEASE,
  isTransient,
  type AcquireRequest,
  type AcquireResult,
  type Lease,
  type LeaseRecord,
  type LeaseStore,
  type BatchStore,
  type MemberStore,
  type RenewResult,
  type Reservation,
  type TransferStore,
  waitAtMost,
} from '@leasehold/core';
import { Redis, type Cluster, type RedisOptions } from 'ioredis';
import { createHash } from 'node:crypto';
import { classify, isCommandTimeout, isOfflineRefusal, translateError } from './errors.js';
import { guardedCall, type CallGuard } from '../guarded-call.js';
import * as scripts from './scripts.js';
import { tlsRefusal } from './tls-probe.js';
import { parseWakeUp, wakes } from '../wake-up.js';
import { MemberHash } from './members.js';
import { redisBatch } from './batch.js';
import { acquireArgs, acquireResult, readReply, type AcquireReply } from './replies.js';
import { diagnoseFirstConnection, type Endpoint } from '../first-connection.js';
import { assertOneSlot, clusterSubscriber, openCluster, type ClusterSeed } from './cluster.js';

type ScriptName = keyof typeof scripts;
/** One server (or a Sentinel-managed one), or a Redis Cluster. */
type Client = Redis | Cluster;

/** How long createStore waits for the first connection before handing back the store. */
const CONNECT_WAIT_MS = 3_000;
/**
 * A script answers in well under a millisecond. One that has not answered in this long is
 * on a stalled server or a dead (half-open) connection: the call fails as unavailable and
 * the connection is dropped and re-established, rather than waiting for TCP to notice.
 */
export const COMMAND_TIMEOUT_MS = 2_000;
/** How long close() waits for QUIT to be answered before it drops the connections. */
const CLOSE_WAIT_MS = 1_000;
/** How long watch() waits for its SUBSCRIBE while Redis is unreachable (it stays queued). */
const SUBSCRIBE_WAIT_MS = 3_000;

/** A watcher, woken by a release when it is among the first in line the release names. */
/** Elections whose key names a store keeps (`keys`); a sidecar has a few thousand at most. */
const KEYS_KEPT = 100_000;

/** The key names of one election. */
interface ElectionKeys {
  readonly lease: string;
  readonly info: string;
  readonly term: string;
  readonly server: string;
  readonly channel: string;
  readonly members: string;
  readonly memberExpiry: string;
  readonly reserved: string;
}

interface Watcher {
  readonly onChange: () => void;
  /** The candidate watching, when it said. */
  readonly candidate: string | undefined;
}

/** One subscribed release channel, shared by every watcher of its election. */
interface Channel {
  readonly listeners: Set<Watcher>;
  /** Settles once SUBSCRIBE is answered, failed, or SUBSCRIBE_WAIT_MS passed. Never rejects. */
  readonly subscribed: Promise<void>;
}

export class RedisStore implements LeaseStore {
  readonly backend = 'redis';
  /** Many renewals in one script (LeaseStore.batch, batch.ts); per lease on a Cluster. */
  readonly batch: BatchStore;
  private readonly client: Client;
  private subscriber: Client | null = null;
  private readonly channels = new Map<string, Channel>();
  private readonly keyNames = new Map<string, ElectionKeys>();
  private closed = false;
  /** The last connection-level error, to explain commands refused while disconnected. */
  private lastConnectionError: Error | null = null;
  /** Every store call goes through it (../guarded-call.ts). */
  private readonly guard: CallGuard = {
    backend: 'redis',
    isClosed: () => this.closed,
    failed: (error, op) => {
      // Stalled server or dead connection: reconnect (rejects whatever else is in flight).
      if (isCommandTimeout(error) && this.client.status === 'ready') this.client.disconnect(true);
      // A command refused while disconnected says only that; the connection error says why.
      const cause =
        isOfflineRefusal(error) && this.lastConnectionError !== null
          ? this.lastConnectionError
          : error;
      return translateError(cause, op, this.options);
    },
  };

  constructor(
    private readonly options: RedisOptions,
    private readonly namespace: string,
    commandTimeoutMs: number,
    /** The seed nodes of a Redis Cluster; null for one server or Sentinel. */
    private readonly cluster: readonly ClusterSeed[] | null = null,
  ) {
    const connection: RedisOptions = {
      ...options,
      // Keys are named by the namespace; a key prefix would apply to script keys but not to
      // the release channels leasehold subscribes to.
      keyPrefix: '',
      // Fail fast while disconnected: the elector retries with backoff and must not find a
      // backlog of stale acquires or renewals replayed after the store comes back. No offline
      // queue, and no retries: with maxRetriesPerRequest 0 the commands in flight when the
      // connection drops are rejected at once instead of being resent after the reconnect.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: commandTimeoutMs,
      connectTimeout: 5_000,
      retryStrategy: (attempt: number) => Math.min(attempt * 100, 2_000),
      lazyConnect: true,
    };
    this.client = cluster === null ? new Redis(connection) : openCluster(cluster, connection);
    this.client.on('error', (error: Error) => {
      this.lastConnectionError = error;
    });
    this.client.on('ready', () => {
      this.lastConnectionError = null;
    });
    this.batch = this.batchOnThisClient();
  }

  /** The batch (batch.ts) on this store's client; made once `cluster` is known. */
  private batchOnThisClient(): BatchStore {
    return redisBatch({
      keys: (election) => this.keys(election),
      incarnationKey: (election) => this.incarnationKey(election),
      acrossSlots: (name, keys, args) =>
        guardedCall(this.guard, ACROSS_SLOTS_OP[name], () =>
          this.evalScript(scripts[name], keys, args),
        ),
      renew: (lease) => this.renew(lease),
      read: (election) => this.read(election),
      toRecord: readReply,
      putMemberAlone: async ({ election, member, ttlMs }) => {
        await this.members.put(election, member, ttlMs);
        return this.members.list(election);
      },
      onCluster: () => this.cluster !== null,
    });
  }

  /**
   * Connect, waiting briefly for the first connection so a wrong password fails at start-up
   * with a clear error. A server that is merely down is not an error: the store reconnects by
   * itself and calls fail with StoreUnavailableError meanwhile.
   */
  async start(): Promise<void> {
    await this.firstConnection();
    await this.probe();
  }

  tryAcquire(request: AcquireRequest): Promise<AcquireResult> {
    const keys = this.keys(request.election);
    return guardedCall(this.guard, 'acquire', async () => {
      const reply = (await this.script(
        'ACQUIRE',
        [keys.lease, keys.info, keys.term, keys.server, keys.reserved],
        acquireArgs(request),
      )) as AcquireReply;
      const [granted, , mayHaveLost, runId] = reply;
      const notBeforeMs =
        granted === 1 && mayHaveLost === 1
          ? await this.lossWaitMs(request.election, String(runId), request.ttlMs)
          : 0;
      return acquireResult(request, reply, notBeforeMs);
    });
  }

  renew(lease: Lease): Promise<RenewResult> {
    const keys = this.keys(lease.election);
    return guardedCall(this.guard, 'renew', async () => {
      const renewed = await this.script(
        'RENEW',
        [keys.lease, keys.info, keys.server],
        [lease.token, String(lease.ttlMs)],
      );
      return renewed === 1 ? { renewed: true, ttlMs: lease.ttlMs } : { renewed: false };
    });
  }

  release(lease: Lease): Promise<void> {
    const keys = this.keys(lease.election);
    return guardedCall(this.guard, 'release', async () => {
      await this.script(
        'RELEASE',
        [keys.lease, keys.info, keys.channel, keys.members, keys.memberExpiry],
        [lease.token, lease.election, lease.holder, String(FOLLOWERS_WOKEN_ON_RELEASE)],
      );
    });
  }

  read(election: string): Promise<LeaseRecord | null> {
    const keys = this.keys(election);
    return guardedCall(this.guard, 'read', async () => {
      const reply = (await this.script('READ', [keys.lease, keys.info, keys.server], [])) as (
        string | number | null
      )[];
      return readReply(election, reply);
    });
  }

  /** Transfers (LeaseStore.transfer): HAND_OVER and RESERVATION in scripts.ts. */
  readonly transfer: TransferStore = {
    handOver: (lease, successor, reservationMs) => this.handOver(lease, successor, reservationMs),
    reservation: (election) => this.reservation(election),
  };

  private handOver(lease: Lease, successor: string, reservationMs: number): Promise<boolean> {
    const keys = this.keys(lease.election);
    return guardedCall(this.guard, 'release', async () => {
      const handedOver = await this.script(
        'HAND_OVER',
        [keys.lease, keys.info, keys.channel, keys.reserved],
        [
          lease.token,
          lease.election,
          successor,
          lease.holder,
          // PX takes whole milliseconds, at least one; round up, never shorten it.
          String(Math.max(1, Math.ceil(reservationMs))),
        ],
      );
      return handedOver === 1;
    });
  }

  private reservation(election: string): Promise<Reservation | null> {
    const keys = this.keys(election);
    return guardedCall(this.guard, 'read', async () => {
      const [stored, pttl] = (await this.script('RESERVATION', [keys.reserved], [])) as [
        string?,
        number?,
      ];
      return toReservation(stored, pttl);
    });
  }

  /** Member records (LeaseStore.members, members.ts), on this store's connection. */
  readonly members: MemberStore = new MemberHash(
    (election) => this.keys(election),
    (work) =>
      guardedCall(this.guard, 'member', () =>
        work((name, keys, args) => this.script(name, keys, args)),
      ),
  );

  /**
   * A release PUBLISHes on the election's channel; one subscriber connection per store
   * serves every watched election, and every watcher of one election shares its
   * subscription. The message names the first in line (see RELEASE): only their watchers
   * wake, the others try at their poll. ioredis resubscribes by itself after a reconnect;
   * releases published while the subscriber was disconnected are lost, so every watcher is
   * woken once it is back.
   */
  async watch(
    election: string,
    onChange: () => void,
    signal: AbortSignal,
    candidate?: string,
  ): Promise<void> {
    if (this.closed || signal.aborted) return;
    const name = this.keys(election).channel;
    let channel = this.channels.get(name);
    if (channel === undefined) {
      channel = { listeners: new Set(), subscribed: this.subscribe(name) };
      this.channels.set(name, channel);
    }
    const current = channel;
    const watcher: Watcher = { onChange, candidate };
    current.listeners.add(watcher);
    signal.addEventListener(
      'abort',
      () => {
        current.listeners.delete(watcher);
        if (current.listeners.size > 0 || this.channels.get(name) !== current) return;
        this.channels.delete(name);
        // Only after SUBSCRIBE was answered, so an UNSUBSCRIBE never overtakes it; and not if
        // a new watcher subscribed the channel again meanwhile.
        void current.subscribed.then(() => {
          if (!this.channels.has(name)) this.subscriber?.unsubscribe(name).catch(() => {});
        });
      },
      { once: true },
    );
    await current.subscribed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.channels.clear();
    const connections = [this.client, this.subscriber].filter((c): c is Client => c !== null);
    // QUIT politely, but never wait long for it: on a stalled server it would not answer.
    await Promise.all(
      connections.map(async (connection) => {
        await waitAtMost(connection.quit(), CLOSE_WAIT_MS);
        connection.disconnect();
      }),
    );
  }

  private subscribe(name: string): Promise<void> {
    // Best effort: a failed SUBSCRIBE is ignored; the elector still schedules its next try
    // at the lease's PTTL.
    return waitAtMost(this.subscriberConnection().subscribe(name), SUBSCRIBE_WAIT_MS);
  }

  private subscriberConnection(): Client {
    if (this.subscriber === null) {
      // Subscriptions may queue while connecting: they are idempotent and resent on reconnect.
      const subscriber =
        this.client instanceof Redis
          ? this.client.duplicate({
              enableOfflineQueue: true,
              maxRetriesPerRequest: null,
              commandTimeout: undefined,
              lazyConnect: false,
            })
          : clusterSubscriber(this.client);
      let connectedBefore = false;
      subscriber.on('error', () => {});
      subscriber.on('ready', () => {
        if (connectedBefore) this.wakeAllWatchers();
        connectedBefore = true;
      });
      subscriber.on('message', (channel: string, message: string) => {
        const { firstInLine } = parseWakeUp(message);
        for (const { onChange, candidate } of this.channels.get(channel)?.listeners ?? []) {
          if (wakes(firstInLine, candidate)) onChange();
        }
      });
      this.subscriber = subscriber;
    }
    return this.subscriber;
  }

  private wakeAllWatchers(): void {
    for (const channel of this.channels.values()) {
      for (const { onChange } of channel.listeners) onChange();
    }
  }

  private async firstConnection(): Promise<void> {
    await waitAtMost(this.client.connect(), CONNECT_WAIT_MS);
    let failure = this.lastConnectionError;
    if (
      failure !== null &&
      this.options.tls !== undefined &&
      this.options.sentinels === undefined &&
      (failure as NodeJS.ErrnoException).code === 'ECONNRESET'
    ) {
      // A TLS server that refuses our client certificate looks like a reset: ask it why.
      failure = (await tlsRefusal(this.options)) ?? failure;
    }
    if (failure !== null && classify(failure) !== 'transient') {
      await this.close();
      throw translateError(failure, 'connect', this.options);
    }
    if (this.client.status === 'ready') {
      await this.mastersConnected();
      return;
    }
    // Not merely down if DNS does not know the host or something else answers there.
    const hopeless = await diagnoseFirstConnection('redis', this.endpoints());
    if (hopeless !== null) {
      await this.close();
      throw hopeless;
    }
  }

  /**
   * ioredis.Cluster opens a node's connection at that node's first command, and with no
   * offline queue that command fails ("Connection is closed"): a third of fresh stores
   * failed their first calls to the other masters so. Once the cluster is ready, connect
   * every master (waiting briefly), and each node the pool adds later (a failover's).
   */
  private async mastersConnected(): Promise<void> {
    if (this.cluster === null) return;
    const cluster = this.client as Cluster;
    const connect = (node: Redis) => {
      if (node.status === 'wait') node.connect().catch(() => undefined);
      return node.status === 'ready' ? null : new Promise((resolve) => node.once('ready', resolve));
    };
    cluster.on('+node', (node: Redis) => void connect(node));
    await waitAtMost(Promise.all(cluster.nodes('master').map(connect)), CONNECT_WAIT_MS);
  }

  private endpoints(): Endpoint[] {
    const { sentinels, host, port } = this.options;
    if (this.cluster !== null) return [...this.cluster];
    return sentinels
      ? sentinels.map((s) => ({ host: s.host ?? '127.0.0.1', port: s.port ?? 26379 }))
      : [{ host: host ?? '127.0.0.1', port: port ?? 6379 }];
  }

  /**
   * When connected, run one script now, so that a user without the permissions leasehold
   * needs (NOPERM) or a server without EVAL/EVALSHA fails at start-up with a clear error
   * rather than at the first election. A server that is down is left to the reconnect loop.
   */
  private async probe(): Promise<void> {
    if (this.client.status !== 'ready') return;
    try {
      await this.read('leasehold-probe');
    } catch (error) {
      if (!isTransient(error)) {
        await this.close();
        throw error;
      }
    }
  }

  /**
   * The election's state may be stale (see ACQUIRE): how long the new holder waits before
   * it reports leadership, so that any holder Redis forgot has passed its own deadline.
   * When the answer cannot be had (or another server gives it), the whole TTL.
   */
  private async lossWaitMs(election: string, acquiredOn: string, ttlMs: number): Promise<number> {
    try {
      const [ageMs, runId] = (await this.script(
        'INCARNATION',
        [this.incarnationKey(election)],
        [],
      )) as [number, string];
      return runId === acquiredOn ? Math.max(0, ttlMs - ageMs) : ttlMs;
    } catch {
      return ttlMs;
    }
  }

  /**
   * One server: one incarnation key per namespace. A cluster: one per election, in the
   * election's slot, so INCARNATION runs on the master that ran the acquire, and a slot that
   * moved to another master brings a record naming the master it left (a full TTL's wait).
   */
  private incarnationKey(election: string): string {
    return this.cluster === null
      ? `${this.namespace}:incarnation`
      : `${this.namespace}:{${election}}:incarnation`;
  }

  /**
   * Each election's key names, made once: a heartbeat of 1,000 elections names 5,000 keys
   * a tick. Bounded: past KEYS_KEPT elections the names are made afresh.
   */
  private keys(election: string): ElectionKeys {
    let keys = this.keyNames.get(election);
    if (keys === undefined) {
      if (this.keyNames.size >= KEYS_KEPT) this.keyNames.clear();
      keys = this.makeKeys(election);
      this.keyNames.set(election, keys);
    }
    return keys;
  }

  private makeKeys(election: string): ElectionKeys {
    const base = `${this.namespace}:{${election}}`;
    return {
      lease: `${base}:lease`,
      info: `${base}:info`,
      term: `${base}:term`,
      server: `${base}:server`,
      channel: `${base}:released`,
      members: `${base}:members`,
      memberExpiry: `${base}:members:expiry`,
      reserved: `${base}:reserved`,
    };
  }

  /** EVALSHA, falling back to EVAL once when the server does not know the script yet. */
  private script(name: ScriptName, keys: string[], args: string[]): Promise<unknown> {
    assertOneSlot(keys);
    return this.evalScript(scripts[name], keys, args);
  }

  private async evalScript(source: string, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await this.client.evalsha(sha1(source), keys.length, ...keys, ...args);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
        return this.client.eval(source, keys.length, ...keys, ...args);
      }
      throw error;
    }
  }
}

const scriptHashes = new Map<string, string>();
function sha1(source: string): string {
  let hash = scriptHashes.get(source);
  if (hash === undefined) {
    hash = createHash('sha1').update(source).digest('hex');
    scriptHashes.set(source, hash);
  }
  return hash;
}

/** What the store's calls across elections count as, for metrics and errors. */
const ACROSS_SLOTS_OP = {
  RENEW_MANY: 'renew',
  PUT_MEMBERS: 'member',
  READ_MANY: 'read',
  BEAT: 'renew',
  CLAIM_MANY: 'acquire',
} as const;

/** A RESERVATION reply as the contract's Reservation; null when none or not leasehold's. */
function toReservation(stored: string | undefined, pttl: number | undefined): Reservation | null {
  if (stored === undefined || pttl === undefined || pttl <= 0) return null;
  try {
    const { successor, from } = JSON.parse(stored) as Partial<Record<string, unknown>>;
    if (typeof successor !== 'string' || typeof from !== 'string') return null;
    return { successor, from, remainingMs: pttl };
  } catch {
    return null;
  }
}
