// Shards over sidecars (issue 27, part 3; docs/shards.md): 64 shards over 5 real `leasehold`
// sidecars started together, on one backend at a time; one SIGKILLed; a new one joining.
// Measures when each owns its fair share (12 or 13), when the killed one's shards are owned
// again and the four left are back to 16 each, how many shards moved against the surplus
// (the fewest moves that balance), and checks that no shard ever had two owners. The same
// rows for the alternative that can run it: the etcd3 package's Election, one per shard, all
// of a replica's in one process (../candidates/etcd3-shards.mjs), placement left to who wins.
//   node bench/shards.mjs [--backend redis,postgres,etcd,zookeeper,sqlite]
//        [--implementations leasehold,etcd3]
//        [--shards 64] [--sidecars 5] [--ttl 3000] [--retry 1000] [--quick] [--json]
//        [--out FILE]
// Saves its rows into bench/results/shards.json (or --out FILE), replacing the rows it
// measured again (same backend, implementation, shards and sidecars); `node bench/report.mjs`
// renders them ("Shards over sidecars"). `--quick`: 12 shards over 3 sidecars, saved only
// with --out. `pnpm bench` runs it as its `shards` step (bench/run.mjs). --json prints the
// run as stdout's last line. Build first (pnpm build).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cleanSharedStores } from './lib/cleanup.mjs';
import { loadAverage } from './lib/machine.mjs';
import { fairShare } from './lib/shard-checks.mjs';
import { benchStores } from './lib/stores.mjs';
import { killEveryReplica, SHARDS_NAMESPACE, ShardReplicas } from './lib/shard-replicas.mjs';
import { summarise } from './lib/shard-summary.mjs';
import { mergeShardRuns, shardTable } from './lib/shards-report.mjs';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'redis,postgres,etcd,zookeeper,sqlite' },
    implementations: { type: 'string', default: 'leasehold,etcd3' },
    shards: { type: 'string' },
    sidecars: { type: 'string' },
    ttl: { type: 'string', default: '3000' },
    retry: { type: 'string', default: '1000' },
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const quick = values.quick;
const SHARDS = Number(values.shards ?? (quick ? 12 : 64));
const SIDECARS = Number(values.sidecars ?? (quick ? 3 : 5));
const TTL_MS = Number(values.ttl);
const RETRY_MS = Number(values.retry);
/** How long a phase may take to balance, and the silence (no shard line) that ends it. */
const PHASE_CAP_MS = 10 * TTL_MS;
const QUIET_MS = 2 * TTL_MS;
const out =
  values.out ?? (quick ? null : new URL('./results/shards.json', import.meta.url).pathname);

const dir = mkdtempSync(join(tmpdir(), 'lhpf-bench-shards-'));
const STORES = benchStores(dir, 'shards.db');
const say = (line) => process.stderr.write(`shards: ${line}\n`);

// Stopped itself (a test's timeout, Ctrl-C): no sidecar is left behind.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    killEveryReplica();
    rmSync(dir, { recursive: true, force: true });
    process.exit(1);
  });
}

