import {
  DriverMissingError,
  LeaseholdConfigError,
  UnsupportedStoreError,
  type LeaseStore,
} from '@leasehold/core';
import { maskUrl } from './mask.js';
import type { StoreOptions } from './options.js';
import { normalizeHostListUrl } from './store-url.js';

export { DEFAULT_NAMESPACE, PORTABLE_NAMESPACE, type StoreOptions } from './options.js';
export { isSecretName, maskUrl, urlSecrets } from './mask.js';

type StoreFactory = (url: URL, options: StoreOptions) => Promise<LeaseStore>;

/**
 * Store URL schemes and the adapter serving each. Adapters load lazily, so a Redis user
 * never loads the gRPC stack etcd needs, and only the driver a URL needs must be installed
 * (they are optional peer dependencies).
 */
const redis: StoreFactory = async (url, options) =>
  (await load(url, 'ioredis', () => import('./redis/index.js'))).createRedisStore(url, options);
const postgres: StoreFactory = async (url, options) =>
  (await load(url, 'pg', () => import('./postgres/index.js'))).createPostgresStore(url, options);
const etcd: StoreFactory = async (url, options) =>
  (await load(url, 'etcd3', () => import('./etcd/index.js'))).createEtcdStore(url, options);
const zookeeper: StoreFactory = async (url, options) =>
  (
    await load(url, 'node-zookeeper-client', () => import('./zookeeper/index.js'))
  ).createZooKeeperStore(url, options);
const sqlite: StoreFactory = async (url, options) =>
  (await load(url, 'better-sqlite3', () => import('./sqlite/index.js'))).createSqliteStore(
    url,
    options,
  );

const factories = {
  redis,
  rediss: redis,
  postgres,
  postgresql: postgres,
  etcd,
  etcds: etcd,
  sqlite,
  zk: zookeeper,
} satisfies Record<string, StoreFactory>;

/** Import an adapter; a missing driver becomes one line naming the package to install. */
async function load<M>(url: URL, driver: string, importer: () => Promise<M>): Promise<M> {
  try {
    return await importer();
  } catch (error) {
    const missing =
      (error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' &&
      String((error as Error).message).includes(`'${driver}'`);
    if (missing)
      throw new DriverMissingError(url.protocol.replace(/:$/, ''), driver, { cause: error });
    throw error;
  }
}

export type StoreScheme = keyof typeof factories;

export const SUPPORTED_SCHEMES = Object.keys(factories) as StoreScheme[];

/**
 * Open the store a URL names: `redis://`, `rediss://`, `postgres://`, `etcd://`, `etcds://`,
 * `sqlite://` or `zk://`. An unknown scheme gets an error listing the supported ones.
 */
export async function createStore(url: string, options: StoreOptions = {}): Promise<LeaseStore> {
  let parsed: URL;
  try {
    // etcd://h1:2379,h2:2379 and zk://h1:2181,h2:2181 are not WHATWG URLs until their host
    // lists are encoded.
    parsed = new URL(normalizeHostListUrl(url));
  } catch (cause) {
    throw new LeaseholdConfigError(
      'store',
      maskUrl(url),
      'expected a URL such as redis://host:6379, postgres://user@host/db, etcd://host:2379, zk://host:2181 or sqlite://path',
      { cause },
    );
  }
  refuseMisreadCredentials(url, parsed);
  const scheme = parsed.protocol.replace(/:$/, '');
  if (!isSupported(scheme)) {
    throw new UnsupportedStoreError(
      scheme,
      SUPPORTED_SCHEMES.map((s) => `${s}://`),
    );
  }
  return factories[scheme](parsed, options);
}

/**
 * A raw `/`, `?` or `#` in a password ends the URL's authority early, so the rest of the
 * password becomes its path, query or fragment, and whatever an adapter then says about
 * those would quote it. Such a URL leaves an `@` (the one that ended the credentials)
 * behind the host, where no valid store URL has one: refused, masked, before any adapter.
 */
function refuseMisreadCredentials(raw: string, url: URL): void {
  if (url.protocol === 'sqlite:') return; // a file path: no credentials, and `@` is allowed
  // No `@` at all: no credentials to misread; the adapter names what is wrong (a fragment…).
  if (!raw.includes('@')) return;
  if (!`${url.pathname}${url.search}${url.hash}`.includes('@') && url.hash === '') return;
  throw new LeaseholdConfigError(
    'store',
    maskUrl(raw),
    'a URL with its user name and password percent-encoded: a raw / ? or # in a password ends it early (write %2F %3F %23), as does a raw @ in a query value (write %40)',
  );
}

function isSupported(scheme: string): scheme is StoreScheme {
  return Object.hasOwn(factories, scheme);
}
