// `pnpm bench`: leasehold against the alternatives a user would pick instead, per backend,
// in one run with the same TTL (3 s) and retry interval (1 s); then the sidecar's cold start,
// idle footprint and /v1/leader throughput. Writes bench/results/latest.json and regenerates
// bench/RESULTS.md and bench/failover.svg (./report.mjs); `--quick` writes
// bench/results/quick.json and prints the report instead.
//
//   pnpm bench [--quick] [--backends redis,postgres,etcd,zk,sqlite] [--budget MINUTES]
//              [--skip failover,cut,crowd,cold,idle,http] [--update]
//
// --update keeps the saved run's other results and replaces only what this run measures
// (say, the cold start again once the machine is quieter); RESULTS.md lists the updates.
//
// Needs the test stores (scripts/services.sh) and a build (the script runs `tsc -b` first).
// The store path cut needs root, ip and nft; it is skipped, and says so, without them.
import { createStore } from '@leasehold/adapters';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { crashTakeover, crowdHandoff, freezeTakeover, gracefulHandoff } from './lib/failover.mjs';
import { cleanSharedStores } from './lib/cleanup.mjs';
import { storePathCut } from './lib/netcut.mjs';
import { Pool } from './lib/pool.mjs';
import { coldStart, nodeStart, runScript } from './lib/sidecar.mjs';
import { writeReport } from './report.mjs';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    backends: { type: 'string', default: 'redis,postgres,etcd,zk,sqlite' },
    budget: { type: 'string' },
    skip: { type: 'string', default: '' },
    update: { type: 'boolean', default: false },
  },
});
const quick = values.quick;
const TTL_MS = 3_000;
const RETRY_MS = 1_000;
const PLAN = quick
  ? { handoff: 5, kill: 2, stop: 1, cut: 1, crowd: 3, cold: 3, idle: [20, 20], http: [3, 1] }
  : { handoff: 20, kill: 5, stop: 3, cut: 2, crowd: 10, cold: 10, idle: [60, 60], http: [10, 3] };
const budgetMs = Number(values.budget ?? (quick ? 10 : 40)) * 60_000;
const skip = new Set(values.skip.split(',').filter(Boolean));
const backends = values.backends.split(',').filter(Boolean);

const sqliteDir = mkdtempSync(join(tmpdir(), 'lhpf-bench-'));
const STORES = {
  redis: 'redis://127.0.0.1:6379',
  postgres: 'postgres://postgres@127.0.0.1:5432/test',
  etcd: 'etcd://127.0.0.1:2379',
  zk: 'zk://127.0.0.1:2181',
  sqlite: `sqlite://${join(sqliteDir, 'bench.db')}`,
};
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
const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
const overBudget = () => Date.now() - startedAt > budgetMs;

const outDir = new URL('./results/', import.meta.url).pathname;
mkdirSync(outDir, { recursive: true });
const outFile = join(outDir, quick ? 'quick.json' : 'latest.json');
const fresh = {
  quick,
  environment: environment(),
  plan: { ...PLAN, ttlMs: TTL_MS, retryMs: RETRY_MS },
  failover: {},
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
  const what = ['failover', 'cut', 'crowd', 'cold', 'idle', 'http'].filter((s) => !skip.has(s));
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
    await new Promise((resolve) => setTimeout(resolve, 2 * RETRY_MS));
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
      await new Promise((resolve) => setTimeout(resolve, 2 * RETRY_MS));
      result.crowd = await crowdHandoff(crowd, PLAN.crowd, TTL_MS);
    } finally {
      await crowd.destroy();
    }
  }
  return result;
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