const date = new Date().toISOString();
const rows = [];
try {
  for (const backend of values.backend.split(',').filter(Boolean)) {
    // The etcd3 package runs on etcd only.
    const implementations = values.implementations
      .split(',')
      .filter((name) => name === 'leasehold' || (name === 'etcd3' && backend === 'etcd'));
    for (const implementation of implementations) {
      rows.push(
        await measure(backend, implementation).catch((error) => ({
          backend,
          implementation,
          error: error.message,
        })),
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  await cleanSharedStores(STORES, {
    namespace: SHARDS_NAMESPACE,
    alternatives: ['lhpf-bench-etcd3-shards'],
  });
}
const run = {
  date,
  finishedAt: new Date().toISOString(),
  shards: SHARDS,
  sidecars: SIDECARS,
  ttlMs: TTL_MS,
  retryMs: RETRY_MS,
  rows: rows.filter((row) => row.error === undefined),
  failed: rows.filter((row) => row.error !== undefined),
};
if (out !== null && run.rows.length > 0) {
  const saved = existsSync(out) ? JSON.parse(readFileSync(out, 'utf8')) : undefined;
  writeFileSync(out, `${JSON.stringify(mergeShardRuns(saved, run), null, 2)}\n`);
}
const print = values.json ? (line) => process.stderr.write(`${line}\n`) : console.log;
for (const line of shardTable(run)) print(line);
for (const { backend, implementation, error } of run.failed) {
  print(`${backend} ${implementation}: failed: ${error}`);
}
if (values.json) console.log(JSON.stringify(run));

/** Start together, kill one, one joins: the replicas' lines and answers, summarised. */
async function measure(backend, implementation) {
  const group = `sb${Date.now().toString(36)}`;
  const replicas = new ShardReplicas({
    implementation,
    store: STORES[backend],
    group,
    count: SHARDS,
    ttlMs: TTL_MS,
    retryMs: RETRY_MS,
    dir,
  });
  const balances = implementation === 'leasehold';
  const ids = Array.from({ length: SIDECARS }, (_, i) => `r${i + 1}`);
  const load = loadAverage();
  const phases = {};
  const killed = new Map();
  let endedAt;
  try {
    say(`${backend} ${implementation}: ${SHARDS} shards over ${SIDECARS}, started together`);
    const startAt = Date.now();
    const listening = await Promise.all(ids.map((id) => replicas.start(id)));
    replicas.startPolling();
    phases.start = await phase(replicas, { since: startAt, ids, balances });
    phases.start.upAt = Math.max(...listening);

    const victim = busiest(replicas.lastRound, ids);
    const survivors = ids.filter((id) => id !== victim);
    say(`${backend} ${implementation}: SIGKILL ${victim}`);
    const before = replicas.lastRound;
    killed.set(victim, replicas.kill(victim));
    phases.kill = await phase(replicas, { since: killed.get(victim), ids: survivors, balances });
    Object.assign(phases.kill, { victim, before });

    const newcomer = `r${SIDECARS + 1}`;
    say(`${backend} ${implementation}: ${newcomer} joins`);
    const joinAt = Date.now();
    const beforeJoin = replicas.lastRound;
    const upAt = await replicas.start(newcomer);
    phases.join = await phase(replicas, { since: joinAt, ids: [...survivors, newcomer], balances });
    Object.assign(phases.join, { newcomer, before: beforeJoin, upAt });
  } finally {
    endedAt = await replicas.stopAll();
    dump(`${backend}-${implementation}`, { lines: replicas.lines, other: replicas.other, phases });
  }
  return {
    backend,
    implementation,
    balances,
    ...summarise(replicas, phases, { count: SHARDS, killed, endedAt }),
    load: { before: load, after: loadAverage() },
  };
}

/** With LHPF_BENCH_SHARDS_DUMP=PREFIX: every line of a measurement into PREFIX.NAME.json. */
function dump(name, what) {
  const prefix = process.env.LHPF_BENCH_SHARDS_DUMP;
  if (prefix) writeFileSync(`${prefix}.${name}.json`, JSON.stringify(what));
}

/** The replica owning the most shards (the first of them): the one whose death costs most. */
function busiest(round, ids) {
  const owned = new Map(round.answers.map(({ id, owned }) => [id, owned.length]));
  return ids.reduce((best, id) => ((owned.get(id) ?? 0) > (owned.get(best) ?? 0) ? id : best));
}

/**
 * One membership change's aftermath: wait until the answers show every shard owned (and,
 * where the implementation balances, each of `ids` at its fair share), then for a quiet spell.
 */
async function phase(replicas, { since, ids, balances }) {
  const { floor, ceil } = fairShare(SHARDS, ids.length);
  const settled = (round) => {
    const counts = new Map(ids.map((id) => [id, 0]));
    for (const { id, owned } of round.answers) counts.set(id, owned.length);
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    const fair = [...counts.values()].every((n) => n >= floor && n <= ceil);
    return total === SHARDS && round.answers.length === ids.length && (!balances || fair);
  };
  await replicas.until(settled, since, PHASE_CAP_MS);
  await replicas.quiet(QUIET_MS, PHASE_CAP_MS);
  return { since, until: Date.now(), ids, after: replicas.lastRound };
}
