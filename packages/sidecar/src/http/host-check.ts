import { isIP } from 'node:net';

/**
 * DNS rebinding: a web page on attacker.example re-points its own name at 127.0.0.1, and
 * the browser lets it read what answers there, sending `Host: attacker.example`. A sidecar
 * bound to loopback is meant for this host's processes only, which name it by a loopback
 * name; any other Host is refused (421 LEASEHOLD_E_HOST_NOT_ALLOWED) before any route, the
 * node:http fast path and the Fastify routes alike (http/listener.ts).
 */

/** Whether an address to bind (`--host`) is loopback: only this host can connect. */
export function isLoopbackAddress(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare.toLowerCase() === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1' || bare === '0:0:0:0:0:0:0:1';
}

/**
 * Whether a request's Host header names this host by a loopback name: `localhost`,
 * `127.x.x.x` or `[::1]`, each with or without a port. A request without Host (HTTP/1.0;
 * node:http refuses HTTP/1.1 without one) cannot come from a browser and passes.
 */
export function isLoopbackHostHeader(header: string | undefined): boolean {
  if (header === undefined) return true;
  // A client sends the same Host on every request: the last one allowed is remembered.
  if (header === lastAllowed) return true;
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::\d{1,5})?$/.exec(header.trim());
  const name = match?.[1];
  const allowed = name !== undefined && isLoopbackAddress(name);
  if (allowed) lastAllowed = header;
  return allowed;
}
let lastAllowed: string | undefined;
