import type { LeaseStore } from '@leasehold/core';
import type { StoreOptions } from '../options.js';
import { maskedHref } from '../store-url.js';
import { preparePrivateFiles } from './private-files.js';
import { SqliteStore } from './store.js';
import { parseSqliteUrl } from './url.js';

export { DEFAULT_SQLITE_PATH } from './url.js';

/**
 * A `sqlite://` store (./url.ts reads the URL) in a private directory (private-files.ts),
 * created when missing. The store opens its file in its constructor: a local file, with
 * nothing to wait for.
 */
export async function createSqliteStore(url: URL, options: StoreOptions = {}): Promise<LeaseStore> {
  const config = parseSqliteUrl(url, options);
  preparePrivateFiles(config.path, maskedHref(url));
  return new SqliteStore(config);
}
