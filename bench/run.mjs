// `pnpm bench`: leasehold against the alternatives a user would pick instead, per backend,
// in one run with the same TTL (3 s) and retry interval (1 s); leasehold's steering (a
// transfer against a graceful handoff, a rolling update of five, an unhealthy leader) on
// the backends that can transfer; then the sidecar's cold start, idle footprint and
// /v1/leader throughput; then many elections in one process (./many-elections.mjs, per lease
// and batched, --elections of them, 100 by default: 1,000 takes minutes per backend); then
// 64 shards over 5 sidecars, one killed, one joining, and the etcd3 Election per shard beside
// them (./shards.mjs); then memory under churn, three sidecars with the leader resigning every
// 0.5 s (./churn.mjs, --churn-minutes each on Redis and etcd, 10 by default).
// Writes bench/results/latest.json and regenerates bench/RESULTS.md and bench/failover.svg
// (./report.mjs); the many step writes bench/results/many-elections.json, which keeps the
// rows of other election counts (a standalone 1,000-election run); the sidecars step
// (./many-sidecars.mjs: three real sidecars in --elections elections, idle cost and the
// leader's SIGKILL) writes bench/results/many-sidecars.json likewise, the shards step
// bench/results/shards.json, the churn step bench/results/churn.json. `--quick` writes bench/results/quick.json and prints the report
// instead, skips the many and sidecars steps (their rows would replace the saved ones of the
// same count) and the churn step, and runs the shards step's quick mode (12 shards over 3
// sidecars, not saved).
//
//   pnpm bench [--quick] [--backends redis,postgres,etcd,zk,sqlite] [--budget MINUTES]
//              [--skip failover,cut,crowd,steering,cold,idle,http,many,sidecars,shards,churn]
//              [--churn-minutes 10]
//              [--update]
//              [--elections 100]
//
// --update keeps the saved run's other results and replaces only what this run measures
// (say, the cold start again once the machine is quieter); RESULTS.md lists the updates.
//
// Needs the test stores (scripts/services.sh) and a build (the script runs `tsc -b` first).
// The store path cut needs root, ip and nft; it is skipped, and says so, without them.
import { createStore } from '@leasehold/adapters';
import { pause } from '@leasehold/testkit';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { crashTakeover, crowdHandoff, freezeTakeover, gracefulHandoff } from './lib/failover.mjs';
import { cleanSharedStores } from './lib/cleanup.mjs';
import { storePathCut } from './lib/netcut.mjs';
import { loadAverage } from './lib/machine.mjs';
import { Pool } from './lib/pool.mjs';
import { benchStores } from './lib/stores.mjs';
import { coldStart, nodeStart, runScript } from './lib/sidecar.mjs';
import { rollingUpdate, transferHandoff, unhealthyLeader } from './lib/steering.mjs';
import { writeReport } from './report.mjs';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    backends: { type: 'string', default: 'redis,postgres,etcd,zk,sqlite' },
    budget: { type: 'string' },
    skip: { type: 'string', default: '' },
    update: { type: 'boolean', default: false },
    elections: { type: 'string', default: '100' },
    'churn-minutes': { type: 'string', default: '10' },
  },
});
const quick = values.quick;
const TTL_MS = 3_000;
const RETRY_MS = 1_000;
const PLAN = quick
  ? { handoff: 5, kill: 2, stop: 1, cut: 1, crowd: 3, cold: 3, idle: [20, 20], http: [3, 1] }
  : { handoff: 20, kill: 5, stop: 3, cut: 2, crowd: 10, cold: 10, idle: [60, 60], http: [10, 3] };
/** Steering: transfers (and as many graceful handoffs), rolling updates, unhealthy leaders. */
const STEERING = quick
  ? { transfer: 5, rolling: 1, unhealthy: 2 }
  : { transfer: 20, rolling: 2, unhealthy: 3 };
/** The unhealthy leader's health check: every 500 ms, 3 failures in a row, tenure ≥ a TTL. */
const HEALTH = { intervalMs: 500, failures: 3, minTenureMs: TTL_MS };
const REPLICAS = 5;
const budgetMs = Number(values.budget ?? (quick ? 10 : 40)) * 60_000;
const skip = new Set([
  ...values.skip.split(',').filter(Boolean),
  ...(quick ? ['many', 'sidecars', 'churn'] : []),
]);
const backends = values.backends.split(',').filter(Boolean);

