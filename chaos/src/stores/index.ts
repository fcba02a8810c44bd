import type { Lab } from '../lab.js';
import { EtcdCluster } from './etcd.js';
import { PgBouncerFront } from './pgbouncer.js';
import { PostgresServer } from './postgres.js';
import { RedisServer } from './redis.js';
import { RedisClusterSet } from './redis-cluster.js';
import type { Backend } from './server.js';
import { SqliteFile } from './sqlite.js';
import { ZooKeeperEnsemble } from './zookeeper.js';

export type { Backend, RestartableStore, StoreFixture } from './server.js';
export { BACKENDS } from './server.js';
export {
  EtcdCluster,
  PgBouncerFront,
  PostgresServer,
  RedisClusterSet,
  RedisServer,
  SqliteFile,
  ZooKeeperEnsemble,
};

/** The plain store of each backend: one server (or file) in the lab's store host. */
export type PlainStore =
  | RedisServer
  | RedisClusterSet
  | PostgresServer
  | PgBouncerFront
  | EtcdCluster
  | ZooKeeperEnsemble
  | SqliteFile;

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

  private async open(backend: Backend): Promise<PlainStore> {
    const { store, storeAddress } = this.lab;
    switch (backend) {
      case 'redis':
        // Persistent, so that "restarted" keeps its data; the empty restart wipes it.
        return RedisServer.start({ host: store, address: storeAddress, persistent: true });
      case 'redis-cluster':
        return RedisClusterSet.start(store, storeAddress);
      case 'postgres':
        return PostgresServer.start({ wrap: store.wrap, address: storeAddress, open: true });
      case 'pgbouncer':
        return PgBouncerFront.start({ wrap: store.wrap, address: storeAddress, open: true });
      case 'etcd':
        return EtcdCluster.start([
          { name: 'm1', host: store, clientAddress: storeAddress, peerAddress: '127.0.0.1' },
        ]);
      case 'zookeeper':
        return ZooKeeperEnsemble.start([
          { host: store, clientAddress: storeAddress, peerAddress: storeAddress },
        ]);
      case 'sqlite':
        return new SqliteFile();
    }
  }
}
