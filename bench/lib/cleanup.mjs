// What a run leaves in the shared stores under its own prefixes (lhpf_bench, lhpf-bench-*):
// term counters, member records and schemas that would otherwise stay behind (but for
// Redis's one incarnation key per namespace). A script with a namespace of its own
// (bench/shards.mjs) passes it, and cleans only that, not what a `pnpm bench` running beside
// it still uses.
import { Etcd3 } from 'etcd3';
import { Redis } from 'ioredis';
import pg from 'pg';

export async function cleanSharedStores(
  stores,
  { namespace = 'lhpf_bench', alternatives = ['lhpf-bench-redlock', 'lhpf-bench-etcd3'] } = {},
) {
  await Promise.allSettled([
    (async () => {
      const redis = new Redis(stores.redis, { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await redis.connect();
        for (const pattern of [namespace, ...alternatives].map((prefix) => `${prefix}:*`)) {
          // Not the namespace's incarnation: without it the next run's first acquire in a
          // new election would wait a TTL (docs/stores.md, Redis).
          const keys = (await redis.keys(pattern)).filter((key) => !key.endsWith(':incarnation'));
          if (keys.length > 0) await redis.del(...keys);
        }
      } finally {
        redis.disconnect();
      }
    })(),
    (async () => {
      const client = new pg.Client({ connectionString: stores.postgres });
      try {
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${namespace} CASCADE`);
      } finally {
        await client.end().catch(() => {});
      }
    })(),
    (async () => {
      const etcd = new Etcd3({ hosts: `http://${new URL(stores.etcd).host}` });
      try {
        for (const prefix of [namespace, ...alternatives]) await etcd.delete().prefix(`${prefix}/`);
      } finally {
        etcd.close();
      }
    })(),
  ]);
}
