import {
  StoreAuthError,
  StoreClosedError,
  StoreProtocolError,
  StoreUnavailableError,
  type AcquireRequest,
  type AcquireResult,
  type Lease,
  type LeaseMetadata,
  type LeaseRecord,
  type LeaseStore,
  type MemberRecord,
  type RenewResult,
} from '@leasehold/core';
import { Redis, type RedisOptions } from 'ioredis';
import { createHash } from 'node:crypto';
import * as scripts from './scripts.js';

type ScriptName = keyof typeof scripts;

/** How long createStore waits for the first connection before handing back the store. */
const CONNECT_WAIT_MS = 3_000;

export class RedisStore implements LeaseStore {
  readonly backend = 'redis';
  private readonly client: Redis;
  private subscriber: Redis | null = null;
  private readonly channelListeners = new Map<string, Set<() => void>>();
  private closed = false;
  /** The last connection-level error, to explain commands refused while disconnected. */
  private lastConnectionError: Error | null = null;

  private constructor(
    private readonly options: RedisOptions,
    private readonly namespace: string,
  ) {
    this.client = new Redis({
      ...options,
      // Fail fast while disconnected: the elector retries with backoff and must not find a
      // backlog of stale renewals replayed after the store comes back.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 5_000,
      retryStrategy: (attempt: number) => Math.min(attempt * 100, 2_000),
      lazyConnect: true,
    });
    this.client.on('error', (error: Error) => {
      this.lastConnectionError = error;
    });
    this.client.on('ready', () => {
      this.lastConnectionError = null;
    });
  }

  /**
   * Connect, waiting briefly for the first connection so a wrong password fails at start-up
   * with a clear error. A server that is merely down is not an error: the store reconnects by
   * itself and calls fail with StoreUnavailableError meanwhile.
   */
  static async open(options: RedisOptions, namespace: string): Promise<RedisStore> {
    const store = new RedisStore(options, namespace);
    await store.firstConnection();
    return store;
  }

  tryAcquire(request: AcquireRequest): Promise<AcquireResult> {
    const keys = this.keys(request.election);
    return this.command('acquire', async () => {
      const reply = (await this.script(
        'ACQUIRE',
        [keys.lease, keys.info, keys.term],
        [
          request.token,
          String(request.ttlMs),
          request.holder,
          JSON.stringify(request.metadata ?? {}),
        ],
      )) as [number, ...(string | number | null)[]];
      if (reply[0] === 1) {
        const [, term, counterWasMissing] = reply;
        return {
          acquired: true,
          lease: {
            election: request.election,
            holder: request.holder,
            token: request.token,
            term: Number(term),
            ttlMs: request.ttlMs,
            // Redis lost the term counter, so it may also have lost a live holder's key.
            notBeforeMs: counterWasMissing === 1 ? request.ttlMs : 0,
          },
        };
      }
      const [, holder, term, metadata, pttl] = reply;
      const remainingMs = typeof pttl === 'number' && pttl >= 0 ? pttl : null;
      return {
        acquired: false,
        current:
          typeof holder === 'string'
            ? toRecord(request.election, holder, term, metadata, remainingMs)
            : null,
        retryAfterMs: remainingMs,
      };
    });
  }

  renew(lease: Lease): Promise<RenewResult> {
    const keys = this.keys(lease.election);
    return this.command('renew', async () => {
      const renewed = await this.script(
        'RENEW',
        [keys.lease, keys.info],
        [lease.token, String(lease.ttlMs)],
      );
      return renewed === 1 ? { renewed: true, ttlMs: lease.ttlMs } : { renewed: false };
    });
  }

  release(lease: Lease): Promise<void> {
    const keys = this.keys(lease.election);
    return this.command('release', async () => {
      await this.script(
        'RELEASE',
        [keys.lease, keys.info, keys.channel],
        [lease.token, lease.election],
      );
    });
  }

  read(election: string): Promise<LeaseRecord | null> {
    const keys = this.keys(election);
    return this.command('read', async () => {
      const reply = (await this.script('READ', [keys.lease, keys.info], [])) as (
        string | number | null
      )[];
      const [holder, term, metadata, pttl] = reply;
      if (typeof holder !== 'string') return null;
      return toRecord(election, holder, term, metadata, typeof pttl === 'number' ? pttl : null);
    });
  }

  putMember(election: string, member: MemberRecord, ttlMs: number): Promise<void> {
    const keys = this.keys(election);
    return this.command('member', async () => {
      await this.script(
        'PUT_MEMBER',
        [keys.members, keys.memberExpiry],
        [member.id, JSON.stringify(member), String(ttlMs)],
      );
    });
  }

  listMembers(election: string): Promise<MemberRecord[]> {
    const keys = this.keys(election);
    return this.command('member', async () => {
      const records = (await this.script(
        'LIST_MEMBERS',
        [keys.members, keys.memberExpiry],
        [],
      )) as (string | null)[];
      return records
        .filter((r): r is string => typeof r === 'string')
        .map((r) => JSON.parse(r) as MemberRecord);
    });
  }

  removeMember(election: string, id: string): Promise<void> {
    const keys = this.keys(election);
    return this.command('member', async () => {
      await this.script('REMOVE_MEMBER', [keys.members, keys.memberExpiry], [id]);
    });
  }

