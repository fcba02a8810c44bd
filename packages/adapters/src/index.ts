import { LeaseholdConfigError, UnsupportedStoreError, type LeaseStore } from '@leasehold/core';
import { normalizeEtcdUrl } from './etcd/url.js';
import { maskUrl } from './mask.js';
import type { StoreOptions } from './options.js';

export { DEFAULT_NAMESPACE, type StoreOptions } from './options.js';
export { isSecretName, maskUrl } from './mask.js';

type StoreFactory = (url: URL, options: StoreOptions) => Promise<LeaseStore>;

/**
 * Store URL schemes and the adapter serving each. Adapters load lazily, so a Redis user
 * never loads the gRPC stack etcd needs.
 */
const factories = {
  redis: (url, options) => import('./redis/index.js').then((m) => m.createRedisStore(url, options)),
  rediss: (url, options) =>
    import('./redis/index.js').then((m) => m.createRedisStore(url, options)),
  postgres: (url, options) =>
    import('./postgres/index.js').then((m) => m.createPostgresStore(url, options)),
  postgresql: (url, options) =>
    import('./postgres/index.js').then((m) => m.createPostgresStore(url, options)),
  etcd: (url, options) => import('./etcd/index.js').then((m) => m.createEtcdStore(url, options)),
  etcds: (url, options) => import('./etcd/index.js').then((m) => m.createEtcdStore(url, options)),
  sqlite: (url, options) =>
    import('./sqlite/index.js').then((m) => m.createSqliteStore(url, options)),
} satisfies Record<string, StoreFactory>;

export type StoreScheme = keyof typeof factories;

export const SUPPORTED_SCHEMES = Object.keys(factories) as StoreScheme[];

/**
 * Open the store a URL names: `redis://`, `rediss://`, `postgres://`, `etcd://`, `etcds://`
 * or `sqlite://`. An unknown scheme gets an error listing the supported ones.
 */
export async function createStore(url: string, options: StoreOptions = {}): Promise<LeaseStore> {
  let parsed: URL;
  try {
    // etcd://h1:2379,h2:2379 is not a WHATWG URL until its host list is encoded.
    parsed = new URL(normalizeEtcdUrl(url));
  } catch (cause) {
    throw new LeaseholdConfigError(
      'store',
      maskUrl(url),
      'expected a URL such as redis://host:6379, postgres://user@host/db, etcd://host:2379 or sqlite://path',
      { cause },
    );
  }
  const scheme = parsed.protocol.replace(/:$/, '');
  if (!isSupported(scheme)) {
    throw new UnsupportedStoreError(
      scheme,
      SUPPORTED_SCHEMES.map((s) => `${s}://`),
    );
  }
  return factories[scheme](parsed, options);
}

function isSupported(scheme: string): scheme is StoreScheme {
  return Object.hasOwn(factories, scheme);
}
