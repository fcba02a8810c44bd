// Memory under churn (issue 28): three sidecars of one election on one backend, the leader
// resigning every --interval ms for --minutes, each sidecar's RSS and open descriptors sampled
// every --sample seconds. Target: a sidecar plateaus at ≤ 1.5× its idle RSS (after --settle
// seconds with no request), its descriptors flat: a plateau, not a leak.
//
//   node bench/churn.mjs [--backend redis,etcd] [--minutes 10] [--settle 60] [--interval 500]
//                        [--sample 10] [--quick] [--json] [--out FILE]
//
// --quick: 6 s of churn after 2 s, sampled every second (the test's mode; not saved). Otherwise the rows replace
// the same backends' in bench/results/churn.json (or --out), which report.mjs renders.
// Needs the test stores (scripts/services.sh) and a build (pnpm build).
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { childrenOf, pause } from '@leasehold/testkit';
import { mergeChurn } from './lib/churn-report.mjs';
import { loadAverage } from './lib/machine.mjs';
import { startListening, stopProcess } from './lib/sidecar.mjs';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'redis,etcd' },
    minutes: { type: 'string', default: '10' },
    settle: { type: 'string', default: '60' },
    interval: { type: 'string', default: '500' },
    sample: { type: 'string', default: '10' },
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const STORES = {
  redis: 'redis://127.0.0.1:6379',
  postgres: 'postgres://postgres@127.0.0.1:5432/test',
  etcd: 'etcd://127.0.0.1:2379',
  zookeeper: 'zk://127.0.0.1:2181',
  sqlite: `sqlite:///tmp/lhpf-churn-${process.pid}.db`,
};
const quick = values.quick;
const CHURN_MS = quick ? 6_000 : Number(values.minutes) * 60_000;
const SETTLE_MS = quick ? 2_000 : Number(values.settle) * 1_000;
const SAMPLE_MS = quick ? 1_000 : Number(values.sample) * 1_000;
const INTERVAL_MS = Number(values.interval);
const TOKEN = randomUUID();
const NAMESPACE = 'lhpf_bench';
const mb = (kb) => Math.round(kb / 102.4) / 10;

const started = [];
process.once('SIGINT', () => {
  for (const { child } of started) child.kill('SIGKILL');
  process.exit(130);
});

/** One sidecar; resolves once it listens. */
async function startSidecar(backend, id, election) {
  const { child, url } = startListening(['--store', STORES[backend], '--id', id, '--port', '0'], {
    LEASEHOLD_ELECTION: election,
    LEASEHOLD_NAMESPACE: NAMESPACE,
    LEASEHOLD_ADMIN_TOKEN: TOKEN,
  });
  const sidecar = { id, child, url: '' };
  started.push(sidecar);
  sidecar.url = await url;
  return sidecar;
}

/** The process and every descendant (a launcher may start the sidecar as a child). */
function processTree(root) {
  const tree = [root];
  for (let i = 0; i < tree.length; i += 1) tree.push(...childrenOf(tree[i]));
  return tree;
}

/** RSS (kB) and open descriptors of a sidecar's processes together. */
function footprint({ child }) {
  let rssKb = 0;
  let fds = 0;
  for (const pid of processTree(child.pid)) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      rssKb += Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      fds += readdirSync(`/proc/${pid}/fd`).length;
    } catch {
      // Gone meanwhile.
    }
  }
  return { rssKb, fds };
}

async function leaderOf(sidecars) {
  for (const sidecar of sidecars) {
    try {
      const answer = await (await fetch(`${sidecar.url}/v1/leader`)).json();
      if (answer.leader !== null) return sidecars.find((s) => s.id === answer.leader) ?? null;
    } catch {
      // Ask the next one.
    }
  }
  return null;
}

/** Resign whoever leads, every INTERVAL_MS, until `endAt`; sample every SAMPLE_MS. */
async function churn(sidecars, endAt, samples) {
  const counts = { resigned: 0, noLeader: 0, failed: 0 };
  let nextSampleAt = Date.now();
  while (Date.now() < endAt) {
    const tickAt = Date.now();
    if (tickAt >= nextSampleAt) {
      samples.push({ at: tickAt, each: sidecars.map(footprint) });
      nextSampleAt += SAMPLE_MS;
    }
    const leader = await leaderOf(sidecars);
    if (leader === null) counts.noLeader += 1;
    else {
      const answer = await fetch(`${leader.url}/v1/resign`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}` },
      }).catch(() => null);
      if (answer?.ok === true) counts.resigned += 1;
      else counts.failed += 1;
    }
    await pause(Math.max(0, tickAt + INTERVAL_MS - Date.now()));
  }
  samples.push({ at: Date.now(), each: sidecars.map(footprint) });
  return counts;
}

/** Per sidecar: idle, the churn's second half (its peak), the end; descriptors first and last. */
function summarise(sidecars, idle, samples) {
  const half = samples.slice(Math.floor(samples.length / 2));
  return sidecars.map((sidecar, i) => {
    const peakKb = Math.max(...half.map((s) => s.each[i].rssKb));
    return {
      id: sidecar.id,
      idleRssMb: mb(idle[i].rssKb),
      midRssMb: mb(half[0].each[i].rssKb),
      peakRssMb: mb(peakKb),
      endRssMb: mb(samples.at(-1).each[i].rssKb),
      ratio: Math.round((peakKb / idle[i].rssKb) * 100) / 100,
      fdsIdle: idle[i].fds,
      fdsEnd: samples.at(-1).each[i].fds,
    };
  });
}

async function runBackend(backend) {
  const election = `churn-${process.pid}-${backend}`;
  const sidecars = [];
  try {
    for (const id of ['a', 'b', 'c'])
      sidecars.push(await startSidecar(backend, `churn-${id}`, election));
    await pause(SETTLE_MS);
    const idle = sidecars.map(footprint);
    const loadAtStart = loadAverage();
    const samples = [];
    const counts = await churn(sidecars, Date.now() + CHURN_MS, samples);
    return {
      backend,
      sidecars: summarise(sidecars, idle, samples),
      ...counts,
      load: [loadAtStart, loadAverage()],
    };
  } finally {
    await Promise.all(sidecars.map(({ child }) => stopProcess(child)));
  }
}

const rows = [];
for (const backend of values.backend.split(',')) {
  if (!(backend in STORES)) throw new Error(`--backend: unknown backend "${backend}"`);
  if (!values.json) console.error(`churn: ${backend}, ${CHURN_MS / 1000} s of churn…`);
  rows.push(await runBackend(backend));
}
const run = {
  date: new Date().toISOString(),
  node: process.version,
  minutes: CHURN_MS / 60_000,
  settleSeconds: SETTLE_MS / 1000,
  intervalMs: INTERVAL_MS,
  rows,
};
if (!quick) {
  const file = values.out ?? new URL('./results/churn.json', import.meta.url).pathname;
  const saved = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
  writeFileSync(file, `${JSON.stringify(mergeChurn(saved, run), null, 2)}\n`);
}
console.log(JSON.stringify(run, null, values.json ? 0 : 2));
