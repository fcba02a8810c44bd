import { createRequire } from 'node:module';
import type * as NodeNet from 'node:net';
import { isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import zookeeper, { type Client } from 'node-zookeeper-client';

/**
 * The places where leasehold goes past node-zookeeper-client's public API, each for a defect
 * that would otherwise cost liveness or the process. The dependency is pinned (~1.1.3) and
 * `zookeeper.test.ts` checks that what is used here still exists.
 */

/**
 * The client's connection manager, which the library does not export: the socket of the
 * current connection, the function that opens the next one, and its connect timer.
 */
interface ConnectionInternals {
  socket?: Socket;
  connect: () => void;
  connectTimeoutHandler?: NodeJS.Timeout | null;
}

export function connectionInternals(client: Client): ConnectionInternals | null {
  const manager: unknown = (client as unknown as { connectionManager?: unknown }).connectionManager;
  return typeof manager === 'object' &&
    manager !== null &&
    'connect' in manager &&
    typeof manager.connect === 'function'
    ? (manager as ConnectionInternals)
    : null;
}

/**
 * Notices a server that stopped answering. The client pings an idle connection every third of
 * the session timeout but never checks that anything comes back, so a frozen or partitioned
 * server would hold the connection (and every call on it) forever
 * (alexguan/node-zookeeper-client#13, #16); and it stops timing a connection attempt once
 * TCP connects, so a server that accepts but never completes the session handshake (seen
 * while a restarted ZooKeeper starts up) holds it too. Destroying a socket that has been
 * silent for longer than `allowanceMs()` makes the client connect to the next server, in
 * time to keep the session.
 */
export class SilenceWatchdog {
  private timer: NodeJS.Timeout | null = null;
  private watched: Socket | null = null;
  private lastHeardAt = 0;
  private readonly heard = (): void => {
    this.lastHeardAt = performance.now();
  };

  constructor(
    private readonly internals: ConnectionInternals | null,
    /** How long the current connection may stay silent; asked at every check. */
    private readonly allowanceMs: () => number,
    private readonly checkEveryMs: number,
  ) {}

  start(): void {
    if (this.internals === null || this.timer !== null) return;
    this.timer = setInterval(() => this.check(), Math.max(20, this.checkEveryMs));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.watched?.removeListener('data', this.heard);
    this.watched = null;
  }

  private check(): void {
    const socket = this.internals?.socket;
    if (socket === undefined || socket.destroyed) return;
    if (socket !== this.watched) {
      // A new connection (attempt): it has the whole allowance from now.
      this.watched?.removeListener('data', this.heard);
      this.watched = socket;
      this.lastHeardAt = performance.now();
      socket.on('data', this.heard);
      return;
    }
    if (performance.now() - this.lastHeardAt > this.allowanceMs()) socket.destroy();
  }
}

/**
 * End a client for good, whatever state it is in. `close()` only queues a close-session
 * request, and a reconnect already scheduled (the client waits a moment between rounds of
 * servers) would open a new connection after it. Here the client can no longer connect, and
 * any socket it opens anyway is destroyed at once.
 */
export function disable(client: Client): void {
  const internals = connectionInternals(client);
  if (internals === null) return;
  internals.connect = () => {};
  if (internals.connectTimeoutHandler) clearTimeout(internals.connectTimeoutHandler);
  let current = internals.socket;
  current?.destroy();
  Object.defineProperty(internals, 'socket', {
    configurable: true,
    get: () => current,
    set: (socket: Socket) => {
      current = socket;
      socket.destroy();
    },
  });
}

/** ZooKeeper error codes newer than the client (3.5+), by name, for messages. */
const NEWER_CODES: Readonly<Record<number, string>> = {
  [-118]: 'SESSION_MOVED',
  [-119]: 'NOT_READ_ONLY',
  [-120]: 'EPHEMERAL_ON_LOCAL_SESSION',
  [-121]: 'NO_WATCHER',
  [-122]: 'REQUEST_TIMEOUT',
  [-123]: 'RECONFIG_DISABLED',
  [-124]: 'SESSION_CLOSED_REQUIRE_SASL_AUTH',
  [-125]: 'QUOTA_EXCEEDED',
  [-127]: 'THROTTLED_OP',
};

interface ExceptionModule {
  create: (code: number, path?: string) => Error & { code: number };
  SYSTEM_ERROR: number;
  leaseholdToleratesUnknownCodes?: true;
}

/**
 * The client turns every error code of an answer into an exception with `Exception.create`,
 * which throws for a code it does not know. ZooKeeper 3.5+ answers codes the client predates
 * (SESSION_MOVED after a client switched servers, THROTTLED_OP under load); the throw happens
 * in the socket's data handler and would end the process. Unknown codes get an exception of
 * their own instead, carrying the real code. Idempotent; applies to the one client module.
 */
export function tolerateUnknownCodes(): void {
  const exceptions = zookeeper.Exception as unknown as ExceptionModule;
  if (exceptions.leaseholdToleratesUnknownCodes) return;
  const create = exceptions.create.bind(exceptions);
  exceptions.create = (code, path) => {
    try {
      return create(code, path);
    } catch {
      const error = create(exceptions.SYSTEM_ERROR, path);
      const name = NEWER_CODES[code] ?? 'UNKNOWN';
      return Object.assign(error, {
        code,
        name,
        message: `Exception: ${name}[${code}]${path === undefined ? '' : `@${path}`}`,
      });
    }
  };
  exceptions.leaseholdToleratesUnknownCodes = true;
}

/** node:net as CommonJS code sees it (node-zookeeper-client's `require('net')`): writable. */
const net = createRequire(import.meta.url)('node:net') as typeof NodeNet;

/**
 * TLS to ZooKeeper's `secureClientPort`. node-zookeeper-client dials `net.connect(server)`
 * in a callback of its connection manager's `findNextServer`, with no option for another
 * socket: that callback is run, synchronously, with `net.connect` swapped for `tls.connect`
 * (server verified, name checked), and put back at once. A TLSSocket emits `connect` before
 * its handshake and holds what is written until the handshake is done, so the client's
 * session request goes out encrypted; its `data` is what was decrypted. False when the
 * client's internals are not there (then it must not be used: it would dial in clear).
 */
export function dialWithTls(
  client: Client,
  tls: Pick<ConnectionOptions, 'ca' | 'cert' | 'key'>,
): boolean {
  const manager: unknown = (client as unknown as { connectionManager?: unknown }).connectionManager;
  if (
    typeof manager !== 'object' ||
    manager === null ||
    !('findNextServer' in manager) ||
    typeof manager.findNextServer !== 'function'
  ) {
    return false;
  }
  const findNextServer = manager.findNextServer as (
    this: unknown,
    callback: (server: { host: string; port: number }) => void,
  ) => void;
  const withTls = (server: { host: string; port: number }): Socket =>
    tlsConnect({
      ...server,
      ...tls,
      ...(isIP(server.host) === 0 ? { servername: server.host } : {}),
    });
  (manager as { findNextServer: typeof findNextServer }).findNextServer = function (callback) {
    findNextServer.call(this, (server) => {
      const plain = net.connect;
      net.connect = withTls as typeof net.connect;
      try {
        callback(server);
      } finally {
        net.connect = plain;
      }
    });
  };
  return true;
}
