import type { LeaseStore } from '@leasehold/core';
import { DEFAULT_NAMESPACE, type StoreOptions } from '../options.js';
import { RedisStore } from './store.js';
import { redisOptionsFromUrl } from './url.js';

/** `redis://`, `rediss://` (TLS), with ACL user/password, database and Sentinel. */
export async function createRedisStore(url: URL, options: StoreOptions = {}): Promise<LeaseStore> {
  return RedisStore.open(redisOptionsFromUrl(url, options), options.namespace ?? DEFAULT_NAMESPACE);
}
