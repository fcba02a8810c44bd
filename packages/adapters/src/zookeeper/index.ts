import type { LeaseStore } from '@leasehold/core';
import { started } from '../lifecycle.js';
import type { StoreOptions } from '../options.js';
import { ZooKeeperStore } from './store.js';
import { parseZooKeeperUrl } from './url.js';

/**
 * `zk://[user:password@]host[:port][,host[:port]…][/chroot]`. Fails with a fatal error when
 * ZooKeeper refuses the credentials or grants a shorter session timeout than `options.ttlMs`;
 * a ZooKeeper that cannot be reached yet is not an error here.
 */
export async function createZooKeeperStore(
  url: URL,
  options: StoreOptions = {},
): Promise<LeaseStore> {
  return started(new ZooKeeperStore(parseZooKeeperUrl(url, options), options.ttlMs !== undefined));
}