const sqliteDir = mkdtempSync(join(tmpdir(), 'lhpf-bench-'));
const { zookeeper, ...stores } = benchStores(sqliteDir);
const STORES = { ...stores, zk: zookeeper };
/** What a user of each store would pick instead of leasehold. */
const ALTERNATIVES = {
  redis: ['redlock'],
  postgres: ['pg-advisory'],
  etcd: ['etcd3-election'],
  zk: [],
  sqlite: [],
};

const startedAt = Date.now();
const log = (line) =>
  process.stderr.write(`[${((Date.now() - startedAt) / 1000).toFixed(0)} s] ${line}\n`);
const overBudget = () => Date.now() - startedAt > budgetMs;

const outDir = new URL('./results/', import.meta.url).pathname;
mkdirSync(outDir, { recursive: true });
const outFile = join(outDir, quick ? 'quick.json' : 'latest.json');
const fresh = {
  quick,
  environment: environment(),
  plan: { ...PLAN, steering: STEERING, ttlMs: TTL_MS, retryMs: RETRY_MS },
  failover: {},
  steering: {},
  cut: {},
  coldStart: {},
  idle: {},
  http: null,
  skipped: [],
  updates: [],
};
const results = values.update ? JSON.parse(readFileSync(outFile, 'utf8')) : fresh;
if (values.update) {
  const { date, commit, loadAverageAtStart } = fresh.environment;
  const what = [
    ...['failover', 'cut', 'crowd', 'steering', 'cold', 'idle', 'http'],
    ...['many', 'sidecars', 'shards', 'churn'],
  ].filter((s) => !skip.has(s));
  (results.updates ??= []).push({ date, commit, loadAverageAtStart, what, backends });
}
const save = () => writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);

/** Run `work` unless the budget is spent; record the load average around it. */
async function step(name, work) {
  if (overBudget()) {
    results.skipped.push(`${name} (time budget spent)`);
    log(`skipped ${name}: time budget spent`);
    return undefined;
  }
  const before = loadAverage();
  const value = await work();
  if (value !== undefined && value !== null && typeof value === 'object') {
    value.loadAverage = { before, after: loadAverage() };
  }
  save();
  return value;
}

try {
  log(
    `${quick ? 'quick' : 'full'} run, budget ${budgetMs / 60_000} min, backends ${backends.join(', ')}`,
  );
  for (const backend of skip.has('failover') ? [] : backends) {
    results.failover[backend] = {};
    for (const implementation of ['leasehold', ...ALTERNATIVES[backend]]) {
      results.failover[backend][implementation] = await step(
        `${backend} ${implementation} failover`,
        () => failover(backend, implementation),
      );
    }
    // SQLite is one host's; the lab has no private ZooKeeper (yet).
    if (!['sqlite', 'zk'].includes(backend) && !skip.has('cut')) {
      results.cut[backend] = await step(`${backend} store path cut`, () =>
        storePathCut({
          backend,
          implementations: ['leasehold', ...ALTERNATIVES[backend]],
          rounds: PLAN.cut,
          ttlMs: TTL_MS,
          retryMs: RETRY_MS,
          log,
        }).catch((error) => ({ error: error.message })),
      );
    }
  }
  for (const backend of skip.has('steering') ? [] : backends) {
    (results.steering ??= {})[backend] = await step(`${backend} steering`, () =>
      steering(backend).catch((error) => ({ error: error.message })),
    );
  }
  if (!skip.has('cold')) {
    results.coldStart.node = await step('node start', () => nodeStart(PLAN.cold));
    for (const backend of backends) {
      results.coldStart[backend] = await step(`${backend} cold start`, () => {
        log(`${backend}: cold start x${PLAN.cold}`);
        return coldStart(STORES[backend], PLAN.cold);
      });
    }
  }
  if (!skip.has('idle')) {
    const [settle, seconds] = PLAN.idle;
    await step('idle footprint', async () => {
      log(`idle footprint on ${backends.join(', ')} (in parallel, ${settle + seconds} s)`);
      const runs = await Promise.all(
        backends.map((backend) =>
          runScript('footprint.mjs', [
            '--store',
            STORES[backend],
            '--settle',
            String(settle),
            '--seconds',
            String(seconds),
          ]),
        ),
      );
      for (const [i, backend] of backends.entries()) results.idle[backend] = runs[i];
      return results.idle;
    });
  }
  if (!skip.has('http')) {
    const [seconds, rounds] = PLAN.http;
    results.http = await step('http throughput', () => {
      log(`/v1/leader throughput against bare node:http (${seconds} s x ${rounds} rounds)`);
      return runScript('http-throughput.mjs', [
        '--seconds',
        String(seconds),
        '--rounds',
        String(rounds),
      ]);
    });
  }
  if (!skip.has('many')) {
    await step('many elections', () => {
      log(`${values.elections} elections in one process, per lease and batched, on ${backends}`);
      return manyElections();
    });
  }
  if (!skip.has('sidecars')) {
    await step('three sidecars × many elections', () => {
      log(`three sidecars in ${values.elections} elections, one backend at a time, on ${backends}`);
      return manySidecars();
    });
  }
  if (!skip.has('shards')) {
    await step('shards', () => {
      log(`shards over sidecars${quick ? ' (quick)' : ''} on ${backends}`);
      return shards();
    });
  }
  if (!skip.has('churn')) {
    await step('memory under churn', () => {
      log(
        `churn: the leader resigning every 0.5 s for ${values['churn-minutes']} min, Redis and etcd`,
      );
      return churn();
    });
  }
} finally {
  rmSync(sqliteDir, { recursive: true, force: true });
  await cleanSharedStores(STORES);
  if (!values.update) results.durationS = Math.round((Date.now() - startedAt) / 1000);
  save();
}
const markdown = writeReport(results, { write: !quick });
if (quick) process.stdout.write(markdown);
log(
  `done in ${results.durationS} s: ${outFile}${quick ? '' : ', bench/RESULTS.md, bench/failover.svg'}`,
);

