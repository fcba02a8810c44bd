import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * What one client may hold of the listener. Without these a silent connection stayed open
 * for ever and every slow socket, event stream and long-poll was kept (issue 25): a local
 * process, or a page the browser lets reach loopback, could exhaust the sidecar's sockets
 * and memory. docs/security.md lists them; the chaos bad-input scenario holds more than
 * each allows.
 */
export interface ListenerLimits {
  /**
   * A connection must have sent a whole request head this soon after it opened (a silent
   * one too, which node:http's own headersTimeout never closes), or after its previous
   * answer when it is kept alive.
   */
  readonly headersTimeoutMs: number;
  /** A kept-alive connection idle this long between requests is closed. */
  readonly keepAliveTimeoutMs: number;
  /** Open connections per bound address; beyond, new ones are closed at once. */
  readonly maxConnections: number;
  /** Open `GET /v1/events` streams; beyond, 503 LEASEHOLD_E_TOO_MANY_SUBSCRIBERS. */
  readonly maxEventStreams: number;
  /** Waiting `GET /v1/leader?wait=` long-polls; beyond, 503 LEASEHOLD_E_TOO_MANY_SUBSCRIBERS. */
  readonly maxLongPolls: number;
}

export const DEFAULT_LIMITS: ListenerLimits = {
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 1_024,
  maxEventStreams: 256,
  maxLongPolls: 256,
};

/** Seconds a client refused for a full subscriber cap is told to wait (Retry-After). */
export const RETRY_AFTER_SECONDS = 5;

/**
 * Apply the connection limits to a node:http (or https) server before it listens.
 * `connectionEvent` is the event that hands over the socket requests arrive on
 * (`secureConnection` for TLS).
 */
export function limitConnections(
  server: Server,
  limits: ListenerLimits,
  connectionEvent: 'connection' | 'secureConnection' = 'connection',
): void {
  server.headersTimeout = limits.headersTimeoutMs;
  // The whole request: ours have no body to wait for; long-polls and streams are answers.
  server.requestTimeout = limits.headersTimeoutMs * 2;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;
  // node:http checks headersTimeout every 30 s by default: a half request would outlive it.
  const checkEveryMs = Math.max(100, Math.min(2_000, Math.floor(limits.headersTimeoutMs / 4)));
  (server as Server & { connectionsCheckingInterval?: number }).connectionsCheckingInterval =
    checkEveryMs;
  // node:http starts headersTimeout at a request's first byte: a connection that sends
  // nothing would be kept for ever. Close it unless a request arrives in time.
  const waiting = new Map<Socket, NodeJS.Timeout>();
  server.on(connectionEvent, (socket: Socket) => {
    const timer = setTimeout(() => socket.destroy(), limits.headersTimeoutMs);
    timer.unref();
    waiting.set(socket, timer);
    socket.once('close', () => {
      clearTimeout(timer);
      waiting.delete(socket);
    });
  });
  server.prependListener('request', (request: { socket: Socket }) => {
    const timer = waiting.get(request.socket);
    if (timer === undefined) return;
    clearTimeout(timer);
    waiting.delete(request.socket);
  });
}
