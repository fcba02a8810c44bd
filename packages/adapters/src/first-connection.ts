import { LeaseholdConfigError, StoreProtocolError, type LeaseholdError } from '@leasehold/core';
import { lookup } from 'node:dns/promises';
import { connect, isIP } from 'node:net';

/**
 * Why a store's first connection at start-up failed, when waiting cannot help: a host name
 * that DNS does not know, or a server of another kind at the address (`redis://host:5432`).
 * An adapter asks only after its first connection failed; a store that is merely down or
 * slow gets null, and the adapter starts and keeps retrying as usual.
 */

export type Backend = 'redis' | 'postgres' | 'etcd' | 'zookeeper';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** What answered at an address, as far as one probe can tell. */
type ServerKind = Backend | 'http';

const NAMES: Readonly<Record<ServerKind, string>> = {
  redis: 'a Redis server',
  postgres: 'a PostgreSQL server',
  etcd: 'an etcd server',
  zookeeper: 'a ZooKeeper server',
  http: 'an HTTP server',
};
const DEFAULT_PORTS: Readonly<Record<Backend, number>> = {
  redis: 6379,
  postgres: 5432,
  etcd: 2379,
  zookeeper: 2181,
};

/** How long one probe waits for an answer; a silent server is "unknown", not a mismatch. */
const PROBE_WAIT_MS = 1_000;

export async function diagnoseFirstConnection(
  expected: Backend,
  endpoints: readonly Endpoint[],
): Promise<LeaseholdError | null> {
  for (const { host } of endpoints) {
    if (await isUnknownToDns(host)) {
      return new LeaseholdConfigError(
        'store host',
        host,
        'a host name DNS can resolve; DNS has no address for this one (ENOTFOUND): check its spelling in the store URL',
      );
    }
  }
  for (const endpoint of endpoints) {
    const kind = await identifyServer(endpoint);
    if (kind !== null && kind !== expected) {
      const where = `${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
      return new StoreProtocolError(
        `protocol mismatch: ${where} is ${NAMES[kind]}, not ${NAMES[expected]}; check the scheme and port of the store URL (the usual port is ${DEFAULT_PORTS[expected]})`,
      );
    }
  }
  return null;
}

/**
 * For the message of a failed call: a host name lookup that failed is DNS trouble, which
 * `getaddrinfo ENOTFOUND` does not say to everyone. Empty for any other error.
 */
export function dnsHint(error: unknown): string {
  const { code, hostname } = (error ?? {}) as { code?: unknown; hostname?: unknown };
  const host = typeof hostname === 'string' ? ` "${hostname}"` : '';
  if (code === 'ENOTFOUND') return ` (DNS: no address for the host name${host})`;
  if (code === 'EAI_AGAIN')
    return ` (DNS: the lookup of${host || ' the host name'} failed for now)`;
  return '';
}

/** Only a definite "no such name": a DNS server that does not answer may answer later. */
async function isUnknownToDns(host: string): Promise<boolean> {
  if (isIP(host.replace(/^\[|\]$/g, '')) !== 0) return false;
  try {
    await lookup(host);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOTFOUND';
  }
}

/**
 * `GET /version` tells the three apart: Redis answers it as a command (`-ERR …`), etcd as
 * HTTP naming itself, and PostgreSQL hangs up, reading a startup packet of absurd length.
 * A server that hangs up is then sent PostgreSQL's SSLRequest, which PostgreSQL answers
 * with one byte. ZooKeeper hangs up on the first and waits for the rest of what it takes for a
 * packet of the second; it answers a four-letter word (`srvr`) with text, or with a line
 * saying that word is not on its whitelist.
 */
async function identifyServer(endpoint: Endpoint): Promise<ServerKind | null> {
  const answer = await exchange(endpoint, Buffer.from('GET /version HTTP/1.0\r\n\r\n'));
  if (answer === null) return null;
  const text = answer.toString('latin1');
  if (/^[-+$*:]/.test(text)) return 'redis';
  if (text.startsWith('HTTP/')) return text.includes('"etcdserver"') ? 'etcd' : 'http';
  if (answer.length > 0) return null;
  const sslRequest = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
  const reply = await exchange(endpoint, sslRequest);
  if (reply !== null && /^[NSE]/.test(reply.toString('latin1'))) return 'postgres';
  const fourLetterWord = await exchange(endpoint, Buffer.from('srvr'));
  return fourLetterWord !== null &&
    /zookeeper|not in the whitelist/i.test(fourLetterWord.toString('latin1'))
    ? 'zookeeper'
    : null;
}

/**
 * Send `request` and collect the answer until the server hangs up or PROBE_WAIT_MS passes.
 * Null when no connection could be made or the server said nothing and kept the line open.
 */
function exchange(endpoint: Endpoint, request: Buffer): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host: endpoint.host, port: endpoint.port });
    const done = (answer: Buffer | null): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(
      () => done(chunks.length === 0 ? null : Buffer.concat(chunks)),
      PROBE_WAIT_MS,
    );
    let connected = false;
    socket.once('connect', () => {
      connected = true;
      socket.write(request);
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      // A Redis reply is complete at its first line; Redis then keeps the line open.
      if (/^[-+$*:][^\n]*\r\n/.test(Buffer.concat(chunks).toString('latin1'))) {
        done(Buffer.concat(chunks));
      }
    });
    // A reset after connecting is a hang-up too; before, there was no one to ask.
    socket.once('error', () => done(connected ? Buffer.concat(chunks) : null));
    socket.once('close', () => done(Buffer.concat(chunks)));
  });
}
