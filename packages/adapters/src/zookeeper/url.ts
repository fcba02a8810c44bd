import { LeaseholdConfigError } from '@leasehold/core';
import { DEFAULT_NAMESPACE, type StoreOptions } from '../options.js';
import { maskedHref, parseHostList, parsePasswordAuth, type UrlLabel } from '../store-url.js';

/**
 * `zk://[user:password@]host[:port][,host[:port]…][/chroot]`.
 *
 * This module reads the URL only; it loads no client, so `createStore` could use it eagerly.
 */

export const DEFAULT_ZOOKEEPER_PORT = 2181;
/** The elector's default TTL: the session timeout asked for when nothing says otherwise. */
export const DEFAULT_SESSION_TIMEOUT_MS = 10_000;

export interface ZooKeeperConfig {
  /** `host:port,host:port` for node-zookeeper-client, without the chroot (see `chroot`). */
  readonly connectionString: string;
  /**
   * `''` or `/a/b`. The adapter puts it in front of every path itself rather than handing it
   * to the client, so that it can create the chroot's znodes when they are missing (a
   * chrooted client cannot reach above its root).
   */
  readonly chroot: string;
  /** Digest credentials; the znodes leasehold creates are then readable by this user only. */
  readonly auth: { readonly username: string; readonly password: string } | null;
  /** Every znode leasehold writes lives under `<chroot>/<namespace>/`. */
  readonly namespace: string;
  /** The session timeout to ask for; ZooKeeper may grant another within its bounds. */
  readonly sessionTimeoutMs: number;
  /**
   * TLS to the servers' `secureClientPort` (client-internals.ts `dialWithTls`), when any TLS
   * material is given: the server is verified against `ca` (the system CAs without one).
   */
  readonly tls: NonNullable<StoreOptions['tls']> | null;
}

const LABEL: UrlLabel = { name: 'ZooKeeper', example: 'zk://127.0.0.1:2181' };
const ACCEPTED_URL =
  'expected zk://host:port[,host:port…][/chroot], optionally with user:password@ (digest authentication)';
const SEGMENT = '[A-Za-z0-9_.-]+';
const CHROOT = new RegExp(`^(/${SEGMENT})+$`);
const NAMESPACE = new RegExp(`^${SEGMENT}(/${SEGMENT})*$`);

export function parseZooKeeperUrl(url: URL, options: StoreOptions = {}): ZooKeeperConfig {
  if (url.protocol !== 'zk:' || url.hash !== '') {
    throw new LeaseholdConfigError('store', maskedHref(url), ACCEPTED_URL);
  }
  const [parameter] = url.searchParams;
  if (parameter !== undefined) {
    throw new LeaseholdConfigError(
      `store parameter ${parameter[0]}`,
      parameter[1],
      'zk:// takes no parameters: the session timeout follows the TTL',
    );
  }
  const hosts = parseHostList(url, DEFAULT_ZOOKEEPER_PORT, LABEL, { ipv6: false });
  const chroot = parseChroot(url.pathname);
  const namespace = parseNamespace(options.namespace ?? DEFAULT_NAMESPACE, chroot);
  return {
    connectionString: hosts.map(({ host, port }) => `${host}:${port}`).join(','),
    chroot,
    auth: parsePasswordAuth(url, LABEL),
    namespace,
    sessionTimeoutMs: parseTtl(options.ttlMs),
    tls: tlsOf(options),
  };
}

/** TLS when any TLS material is given (`--store-ca` / `--store-cert` / `--store-key`). */
function tlsOf(options: StoreOptions): ZooKeeperConfig['tls'] {
  const tls = options.tls ?? {};
  return tls.ca === undefined && tls.cert === undefined && tls.key === undefined ? null : tls;
}

function parseChroot(pathname: string): string {
  if (pathname === '' || pathname === '/') return '';
  const chroot = pathname.replace(/\/$/, '');
  if (!CHROOT.test(chroot) || hasRelativeSegment(chroot) || /^\/zookeeper(\/|$)/.test(chroot)) {
    throw new LeaseholdConfigError(
      'store chroot',
      pathname,
      'expected /name[/name…] with A-Z a-z 0-9 _ . - (no . or .. segments, not under /zookeeper, which ZooKeeper reserves)',
    );
  }
  return chroot;
}

function parseNamespace(namespace: string, chroot: string): string {
  if (
    !NAMESPACE.test(namespace) ||
    namespace.length > 128 ||
    hasRelativeSegment(`/${namespace}`) ||
    (chroot === '' && /^zookeeper(\/|$)/.test(namespace))
  ) {
    throw new LeaseholdConfigError(
      'namespace',
      namespace,
      'use up to 128 characters from A-Z a-z 0-9 _ . - in /-separated segments (no . or .. segments; "zookeeper" is reserved at the root)',
    );
  }
  return namespace;
}

function parseTtl(ttlMs: number | undefined): number {
  if (ttlMs === undefined) return DEFAULT_SESSION_TIMEOUT_MS;
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) {
    throw new LeaseholdConfigError('ttl', ttlMs, 'must be a whole number of milliseconds');
  }
  return ttlMs;
}

function hasRelativeSegment(path: string): boolean {
  return /\/\.\.?(\/|$)/.test(path);
}