  /**
   * A release PUBLISHes on the election's channel; one subscriber connection per store
   * serves every watched election. ioredis resubscribes by itself after a reconnect.
   */
  async watch(election: string, onChange: () => void, signal: AbortSignal): Promise<void> {
    if (this.closed || signal.aborted) return;
    const channel = this.keys(election).channel;
    let listeners = this.channelListeners.get(channel);
    const firstForChannel = listeners === undefined;
    if (listeners === undefined) {
      listeners = new Set();
      this.channelListeners.set(channel, listeners);
    }
    const channelListeners = listeners;
    channelListeners.add(onChange);
    signal.addEventListener(
      'abort',
      () => {
        channelListeners.delete(onChange);
        if (
          channelListeners.size === 0 &&
          this.channelListeners.get(channel) === channelListeners
        ) {
          this.channelListeners.delete(channel);
          this.subscriber?.unsubscribe(channel).catch(() => {});
        }
      },
      { once: true },
    );
    if (!firstForChannel) return;
    try {
      await this.subscriberConnection().subscribe(channel);
    } catch {
      // Best effort: the elector still polls, and ioredis retries the subscription.
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.channelListeners.clear();
    const connections = [this.client, this.subscriber].filter((c): c is Redis => c !== null);
    await Promise.all(
      connections.map(async (connection) => {
        try {
          await connection.quit();
        } catch {
          connection.disconnect();
        }
      }),
    );
  }

  private subscriberConnection(): Redis {
    if (this.subscriber === null) {
      // Subscriptions may queue while connecting: they are idempotent and resent on reconnect.
      const subscriber = this.client.duplicate({
        enableOfflineQueue: true,
        maxRetriesPerRequest: null,
        lazyConnect: false,
      });
      subscriber.on('error', () => {});
      subscriber.on('message', (channel: string) => {
        for (const listener of this.channelListeners.get(channel) ?? []) listener();
      });
      this.subscriber = subscriber;
    }
    return this.subscriber;
  }

  private async firstConnection(): Promise<void> {
    const connecting = this.client.connect().catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      connecting,
      new Promise((resolve) => {
        timer = setTimeout(resolve, CONNECT_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
    const failure = this.lastConnectionError;
    if (failure !== null && classify(failure) !== 'transient') {
      await this.close();
      throw translate('connect', failure, this.options);
    }
  }

  private keys(election: string) {
    const base = `${this.namespace}:{${election}}`;
    return {
      lease: `${base}:lease`,
      info: `${base}:info`,
      term: `${base}:term`,
      channel: `${base}:released`,
      members: `${base}:members`,
      memberExpiry: `${base}:members:expiry`,
    };
  }

  /** EVALSHA, falling back to EVAL once when the server does not know the script yet. */
  private async script(name: ScriptName, keys: string[], args: string[]): Promise<unknown> {
    const source = scripts[name];
    try {
      return await this.client.evalsha(sha1(source), keys.length, ...keys, ...args);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
        return this.client.eval(source, keys.length, ...keys, ...args);
      }
      throw error;
    }
  }

  private async command<T>(operation: string, work: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreClosedError(this.backend);
    try {
      return await work();
    } catch (error) {
      if (this.closed) throw new StoreClosedError(this.backend);
      // A command refused while disconnected says only that; the connection error says why.
      const cause =
        isOfflineRefusal(error) && this.lastConnectionError !== null
          ? this.lastConnectionError
          : error;
      throw translate(operation, cause, this.options);
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

function toRecord(
  election: string,
  holder: string,
  term: string | number | null | undefined,
  metadata: string | number | null | undefined,
  remainingMs: number | null,
): LeaseRecord {
  let parsed: LeaseMetadata = {};
  if (typeof metadata === 'string') {
    try {
      parsed = JSON.parse(metadata) as LeaseMetadata;
    } catch {
      parsed = {};
    }
  }
  return { election, holder, term: Number(term ?? 0), metadata: parsed, remainingMs };
}

function isOfflineRefusal(error: unknown): boolean {
  return (
    error instanceof Error && /Stream isn't writeable|Connection is closed/.test(error.message)
  );
}

type ErrorClass = 'transient' | 'auth' | 'protocol';

function classify(error: unknown): ErrorClass {
  const message = error instanceof Error ? error.message : String(error);
  if (/^(WRONGPASS|NOAUTH|NOPERM)|invalid (username-password|password)|-NOPERM/i.test(message))
    return 'auth';
  if (/^ERR unknown command|^ERR .*(Lua|script)|^NOSCRIPT|^ERR wrong number/i.test(message))
    return 'protocol';
  return 'transient';
}

/** Map an ioredis error to leasehold's classes, naming the cause but never the password. */
function translate(operation: string, error: unknown, options: RedisOptions): Error {
  const message = redact(error instanceof Error ? error.message : String(error), options);
  const where = options.sentinels
    ? `sentinel master "${options.name ?? ''}"`
    : `${options.host ?? ''}:${options.port ?? ''}`;
  switch (classify(error)) {
    case 'auth':
      return new StoreAuthError(
        `redis ${operation} at ${where}: the server refused the credentials or permission (${message}); check the user and password in the store URL and the user's ACL`,
        { cause: error },
      );
    case 'protocol':
      return new StoreProtocolError(
        `redis ${operation} at ${where}: the server does not support what leasehold needs (${message}); leasehold needs Redis 5 or newer with EVAL/EVALSHA enabled`,
        { cause: error },
      );
    default:
      return new StoreUnavailableError(`redis ${operation} at ${where} failed: ${message}`, {
        cause: error,
      });
  }
}

function redact(message: string, options: RedisOptions): string {
  const secrets = [options.password, options.sentinelPassword].filter(
    (s): s is string => typeof s === 'string' && s !== '',
  );
  return secrets.reduce((text, secret) => text.replaceAll(secret, '***'), message);
}
