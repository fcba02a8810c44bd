// How fast a transfer (docs/design.md §3.6) moves leadership, per store: three electors
// (TTL 3 s, retry interval 1 s, as `pnpm bench`), and each round the leader transfers to
// the next candidate. Per round: from `transfer(to)` to the successor's `elected` event
// ("successor leads"), and to the transfer's answer at the old leader ("answered").
//
//   node bench/transfer.mjs [--rounds 20] [--stores redis=redis://127.0.0.1:6379,...]
//
// Default stores: Redis, the Redis Cluster (7000-7005), SQLite (a temporary file),
// PostgreSQL, etcd and ZooKeeper, as scripts/services.sh starts them. Needs a build (`pnpm exec tsc -b`). Keys and files go
// under a namespace of their own (lhtr<random>) and are removed afterwards.
import { createStore } from '@leasehold/adapters';
import { Elector } from '@leasehold/core';
import { until } from '@leasehold/testkit';
import { Etcd3 } from 'etcd3';
import { Cluster, Redis } from 'ioredis';
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '20' }, stores: { type: 'string' } },
});
const sqliteDir = mkdtempSync(join(tmpdir(), 'lhtr-bench-'));
const STORES = values.stores
  ? Object.fromEntries(values.stores.split(',').map((s) => s.split(/=(.*)/s).slice(0, 2)))
  : {
      redis: 'redis://127.0.0.1:6379',
      'redis-cluster': 'redis://127.0.0.1:7000?cluster=true',
      sqlite: `sqlite://${join(sqliteDir, 'bench.db')}`,
      postgres: 'postgres://postgres@127.0.0.1:5432/test',
      etcd: 'etcd://127.0.0.1:2379',
      zookeeper: 'zk://127.0.0.1:2181',
    };
const IDS = ['a', 'b', 'c'];

async function measure(name, url, rounds) {
  const namespace = `lhtr${randomUUID().slice(0, 6)}`;
  const stores = await Promise.all(IDS.map(() => createStore(url, { namespace })));
  const electors = IDS.map(
    (id, i) =>
      new Elector({ store: stores[i], election: 'jobs', id, ttlMs: 3_000, retryIntervalMs: 1_000 }),
  );
  electors.forEach((e) => e.start());
  const leads = [];
  const answers = [];
  try {
    const leader = () => electors.find((e) => e.isLeader());
    await until('a leader', 15_000, () => leader() !== undefined, 5);
    await until('every member', 15_000, async () => (await leader().members()).length === 3, 5);
    for (let round = 0; round < rounds; round += 1) {
      const from = leader();
      const target = electors[(electors.indexOf(from) + 1) % electors.length];
      let electedAt = 0;
      target.once('elected', () => (electedAt = performance.now()));
      const startedAt = performance.now();
      const outcome = await from.transfer(IDS[electors.indexOf(target)]);
      answers.push(performance.now() - startedAt);
      if (!outcome.transferred) throw new Error(`${name}: round ${round}: ${outcome.code}`);
      await until('the successor elected', 10_000, () => electedAt > 0, 5);
      leads.push(electedAt - startedAt);
    }
  } finally {
    await Promise.all(electors.map((e) => e.stop()));
    await Promise.all(stores.map((s) => s.close()));
    await cleanUp(url, namespace);
  }
  return { name, leads, answers };
}

async function cleanUp(url, namespace) {
  if (url.startsWith('postgres')) return dropSchema(url, namespace);
  if (url.startsWith('etcd')) return deletePrefix(url, namespace);
  if (url.startsWith('zk:')) return removeZnodes(url, `/${namespace}`);
  if (!url.startsWith('redis')) return;
  const cluster = url.includes('cluster=true');
  const client = cluster
    ? new Cluster([{ host: new URL(url).hostname, port: Number(new URL(url).port) }])
    : new Redis(url);
  try {
    const masters = cluster ? client.nodes('master') : [client];
    for (const node of masters) {
      for (const key of await node.keys(`${namespace}:*`)) await client.del(key);
    }
  } finally {
    client.disconnect();
  }
}

/** The namespace's znodes, with the adapters' own ZooKeeper client (no dependency here). */
async function removeZnodes(url, path) {
  const zookeeper = createRequire(import.meta.resolve('@leasehold/adapters'))(
    'node-zookeeper-client',
  );
  const client = zookeeper.createClient(new URL(url).host);
  await new Promise((resolve) => (client.once('connected', resolve), client.connect()));
  const remove = async (node) => {
    const names = await new Promise((resolve) => client.getChildren(node, (_, n) => resolve(n)));
    for (const name of names ?? []) await remove(`${node}/${name}`);
    await new Promise((resolve) => client.remove(node, -1, () => resolve()));
  };
  try {
    await remove(path);
  } finally {
    client.close();
  }
}

async function dropSchema(url, namespace) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${namespace}" CASCADE`);
  } finally {
    await client.end();
  }
}

async function deletePrefix(url, namespace) {
  const client = new Etcd3({ hosts: `http://${new URL(url).host}` });
  try {
    await client.delete().prefix(`${namespace}/`);
  } finally {
    client.close();
  }
}

const quantile = (xs, q) => {
  const sorted = [...xs].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};
const ms = (x) => `${x.toFixed(1)} ms`;

console.log('| store | rounds | successor leads p50 | p95 | max | answered p50 | p95 |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
try {
  for (const [name, url] of Object.entries(STORES)) {
    const { leads, answers } = await measure(name, url, Number(values.rounds));
    console.log(
      `| ${name} | ${leads.length} | ${ms(quantile(leads, 0.5))} | ${ms(quantile(leads, 0.95))} | ${ms(Math.max(...leads))} | ${ms(quantile(answers, 0.5))} | ${ms(quantile(answers, 0.95))} |`,
    );
  }
} finally {
  rmSync(sqliteDir, { recursive: true, force: true });
}
