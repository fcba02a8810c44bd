import {
  StoreAuthError,
  StoreClosedError,
  StoreUnavailableError,
  waitAtMost,
} from '@leasehold/core';
import { EventEmitter } from 'node:events';
import zookeeper, { type Client, type State } from 'node-zookeeper-client';
import {
  connectionInternals,
  dialWithTls,
  disable,
  SilenceWatchdog,
  tolerateUnknownCodes,
} from './client-internals.js';
import type { ZooKeeperConfig } from './url.js';

tolerateUnknownCodes();

/** Pause between rounds of connection attempts once every server has refused (random up to). */
const SPIN_DELAY_MS = 100;
/** How long close() waits for ZooKeeper to end the session before dropping the connection. */
const CLOSE_WAIT_MS = 1_000;

export interface SessionEvents {
  /** A new session began: ephemeral znodes and server-side watches of an earlier one are gone. */
  session: [];
  /** Connected (again) to a server: a good moment to check watches and retry cleanups. */
  connected: [];
}

/**
 * One ZooKeeper session at a time, on node-zookeeper-client. The client reconnects by itself
 * within a session; when ZooKeeper says the session expired, this opens a new one (the client
 * would stay closed). Every request fails fast while there is no connection, rather than
 * waiting in the client's queue to be sent after a reconnect, and gives up after a timeout.
 */
export class ZooKeeperSession extends EventEmitter<SessionEvents> {
  private client: Client | null = null;
  private watchdog: SilenceWatchdog | null = null;
  private requestedMs: number;
  private grantedMs: number | null = null;
  private epochCount = 0;
  private closed = false;
  private authFailure: StoreAuthError | null = null;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly config: ZooKeeperConfig,
    private readonly hosts: string,
  ) {
    super();
    this.requestedMs = config.sessionTimeoutMs;
  }

  /** Increases with every new session; state tied to a session records the epoch it had. */
  get epoch(): number {
    return this.epochCount;
  }

  /** The session timeout asked for. */
  get requestedTimeoutMs(): number {
    return this.requestedMs;
  }

  /** The session timeout ZooKeeper granted, once it has answered. */
  get grantedTimeoutMs(): number | null {
    return this.grantedMs;
  }

  /** The granted timeout, or the requested one until ZooKeeper has answered. */
  get timeoutMs(): number {
    return this.grantedMs ?? this.requestedMs;
  }

  get connected(): boolean {
    return this.client?.getState() === zookeeper.State.SYNC_CONNECTED;
  }

  start(): void {
    if (this.client === null && !this.closed) this.openClient();
  }

  /** Resolves to whether a connection is up, waiting at most `ms` for one. */
  waitConnected(ms: number): Promise<boolean> {
    if (this.connected || this.closed || this.authFailure !== null) {
      return Promise.resolve(this.connected);
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve(this.connected);
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.waiters.add(done);
    });
  }

  /** End this session and open another with a different timeout. */
  async reopen(timeoutMs: number): Promise<void> {
    const previous = this.client;
    this.client = null;
    this.watchdog?.stop();
    if (previous !== null) await endClient(previous);
    if (this.closed) return;
    this.requestedMs = timeoutMs;
    this.openClient();
  }

  /**
   * Send one request. `issue` calls the client and hands its answer to `done`. Rejects with
   * the client's own error (the store translates it), or StoreUnavailableError when there is
   * no connection or no answer in time.
   */
  request<T>(
    operation: string,
    issue: (client: Client, done: (error: unknown, value: T) => void) => void,
  ): Promise<T> {
    if (this.closed) return Promise.reject(new StoreClosedError('zookeeper'));
    if (this.authFailure !== null) return Promise.reject(this.authFailure);
    const client = this.client;
    if (client === null || client.getState() !== zookeeper.State.SYNC_CONNECTED) {
      return Promise.reject(
        new StoreUnavailableError(`no connection to ZooKeeper at ${this.hosts} (reconnecting)`),
      );
    }
    const timeoutMs = this.timeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new StoreUnavailableError(
              `ZooKeeper at ${this.hosts} did not answer the ${operation} within ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      );
      timer.unref();
      const done = (error: unknown, value: T): void => {
        clearTimeout(timer);
        if (error) reject(error);
        else resolve(value);
      };
      try {
        issue(client, done);
      } catch (error) {
        clearTimeout(timer);
        reject(error);
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wakeWaiters();
    this.watchdog?.stop();
    const client = this.client;
    this.client = null;
    if (client !== null) await endClient(client);
  }

  private openClient(): void {
    const client = zookeeper.createClient(this.config.connectionString, {
      sessionTimeout: this.requestedMs,
      spinDelay: SPIN_DELAY_MS,
      retries: 0,
    });
    const { auth, tls } = this.config;
    if (tls !== null && !dialWithTls(client, tls)) {
      throw new Error('node-zookeeper-client changed: leasehold cannot give it TLS');
    }
    if (auth !== null) {
      client.addAuthInfo('digest', Buffer.from(`${auth.username}:${auth.password}`));
    }
    client.on('state', (state: State) => this.onState(client, state));
    this.client = client;
    this.grantedMs = null;
    this.epochCount += 1;
    // Like ZooKeeper's own client: two thirds of the session timeout without a word ends a
    // connection, and a handshake gets a third (it takes milliseconds when the server works).
    this.watchdog = new SilenceWatchdog(
      connectionInternals(client),
      () => Math.floor((this.timeoutMs * (this.connected ? 2 : 1)) / 3),
      Math.floor(this.requestedMs / 12),
    );
    client.connect();
    this.watchdog.start();
    this.emit('session');
  }

  private onState(client: Client, state: State): void {
    if (client !== this.client) return;
    if (state === zookeeper.State.SYNC_CONNECTED) {
      this.grantedMs = client.getSessionTimeout();
      this.wakeWaiters();
      this.emit('connected');
    } else if (state === zookeeper.State.EXPIRED) {
      // The client stays closed after an expiry: carry on with a new session.
      this.watchdog?.stop();
      disable(client);
      if (!this.closed) this.openClient();
    } else if (state === zookeeper.State.AUTH_FAILED) {
      this.authFailure = new StoreAuthError(
        `ZooKeeper at ${this.hosts} refused the authentication of ${
          this.config.auth === null ? 'this client' : `user "${this.config.auth.username}"`
        }`,
      );
      this.wakeWaiters();
    }
  }

  private wakeWaiters(): void {
    for (const wake of [...this.waiters]) wake();
  }
}

/**
 * Ask ZooKeeper to end the session (its ephemeral znodes go at once, rather than a session
 * timeout later), wait a moment for it, then make sure the client never connects again.
 */
async function endClient(client: Client): Promise<void> {
  if (client.getState() === zookeeper.State.SYNC_CONNECTED) {
    const ended = new Promise<void>((resolve) => client.once('disconnected', () => resolve()));
    client.close();
    await waitAtMost(ended, CLOSE_WAIT_MS);
  }
  disable(client);
}
