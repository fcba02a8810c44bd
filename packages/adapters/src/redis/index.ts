import type { LeaseStore } from '@leasehold/core';
import type { Redis } from 'ioredis';
import { started } from '../lifecycle.js';
import { DEFAULT_NAMESPACE, requestTimeout, type StoreOptions } from '../options.js';
import { COMMAND_TIMEOUT_MS, RedisStore } from './store.js';
import { redisOptionsFromUrl } from './url.js';
import { clusterSeedsFromUrl } from './cluster.js';

/** `redis://`, `rediss://` (TLS), with ACL user/password, database, Sentinel and Cluster. */
export async function createRedisStore(url: URL, options: StoreOptions = {}): Promise<LeaseStore> {
  return started(
    new RedisStore(
      redisOptionsFromUrl(url, options),
      options.namespace ?? DEFAULT_NAMESPACE,
      requestTimeout(options, COMMAND_TIMEOUT_MS),
      clusterSeedsFromUrl(url),
    ),
  );
}

/**
 * A store that connects the way an ioredis client of yours does (host, credentials, TLS,
 * Sentinel, database), on connections of its own: leasehold's safety settings (no offline
 * queue, no retried commands, a command timeout) must not change how your client behaves,
 * and yours must not change how elections behave. Your client is neither used nor closed.
 */
export function createRedisStoreFromClient(
  client: Redis,
  options: Pick<StoreOptions, 'namespace' | 'requestTimeoutMs'> = {},
): Promise<LeaseStore> {
  return started(
    new RedisStore(
      { ...client.options },
      options.namespace ?? DEFAULT_NAMESPACE,
      requestTimeout(options, COMMAND_TIMEOUT_MS),
    ),
  );
}
