// Many elections in one process (issue 27, part 4; docs/design.md §3.8): N electors, one
// store connection, all leading and idle. Counts the store requests per renew interval, CPU
// and RSS, per lease (no shared heartbeat) versus batched (one SharedHeartbeat).
// Usage: node bench/many-elections.mjs [--backend redis,postgres,sqlite,etcd,zookeeper]
//        [--elections 1000] [--ttl 6000] [--seconds 20] [--json] [--out FILE]
// Writes its run into bench/results/many-elections.json (or --out FILE), replacing only the
// rows it measured again (same backend, mode and number of elections); `node bench/report.mjs`
// renders that file into RESULTS.md ("Many elections"). `pnpm bench` runs it as its `many`
// step (bench/run.mjs: --elections, 100 by default). --json also prints the run, on one line.
// Build first (pnpm build). Each (backend, mode) runs in a child process of its own, so
// RSS and CPU are that run's alone. Requests are counted in the process, at the store's
// methods (one call = one request, a renewMany included); Redis also reports the shared
// server's EVALSHA count over the window (other clients of that server add to it).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createStore } from '@leasehold/adapters';
import { Elector, SharedHeartbeat } from '@leasehold/core';
import { Redis } from 'ioredis';
import { pause, until } from '@leasehold/testkit';
import { loadAverage } from './lib/machine.mjs';
import { mergeManyElections } from './lib/many-elections-report.mjs';

const STORES = {
  redis: 'redis://127.0.0.1:6379',
  postgres: 'postgres://postgres@127.0.0.1:5432/test',
  // In a directory of its own, mode 700: the adapter refuses a file others could write.
  sqlite: `sqlite://${process.env.LHPF_BENCH_SQLITE_DIR ?? '/nonexistent'}/many.db`,
  etcd: 'etcd://127.0.0.1:2379',
  zookeeper: 'zk://127.0.0.1:2181',
};
const NAMESPACE = 'lhpf_bench_many';
const WAVE = 50;

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'redis,postgres,sqlite' },
    elections: { type: 'string', default: '1000' },
    ttl: { type: 'string', default: '6000' },
    seconds: { type: 'string', default: '20' },
    child: { type: 'string' },
    json: { type: 'boolean', default: false },
    out: {
      type: 'string',
      default: new URL('./results/many-elections.json', import.meta.url).pathname,
    },
  },
});

if (values.child !== undefined) {
  const [backend, mode] = values.child.split(':');
  process.stdout.write(`${JSON.stringify(await measure(backend, mode))}\n`);
  process.exit(0);
}

process.env.LHPF_BENCH_SQLITE_DIR = mkdtempSync(join(tmpdir(), 'lhpf-bench-many-'));
const date = new Date().toISOString();
const rows = [];
for (const backend of values.backend.split(',')) {
  for (const mode of ['per-lease', 'batched']) {
    rows.push(
      await runChild(backend, mode).catch((error) => ({ backend, mode, error: error.message })),
    );
  }
}
rmSync(process.env.LHPF_BENCH_SQLITE_DIR, { recursive: true, force: true });
const run = {
  date,
  finishedAt: new Date().toISOString(),
  elections: Number(values.elections),
  ttlMs: Number(values.ttl),
  renewIntervalMs: rows.find((row) => row.renewIntervalMs)?.renewIntervalMs ?? null,
  seconds: Number(values.seconds),
  rows: rows.filter((row) => row.error === undefined),
  failed: rows.filter((row) => row.error !== undefined),
};
save(run);
printTable(rows);
if (values.json) console.log(JSON.stringify(run));

/** Into --out, beside the runs this one did not measure again. */
function save(run) {
  if (run.rows.length === 0) return;
  const saved = existsSync(values.out) ? JSON.parse(readFileSync(values.out, 'utf8')) : undefined;
  writeFileSync(values.out, `${JSON.stringify(mergeManyElections(saved, run), null, 2)}\n`);
}

function runChild(backend, mode) {
  const args = [process.argv[1], '--child', `${backend}:${mode}`];
  for (const name of ['elections', 'ttl', 'seconds']) args.push(`--${name}`, values[name]);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`${backend}:${mode} exit ${code}`)),
    );
  });
}

