import { UnsupportedStoreError, type LeaseStore } from '@leasehold/core';
import type { StoreOptions } from '../options.js';

export async function createSqliteStore(
  url: URL,
  _options: StoreOptions = {},
): Promise<LeaseStore> {
  throw new UnsupportedStoreError(
    `${url.protocol.replace(/:$/, '')} (the sqlite adapter is not built yet)`,
    [],
  );
}
