import type { LeaseStore } from '@leasehold/core';
import { started } from '../lifecycle.js';
import type { StoreOptions } from '../options.js';
import { createEtcdClient } from './client.js';
import { HostQuarantine } from './host-quarantine.js';
import { EtcdStore } from './store.js';
import { parseEtcdUrl } from './url.js';

/**
 * `etcd://[user:password@]host:port[,host:port…][?timeout=ms]`, or `etcds://…` for TLS with
 * `options.tls` (CA, client certificate and key as PEM). Fails with a fatal error when etcd
 * refuses the credentials; an etcd that cannot be reached yet is not an error here.
 */
export async function createEtcdStore(url: URL, options: StoreOptions = {}): Promise<LeaseStore> {
  const config = parseEtcdUrl(url, options);
  const quarantine = new HostQuarantine(config.endpoints);
  return started(new EtcdStore(createEtcdClient(config, quarantine), config, quarantine));
}