/** One run: N electors on one store, all leading; then an idle window, counted. */
async function measure(backend, mode) {
  const count = Number(values.elections);
  const ttlMs = Number(values.ttl);
  const store = counted(await createStore(STORES[backend], { namespace: NAMESPACE }));
  const probe = new Elector({ store, election: 'probe', id: 'p', ttlMs });
  const { renewIntervalMs } = probe.timing;
  const sharedHeartbeat =
    mode === 'batched' ? new SharedHeartbeat({ store, periodMs: renewIntervalMs }) : undefined;
  const run = `${process.pid}`;
  const electors = Array.from(
    { length: count },
    (_, i) => new Elector({ store, election: `m${run}-${i}`, id: 'bench', ttlMs, sharedHeartbeat }),
  );
  const startedAt = performance.now();
  // In waves: a thousand first acquires at once time out on one connection (PostgreSQL's
  // one session, etcd's lease grants) and hand their leases back; this measures the idle.
  for (let wave = 0; wave < count; wave += WAVE) {
    const starting = electors.slice(wave, wave + WAVE);
    for (const elector of starting) elector.start();
    await waitFor(
      'the starting electors lead',
      () => starting.every((e) => e.isLeader()),
      2 * ttlMs + 10_000,
    );
  }
  const allLed = await waitFor(
    'every election led',
    () => electors.every((e) => e.isLeader()),
    2 * ttlMs + 10_000,
  );
  const ledAfterMs = Math.round(performance.now() - startedAt);
  // Past the first renewals (which align to the heartbeat's ticks), then the window.
  await pause(2 * renewIntervalMs);
  const server = await serverCount(backend);
  store.counts.clear();
  store.failures.clear();
  const cpu = process.cpuUsage();
  const windowStart = performance.now();
  await pause(Number(values.seconds) * 1_000);
  const windowMs = performance.now() - windowStart;
  const used = process.cpuUsage(cpu);
  const counts = Object.fromEntries(store.counts);
  const failedCalls = Object.fromEntries(store.failures);
  const serverRequests = server === null ? null : (await serverCount(backend)) - server;
  const leading = electors.filter((e) => e.isLeader()).length;
  const rssMb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
  await Promise.all(electors.map((elector) => elector.stop({ withinMs: 10_000 })));
  await store.close();
  const intervals = windowMs / renewIntervalMs;
  const perInterval = (n) => Number(((n ?? 0) / intervals).toFixed(1));
  return {
    backend,
    mode,
    elections: count,
    renewIntervalMs,
    allLed,
    ledAfterMs,
    leadingAtEnd: leading,
    renewRequestsPerInterval: perInterval((counts.renew ?? 0) + (counts.renewMany ?? 0)),
    memberRequestsPerInterval: perInterval(
      (counts['members.put'] ?? 0) + (counts['members.list'] ?? 0) + (counts.putMembers ?? 0),
    ),
    otherRequestsPerInterval: perInterval(
      Object.entries(counts)
        .filter(
          ([op]) =>
            !['renew', 'renewMany', 'members.put', 'members.list', 'putMembers'].includes(op),
        )
        .reduce((sum, [, n]) => sum + n, 0),
    ),
    serverScriptCallsPerInterval: serverRequests === null ? null : perInterval(serverRequests),
    cpuPercentOfCore: Number((((used.user + used.system) / 1_000 / windowMs) * 100).toFixed(1)),
    failedCallsInWindow: failedCalls,
    rssMb: Math.round(rssMb),
    load: loadAverage(),
    ...(allLed ? {} : { note: 'never all led' }),
  };
}

/** The store, with every request it sends counted by operation. */
function counted(store) {
  const counts = new Map();
  const failures = new Map();
  const failed = (op) => (error) => {
    failures.set(op, (failures.get(op) ?? 0) + 1);
    throw error;
  };
  const count =
    (op, fn) =>
    (...args) => {
      counts.set(op, (counts.get(op) ?? 0) + 1);
      return fn(...args).catch(failed(op));
    };
  for (const op of ['tryAcquire', 'renew', 'release', 'read']) {
    store[op] = count(op, store[op].bind(store));
  }
  // In place: the adapters' batch calls their own member rows, not these wrappers.
  if (store.batch !== undefined) {
    for (const op of ['renewMany', 'putMembers']) {
      if (store.batch[op] !== undefined)
        store.batch[op] = count(op, store.batch[op].bind(store.batch));
    }
  }
  if (store.members !== undefined) {
    for (const op of ['put', 'list', 'remove']) {
      store.members[op] = count(`members.${op}`, store.members[op].bind(store.members));
    }
  }
  return Object.assign(store, { counts, failures });
}

/** Redis: the shared server's EVALSHA + EVAL count (every leasehold request is a script). */
async function serverCount(backend) {
  if (backend !== 'redis') return null;
  const redis = new Redis(STORES.redis);
  try {
    const stats = await redis.info('commandstats');
    const calls = (name) =>
      Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
    return calls('evalsha') + calls('eval');
  } finally {
    redis.disconnect();
  }
}

/** Whether `predicate` holds within `withinMs` (polled every 100 ms); false, not a throw, if not. */
function waitFor(what, predicate, withinMs) {
  return until(what, withinMs, predicate, 100).then(
    () => true,
    () => false,
  );
}

/** With --json on stderr: stdout's last line is then the run (lib/sidecar.mjs's runScript). */
function printTable(results) {
  const print = values.json ? (line) => process.stderr.write(`${line}\n`) : console.log;
  print(
    '| backend | mode | elections | led after | renew req / interval | member req / interval | other / interval | Redis server scripts / interval | CPU % core | RSS MB | load |',
  );
  print('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    if (r.error !== undefined) {
      print(`| ${r.backend} | ${r.mode} | failed: ${r.error} |`);
      continue;
    }
    print(
      `| ${r.backend} | ${r.mode} | ${r.leadingAtEnd}/${r.elections} | ${r.ledAfterMs} ms | ${r.renewRequestsPerInterval} | ${r.memberRequestsPerInterval} | ${r.otherRequestsPerInterval} | ${r.serverScriptCallsPerInterval ?? '–'} | ${r.cpuPercentOfCore} | ${r.rssMb} | ${r.load.join(' ')} |`,
    );
  }
}
