import type { LabHost } from '../netlab.js';
import { EtcdCluster } from './etcd.js';
import { PgBouncerFront } from './pgbouncer.js';
import { PostgresServer } from './postgres.js';
import { RedisClusterSet } from './redis-cluster.js';
import { RedisServer } from './redis.js';
import type { Backend } from './server.js';
import { SqliteFile } from './sqlite.js';
import { ZooKeeperEnsemble } from './zookeeper.js';

/** The plain store of each backend: one server (or file) in a lab's store host. */
export type LabStore =
  | RedisServer
  | RedisClusterSet
  | PostgresServer
  | PgBouncerFront
  | EtcdCluster
  | ZooKeeperEnsemble
  | SqliteFile;

/** A lab's store host and the address every candidate reaches it at (a `NetLab` is one). */
export interface StoreHostPlace {
  readonly store: LabHost;
  readonly storeAddress: string;
}

export interface LabStoreOptions {
  /**
   * Redis keeps every acknowledged write on disk (AOF, fsync always), so a restart keeps its
   * data (the chaos suite's "restarted"; its empty restart wipes it). Default true.
   */
  readonly persistentRedis?: boolean;
}

/** Start the plain store of `backend` in the lab's store host; resolves once it answers. */
export async function startLabStore(
  { store, storeAddress }: StoreHostPlace,
  backend: Backend,
  { persistentRedis = true }: LabStoreOptions = {},
): Promise<LabStore> {
  switch (backend) {
    case 'redis':
      return RedisServer.start({ host: store, address: storeAddress, persistent: persistentRedis });
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
