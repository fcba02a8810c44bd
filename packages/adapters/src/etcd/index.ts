import { UnsupportedStoreError, type LeaseStore } from '@leasehold/core';
import type { StoreOptions } from '../options.js';

export async function createEtcdStore(url: URL, _options: StoreOptions = {}): Promise<LeaseStore> {
  throw new UnsupportedStoreError(
    `${url.protocol.replace(/:$/, '')} (the etcd adapter is not built yet)`,
    [],
  );
}
