import { LeaseholdConfigError } from '@leasehold/core';
import type { RedisOptions } from 'ioredis';
import type { StoreOptions } from '../options.js';
import { isSecretName } from '../mask.js';

/**
 * `redis://[user[:password]@]host[:port][/db]`, `rediss://` for TLS, and Sentinel with
 * `?sentinels=host:port,host:port&sentinelMaster=name` (plus optional `sentinelUsername`,
 * `sentinelPassword`), and Redis Cluster with `?cluster=true` (plus optional seed nodes
 * `clusterNodes=host:port,host:port`; see cluster.ts). Everything else in the query is
 * refused, so a typo is not ignored.
 */
const QUERY_PARAMS = new Set([
  'sentinels',
  'sentinelMaster',
  'sentinelUsername',
  'sentinelPassword',
  'cluster',
  'clusterNodes',
]);

export function redisOptionsFromUrl(url: URL, options: StoreOptions): RedisOptions {
  for (const key of url.searchParams.keys()) {
    if (!QUERY_PARAMS.has(key)) {
      throw new LeaseholdConfigError(
        `store parameter ${key}`,
        isSecretName(key) ? '***' : url.searchParams.get(key),
        `redis:// accepts ${[...QUERY_PARAMS].join(', ')}`,
      );
    }
  }
  const db = url.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d{1,2}$/.test(db)) {
    throw new LeaseholdConfigError(
      'store database',
      db,
      'use a database number such as /0 (or none)',
    );
  }
  const port = url.port === '' ? 6379 : Number(url.port);
  const credentials: RedisOptions = {
    ...(url.username === '' ? {} : { username: decodeURIComponent(url.username) }),
    ...(url.password === '' ? {} : { password: decodeURIComponent(url.password) }),
    db: db === '' ? 0 : Number(db),
  };
  const tls =
    url.protocol === 'rediss:'
      ? {
          tls: {
            ...(options.tls?.ca === undefined ? {} : { ca: options.tls.ca }),
            ...(options.tls?.cert === undefined ? {} : { cert: options.tls.cert }),
            ...(options.tls?.key === undefined ? {} : { key: options.tls.key }),
          },
        }
      : {};

  const sentinels = url.searchParams.get('sentinels');
  const sentinelMaster = url.searchParams.get('sentinelMaster');
  if ((sentinels === null) !== (sentinelMaster === null)) {
    throw new LeaseholdConfigError(
      'store parameter sentinels',
      sentinels ?? sentinelMaster,
      'Sentinel needs both sentinels=host:port[,host:port] and sentinelMaster=<name>',
    );
  }
  if (sentinels !== null && sentinelMaster !== null) {
    const sentinelUsername = url.searchParams.get('sentinelUsername');
    const sentinelPassword = url.searchParams.get('sentinelPassword');
    return {
      ...credentials,
      ...tls,
      name: sentinelMaster,
      sentinels: sentinels.split(',').map(parseHostPort),
      ...(sentinelUsername === null ? {} : { sentinelUsername }),
      ...(sentinelPassword === null ? {} : { sentinelPassword }),
      ...(url.protocol === 'rediss:' ? { enableTLSForSentinelMode: true } : {}),
    };
  }
  return { ...credentials, ...tls, host: url.hostname || '127.0.0.1', port };
}

function parseHostPort(entry: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(entry.trim());
  if (match?.[1] === undefined || match[2] === undefined) {
    throw new LeaseholdConfigError(
      'store parameter sentinels',
      entry,
      'use host:port pairs separated by commas',
    );
  }
  return { host: match[1], port: Number(match[2]) };
}
