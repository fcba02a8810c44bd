// Three sidecars × N elections (issue 27, "Measured by benchmarks"): the real `leasehold`
// command, each sidecar in every election (LEASEHOLD_ELECTION, one shared heartbeat), on
// each backend in turn. Measures, per sidecar at idle: store requests (its own
// /metrics, leasehold_store_request_duration_seconds_count: each request once), CPU
// (/proc/PID/stat) and RSS against a one-election sidecar's; then SIGKILLs the sidecar
// leading them all and times until every election is led again, checking throughout that
// no election ever has two leaders.
// Usage: node bench/many-sidecars.mjs [--backend redis,postgres,etcd,zookeeper,sqlite]
//        [--elections 1000] [--ttl 6000] [--seconds 20] [--quick] [--json] [--out FILE]
// --quick: 20 elections, TTL 3 s, 4 s idle (the test's mode). Build first (pnpm build).
// Writes its rows into bench/results/many-sidecars.json (or --out), replacing the rows of
// the same backend and number of elections; `node bench/report.mjs` renders them.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pause, until } from '@leasehold/testkit';
import { mergeManySidecars } from './lib/many-sidecars-report.mjs';
import { startListening, stopProcess } from './lib/sidecar.mjs';
import { LeaderLedger } from './lib/leader-ledger.mjs';
import { loadAverage } from './lib/machine.mjs';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'redis,postgres,etcd,zookeeper,sqlite' },
    elections: { type: 'string' },
    ttl: { type: 'string' },
    seconds: { type: 'string' },
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    out: {
      type: 'string',
      default: new URL('./results/many-sidecars.json', import.meta.url).pathname,
    },
  },
});
const quick = values.quick;
const ELECTIONS = Number(values.elections ?? (quick ? 20 : 1000));
const TTL_MS = Number(values.ttl ?? (quick ? 3000 : 6000));
const IDLE_S = Number(values.seconds ?? (quick ? 4 : 20));
const RENEW_INTERVAL_MS = Math.floor(TTL_MS / 3);
const NAMESPACE = 'lhpf_bench';
const CLK_TCK = 100;

const sqliteDir = mkdtempSync(join(tmpdir(), 'lhpf-bench-sidecars-'));
const STORES = {
  redis: 'redis://127.0.0.1:6379',
  postgres: 'postgres://postgres@127.0.0.1:5432/test',
  etcd: 'etcd://127.0.0.1:2379',
  zookeeper: 'zk://127.0.0.1:2181',
  sqlite: `sqlite://${sqliteDir}/many.db`,
};

const date = new Date().toISOString();
const rows = [];
const failed = [];
try {
  for (const backend of values.backend.split(',')) {
    try {
      rows.push(await measureBackend(backend));
    } catch (error) {
      failed.push({ backend, error: error.message });
      console.error(`${backend}: ${error.message}`);
    }
  }
} finally {
  rmSync(sqliteDir, { recursive: true, force: true });
}
const run = {
  date,
  finishedAt: new Date().toISOString(),
  elections: ELECTIONS,
  ttlMs: TTL_MS,
  renewIntervalMs: RENEW_INTERVAL_MS,
  seconds: IDLE_S,
  rows,
  failed,
};
if (rows.length > 0) save(run);
printTable(rows);
if (values.json) console.log(JSON.stringify(run));

function save(run) {
  const saved = existsSync(values.out) ? JSON.parse(readFileSync(values.out, 'utf8')) : undefined;
  writeFileSync(values.out, `${JSON.stringify(mergeManySidecars(saved, run), null, 2)}\n`);
}

/** One backend: the one-election baseline, then three sidecars in N elections. */
async function measureBackend(backend) {
  const tag = `ms${Date.now().toString(36)}`;
  const baseline = await measureBaseline(backend, `${tag}-one`);
  const names = Array.from({ length: ELECTIONS }, (_, i) => `${tag}-${i}`);
  const sidecars = [];
  try {
    // a first and alone: it leads every election, b and c follow.
    sidecars.push(await startSidecar(backend, 'a', names));
    const aLeads = await ledBy(sidecars[0], 2 * TTL_MS + 180_000);
    for (const id of ['b', 'c']) sidecars.push(await startSidecar(backend, id, names));
    // Not a failure when they do not: how many each saw is in the row.
    const followersSeeing = await seenBy(sidecars.slice(1), 2 * TTL_MS + 30_000);
    const idle = await measureIdle(sidecars);
    const failover = await killLeader(sidecars, names);
    return {
      backend,
      elections: ELECTIONS,
      ...idle,
      aLeads,
      followersSeeing,
      baseline,
      rssOverOneElectionMb: Math.max(...idle.sidecars.map((s) => s.rssMb)) - baseline.rssMb,
      ...failover,
      load: loadAverage(),
    };
  } finally {
    await Promise.all(sidecars.map(stopSidecar));
  }
}

