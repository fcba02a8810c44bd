// The shared test stores (scripts/services.sh) as the benchmarks address them. SQLite is a
// file in `sqliteDir`, a directory of the caller's own, mode 700 (mkdtemp): the adapter
// refuses a file others could write.

/** @returns {{ redis: string, postgres: string, etcd: string, zookeeper: string, sqlite: string }} */
export function benchStores(sqliteDir, sqliteFile = 'bench.db') {
  return {
    redis: 'redis://127.0.0.1:6379',
    postgres: 'postgres://postgres@127.0.0.1:5432/test',
    etcd: 'etcd://127.0.0.1:2379',
    zookeeper: 'zk://127.0.0.1:2181',
    sqlite: `sqlite://${sqliteDir}/${sqliteFile}`,
  };
}
