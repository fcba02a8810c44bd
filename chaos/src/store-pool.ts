import { startLabStore, type Backend, type LabStore } from '@leasehold/testkit';
import type { Lab } from './lab.js';

/** The plain store of each backend: one server (or file) in the lab's store host. */
export type PlainStore = LabStore;

/**
 * One plain store per backend for the whole run, started when first needed: every
 * scenario's rounds use their own election names on it, and faults that restart it leave
 * it usable for the next. Topologies a scenario breaks for good (a failover, a cluster
 * member lost) are the scenario's own, made per round.
 */
export class StorePool {
  private readonly stores = new Map<Backend, Promise<PlainStore>>();

  constructor(private readonly lab: Lab) {}

  plain(backend: Backend): Promise<PlainStore> {
    let store = this.stores.get(backend);
    if (store === undefined) {
      store = this.open(backend);
      this.stores.set(backend, store);
    }
    return store;
  }

  async close(): Promise<void> {
    const opened = await Promise.allSettled(this.stores.values());
    this.stores.clear();
    await Promise.all(
      opened.map((result) => (result.status === 'fulfilled' ? result.value.close() : undefined)),
    );
  }

  private open(backend: Backend): Promise<PlainStore> {
    return startLabStore(this.lab, backend);
  }
}