/** How many elections the sidecar leads once it leads all or at the deadline, and when. */
async function ledBy(sidecar, withinMs) {
  const leading = async () => (await electionsOf(sidecar)).filter((e) => e.isLeader).length;
  const deadline = performance.now() + withinMs;
  let count = await leading().catch(() => 0);
  while (count < ELECTIONS && performance.now() < deadline) {
    await pause(500);
    count = await leading().catch(() => count);
  }
  return { count, afterStartMs: Date.now() - sidecar.startedAt };
}

/** How many elections each follower has seen a lead, once all do or at the deadline. */
async function seenBy(followers, withinMs) {
  const seen = () =>
    Promise.all(
      followers.map(async (s) => (await electionsOf(s)).filter((e) => e.leader === 'a').length),
    );
  const deadline = performance.now() + withinMs;
  let counts = await seen();
  while (counts.some((n) => n < ELECTIONS) && performance.now() < deadline) {
    await pause(500);
    counts = await seen().catch(() => counts);
  }
  return counts;
}

/** One sidecar in one election, leading, after the same settling and window. */
async function measureBaseline(backend, election) {
  const sidecar = await startSidecar(backend, 'one', [election]);
  try {
    await until(
      'the one-election sidecar leads',
      2 * TTL_MS + 30_000,
      () =>
        electionsOf(sidecar)
          .then((es) => es.every((e) => e.isLeader))
          .catch(() => false),
      500,
    );
    const { sidecars } = await measureIdle([sidecar]);
    const [one] = sidecars;
    return { rssMb: one.rssMb, cpuPercentOfCore: one.cpuPercentOfCore, requests: one.requests };
  } finally {
    await stopSidecar(sidecar);
  }
}

/**
 * Past the launcher's collection 10 s after start and two renew intervals, then a window with
 * no HTTP request: each sidecar's CPU and store requests over it, its RSS at its end.
 */
async function measureIdle(sidecars) {
  const settleMs = Math.max(2 * RENEW_INTERVAL_MS, 11_000 - (Date.now() - sidecars[0].startedAt));
  await pause(settleMs);
  const before = await Promise.all(sidecars.map(snapshot));
  const windowStart = performance.now();
  await pause(IDLE_S * 1000);
  const windowMs = performance.now() - windowStart;
  const after = await Promise.all(sidecars.map(snapshot));
  const intervals = windowMs / RENEW_INTERVAL_MS;
  const round = (n) => Number(n.toFixed(1));
  return {
    loadAtIdle: loadAverage(),
    sidecars: sidecars.map((sidecar, i) => {
      const ops = {};
      for (const [op, n] of Object.entries(after[i].requests)) {
        ops[op] = round((n - (before[i].requests[op] ?? 0)) / intervals);
      }
      const total = Object.values(ops).reduce((sum, n) => sum + n, 0);
      return {
        id: sidecar.id,
        role: sidecar.id === 'a' ? 'leader' : 'follower',
        requestsPerRenewInterval: round(total),
        requestsPerSecond: round((total / RENEW_INTERVAL_MS) * 1000),
        requests: ops,
        cpuPercentOfCore: round(
          ((after[i].cpuTicks - before[i].cpuTicks) / CLK_TCK / windowMs) * 1e5,
        ),
        rssMb: Math.round(after[i].rssKb / 1024),
        metricsSeries: after[i].series,
      };
    }),
  };
}

/**
 * SIGKILL a (the leader of every election); the time until b and c lead all again, by
 * their own /v1/elections. The ledger sees every answer from before the kill to the end.
 */
