import type { LeaseStore } from '@leasehold/core';
import { started } from '../lifecycle.js';
import type { StoreOptions } from '../options.js';
import { PostgresStore } from './store.js';
import { parsePostgresUrl } from './url.js';

/** A `postgres://` store (./url.ts reads the URL), connected and checked (`start()`). */
export async function createPostgresStore(
  url: URL,
  options: StoreOptions = {},
): Promise<LeaseStore> {
  return started(new PostgresStore(parsePostgresUrl(url, options)));
}