/**
 * ./many-elections.mjs on these backends; it saves its rows in results/many-elections.json,
 * not in this run's JSON (report.mjs renders that file), so nothing is returned to save here.
 */
async function manyElections() {
  const names = backends.map((backend) => (backend === 'zk' ? 'zookeeper' : backend));
  const run = await runScript('many-elections.mjs', [
    '--backend',
    names.join(','),
    '--elections',
    values.elections,
    // Half the standalone idle window: ten runs (five backends, two modes) in about 4 min.
    '--seconds',
    '10',
  ]);
  for (const { backend, mode, error } of run.failed) log(`many: ${backend} ${mode}: ${error}`);
  return undefined;
}

/** ./many-sidecars.mjs on these backends; it saves its rows in results/many-sidecars.json. */
async function manySidecars() {
  const names = backends.map((backend) => (backend === 'zk' ? 'zookeeper' : backend));
  const run = await runScript('many-sidecars.mjs', [
    '--backend',
    names.join(','),
    '--elections',
    values.elections,
  ]);
  for (const { backend, error } of run.failed) log(`sidecars: ${backend}: ${error}`);
  return undefined;
}

/**
 * ./shards.mjs on these backends (and the etcd3 Election per shard on etcd); it saves its rows
 * in results/shards.json (not with --quick), which report.mjs renders: nothing to save here.
 */
async function shards() {
  const names = backends.map((backend) => (backend === 'zk' ? 'zookeeper' : backend));
  const run = await runScript('shards.mjs', [
    ...['--backend', names.join(',')],
    ...(quick ? ['--quick'] : []),
  ]);
  for (const { backend, implementation, error } of run.failed) {
    log(`shards: ${backend} ${implementation}: ${error}`);
  }
  return undefined;
}

/** ./churn.mjs on Redis and etcd (the two); it saves its rows in results/churn.json. */
async function churn() {
  const names = backends.filter((backend) => backend === 'redis' || backend === 'etcd');
  if (names.length === 0) return undefined;
  await runScript('churn.mjs', [
    ...['--backend', names.join(',')],
    ...['--minutes', values['churn-minutes']],
  ]);
  return undefined;
}

