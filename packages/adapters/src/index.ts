import { LeaseholdConfigError, UnsupportedStoreError, type LeaseStore } from '@leasehold/core';

/**
 * Store URL schemes leasehold knows, and the adapter that serves each. Adapters register
 * here as they land (DESIGN §2); until then a known scheme says plainly that its adapter is
 * not built yet, and an unknown one lists what is supported.
 */
export const SUPPORTED_SCHEMES = [
  'redis',
  'rediss',
  'postgres',
  'postgresql',
  'etcd',
  'etcds',
  'sqlite',
] as const;

export type StoreScheme = (typeof SUPPORTED_SCHEMES)[number];

type StoreFactory = (url: URL) => Promise<LeaseStore>;

const factories: Partial<Record<StoreScheme, StoreFactory>> = {};

/** Open the store a URL names, e.g. `redis://127.0.0.1:6379/0`. */
export async function createStore(url: string): Promise<LeaseStore> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new LeaseholdConfigError(
      'store',
      maskUrl(url),
      `expected a URL such as redis://host:6379, postgres://user@host/db, etcd://host:2379 or sqlite://path`,
      { cause },
    );
  }
  const scheme = parsed.protocol.replace(/:$/, '');
  if (!isSupported(scheme))
    throw new UnsupportedStoreError(
      scheme,
      SUPPORTED_SCHEMES.map((s) => `${s}://`),
    );
  const factory = factories[scheme];
  if (factory === undefined) {
    throw new UnsupportedStoreError(
      `${scheme} (adapter not built yet)`,
      SUPPORTED_SCHEMES.filter((s) => factories[s] !== undefined).map((s) => `${s}://`),
    );
  }
  return factory(parsed);
}

function isSupported(scheme: string): scheme is StoreScheme {
  return (SUPPORTED_SCHEMES as readonly string[]).includes(scheme);
}

/** The URL with any password replaced by `***`, safe for logs and error messages. */
export function maskUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@]*:)[^@/?#]*@/i, '$1***@');
}
