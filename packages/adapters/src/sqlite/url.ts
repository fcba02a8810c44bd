import { LeaseholdConfigError } from '@leasehold/core';
import { DEFAULT_NAMESPACE, type StoreOptions } from '../options.js';
import type { SqliteStoreOptions } from './store.js';
import { isSecretName } from '../mask.js';
import { maskedHref } from '../store-url.js';

export const DEFAULT_SQLITE_PATH = '.leasehold/leasehold.db';

const NAMESPACE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * `sqlite://relative/path.db` or `sqlite:///absolute/path.db`, with optional
 * `?busyTimeout=ms&watchInterval=ms`. The directory is created when missing, private
 * (private-files.ts).
 */
export function parseSqliteUrl(url: URL, options: StoreOptions = {}): SqliteStoreOptions {
  const path = decodeURIComponent(`${url.host}${url.pathname}`);
  if (path === '' || path === '/') {
    throw new LeaseholdConfigError(
      'store',
      maskedHref(url),
      'a sqlite:// URL needs a file path, e.g. sqlite://.leasehold/leasehold.db or sqlite:///var/lib/leasehold.db',
    );
  }
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  if (!NAMESPACE.test(namespace)) {
    throw new LeaseholdConfigError(
      'namespace',
      namespace,
      'use letters, digits and _ (starting with a letter or _), at most 63 characters',
    );
  }
  for (const key of url.searchParams.keys()) {
    if (key !== 'busyTimeout' && key !== 'watchInterval') {
      throw new LeaseholdConfigError(
        `store parameter ${key}`,
        isSecretName(key) ? '***' : url.searchParams.get(key),
        'sqlite:// accepts busyTimeout and watchInterval (milliseconds)',
      );
    }
  }
  return {
    path,
    namespace,
    busyTimeoutMs: millisecondsParam(url, 'busyTimeout', 1_000),
    watchIntervalMs: millisecondsParam(url, 'watchInterval', 1_000),
  };
}

function millisecondsParam(url: URL, name: string, fallback: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1 || value > 60_000) {
    throw new LeaseholdConfigError(
      `store parameter ${name}`,
      raw,
      'must be a whole number of milliseconds from 1 to 60000',
    );
  }
  return value;
}