/** Graceful, crash and freeze on three candidates, then the 50-candidate handoff. */
async function failover(backend, implementation) {
  const election = `bench-${implementation}-${Date.now().toString(36)}`;
  const options = {
    implementation,
    store: STORES[backend],
    election,
    ttlMs: TTL_MS,
    retryMs: RETRY_MS,
  };
  const pool = new Pool(options);
  const observer =
    implementation === 'leasehold'
      ? await createStore(STORES[backend], { namespace: 'lhpf_bench' })
      : null;
  const result = {};
  try {
    for (const id of ['c1', 'c2', 'c3']) await pool.start(id);
    await pause(2 * RETRY_MS);
    log(`${backend} ${implementation}: graceful handoff x${PLAN.handoff}`);
    result.graceful = await gracefulHandoff(pool, PLAN.handoff, TTL_MS);
    log(`${backend} ${implementation}: SIGKILL x${PLAN.kill}`);
    result.kill = await crashTakeover(pool, PLAN.kill, TTL_MS, observer);
    log(`${backend} ${implementation}: SIGSTOP past the TTL x${PLAN.stop}`);
    result.stop = await freezeTakeover(pool, PLAN.stop, TTL_MS);
  } finally {
    await pool.destroy();
    await observer?.close();
  }
  if (!skip.has('crowd')) {
    const crowd = new Pool({ ...options, election: `${election}-50` });
    try {
      log(`${backend} ${implementation}: 50 candidates, graceful handoff x${PLAN.crowd}`);
      for (let p = 0; p < 5; p += 1) await crowd.start(`p${p}`, { count: 10 });
      await pause(2 * RETRY_MS);
      result.crowd = await crowdHandoff(crowd, PLAN.crowd, TTL_MS);
    } finally {
      await crowd.destroy();
    }
  }
  return result;
}

/** Whether leasehold's adapter for `backend` can transfer (the store support of issue 26). */
async function canTransfer(backend) {
  const store = await createStore(STORES[backend], { namespace: 'lhpf_bench' });
  try {
    return store.transfer !== undefined && store.members !== undefined;
  } finally {
    await store.close();
  }
}

/** Transfer against graceful handoff, rolling updates with and without versions, unhealthy leader. */
async function steering(backend) {
  if (!(await canTransfer(backend))) return { unsupported: true };
  const options = {
    store: STORES[backend],
    election: `bench-steer-${Date.now().toString(36)}`,
    ttlMs: TTL_MS,
    retryMs: RETRY_MS,
  };
  const say = (line) => log(`${backend} leasehold: ${line}`);
  const transfer = await transferHandoff(options, STEERING.transfer, say);
  const rolling = { versions: [], none: [] };
  for (let run = 0; run < STEERING.rolling; run += 1) {
    say(
      `rolling update of ${REPLICAS}, with and without versions (${run + 1}/${STEERING.rolling})`,
    );
    const election = `${options.election}-roll-${run}`;
    rolling.versions.push(await rollingUpdate({ ...options, election: `${election}-v` }, REPLICAS));
    rolling.none.push(
      await rollingUpdate({ ...options, election: `${election}-n` }, REPLICAS, { version: false }),
    );
  }
  say(`unhealthy leader x${STEERING.unhealthy}`);
  const unhealthy = await unhealthyLeader(options, STEERING.unhealthy, HEALTH).catch((error) => ({
    error: error.message,
  }));
  return { transfer, rolling, unhealthy };
}

function environment() {
  const run = (command, args) => {
    try {
      return execFileSync(command, args, {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    } catch {
      return null;
    }
  };
  const packageVersion = (dir, name) => {
    try {
      return JSON.parse(
        readFileSync(new URL(`${dir}node_modules/${name}/package.json`, import.meta.url), 'utf8'),
      ).version;
    } catch {
      return null;
    }
  };
  const status = run('git', ['status', '--porcelain', '--untracked-files=no']);
  return {
    date: new Date().toISOString(),
    commit: `${run('git', ['rev-parse', '--short', 'HEAD'])}${status ? ' (with uncommitted changes)' : ''}`,
    cpu: `${cpus()[0]?.model ?? 'unknown'} x ${cpus().length}`,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    redis: run('redis-server', ['--version'])?.match(/v=(\S+)/)?.[1] ?? null,
    etcd: run('etcd', ['--version'])?.match(/etcd Version: (\S+)/)?.[1] ?? null,
    postgres: run('psql', [STORES.postgres, '-tAc', 'SHOW server_version']),
    packages: {
      leasehold: JSON.parse(
        readFileSync(new URL('../packages/sidecar/package.json', import.meta.url), 'utf8'),
      ).version,
      etcd3: packageVersion('../', 'etcd3'),
      redlock: packageVersion('../', 'redlock'),
      ioredis: packageVersion('../', 'ioredis'),
      pg: packageVersion('../', 'pg'),
      fastify: packageVersion('../packages/sidecar/', 'fastify'),
    },
    loadAverageAtStart: loadAverage(),
  };
}