async function killLeader(sidecars, names) {
  const ledger = new LeaderLedger(names);
  const survivors = sidecars.filter((s) => s.id !== 'a');
  await ledger.poll(sidecars, electionsOf);
  const before = await Promise.all(survivors.map(snapshot));
  const killedAt = performance.now();
  sidecars[0].child.kill('SIGKILL');
  let ledAgainMs = null;
  let firstLedAgainMs = null;
  let mostLed = 0;
  const deadline = killedAt + 3 * TTL_MS + 60_000;
  while (performance.now() < deadline) {
    const views = await ledger.poll(survivors, electionsOf);
    const led = new Set(views.flatMap((view) => view.filter((e) => e.isLeader).map((e) => e.name)));
    mostLed = Math.max(mostLed, led.size);
    // The first election led again: about when the dead leader's leases ran out (4-6 s
    // after the kill, by where in its renew interval it died), so the rest is the claims'.
    if (led.size > 0) firstLedAgainMs ??= Math.round(performance.now() - killedAt);
    if (led.size === names.length) {
      ledAgainMs = Math.round(performance.now() - killedAt);
      break;
    }
    await pause(100);
  }
  const after = await Promise.all(survivors.map(snapshot));
  // A little longer: a second leader would show up now if the handover were unsafe.
  const watchedTo = performance.now() + RENEW_INTERVAL_MS;
  while (performance.now() < watchedTo) await ledger.poll(survivors, electionsOf);
  return {
    ledAgainAfterKillMs: ledAgainMs,
    firstLedAgainAfterKillMs: firstLedAgainMs,
    mostLedAgain: mostLed,
    // Each survivor's claim requests from the kill until all were led (a batch counts once).
    acquireRequestsInTakeover: survivors.map(
      (s, i) => (after[i].requests.acquire ?? 0) - (before[i].requests.acquire ?? 0),
    ),
    targetMs: TTL_MS + 1000,
    twoLeaders: ledger.violations.length,
    twoLeadersExamples: ledger.violations.slice(0, 3),
    leaderAnswersChecked: ledger.answers,
  };
}

async function startSidecar(backend, id, names) {
  const startedAt = Date.now();
  const { child, url } = startListening(['--store', STORES[backend], '--id', id, '--port', '0'], {
    LEASEHOLD_ELECTION: names.join(','),
    LEASEHOLD_TTL: `${TTL_MS}ms`,
    LEASEHOLD_STORE_PREFIX: NAMESPACE,
  });
  return { id, child, url: await url.catch(rethrowAs(id)), startedAt };
}

/** An error of sidecar `id`'s start, named. */
function rethrowAs(id) {
  return (error) => {
    throw new Error(`${id}: ${error.message}`);
  };
}

function stopSidecar({ child }) {
  return stopProcess(child);
}

async function electionsOf(sidecar) {
  const response = await fetch(`${sidecar.url}/v1/elections`);
  const body = await response.json();
  return body.elections;
}

/** RSS, then store requests by op (each once: the sidecar's measured store), CPU ticks. */
async function snapshot(sidecar) {
  // RSS first: rendering the metrics (12,000 series at 1,000 elections) makes garbage.
  const status = readFileSync(`/proc/${sidecar.child.pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
  const text = await (await fetch(`${sidecar.url}/metrics`)).text();
  const requests = {};
  for (const match of text.matchAll(
    /^leasehold_store_request_duration_seconds_count\{([^}]*)\} (\d+)/gm,
  )) {
    const op = /op="([^"]+)"/.exec(match[1])?.[1] ?? '?';
    requests[op] = (requests[op] ?? 0) + Number(match[2]);
  }
  const series = text.split('\n').filter((line) => line !== '' && !line.startsWith('#')).length;
  const stat = readFileSync(`/proc/${sidecar.child.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuTicks = Number(fields[11]) + Number(fields[12]);
  return { requests, cpuTicks, rssKb, series };
}

function printTable(results) {
  const print = values.json ? (line) => process.stderr.write(`${line}\n`) : console.log;
  print(
    '| backend | sidecar | req / renew interval | CPU % | RSS MB (one election) | first-all led again | two leaders | load |',
  );
  print('|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    for (const s of r.sidecars) {
      print(
        `| ${r.backend} | ${s.id} (${s.role}) | ${s.requestsPerRenewInterval} ${JSON.stringify(s.requests)} | ${s.cpuPercentOfCore} | ${s.rssMb} (${r.baseline.rssMb}) | ${r.firstLedAgainAfterKillMs}-${r.ledAgainAfterKillMs} ms (acquire ${r.acquireRequestsInTakeover.join('/')}) | ${r.twoLeaders} | ${r.load.join(' ')} |`,
      );
    }
  }
}
