// Start-up and idle footprint of the `leasehold` command on every Node runtime CI tests on
// (the machine's node and scripts/runtimes.sh's): writes bench/results/runtimes.json, which
// bench/report.mjs renders into RESULTS.md ("Node runtimes"). Idle footprint: a sidecar per
// backend, and a `leasehold run` candidate on Redis (sidecar and watchdog together, RSS and
// PSS; footprint.mjs --run), all side by side. A runtime not installed is skipped. Each idle
// sidecar's RSS is also recorded by kind (anon, file, shmem) with its PSS: what is the
// process's own and what is the `node` binary's, shared with every Node process on the host.
//
//   node bench/runtimes.mjs [--rounds 5] [--settle 60] [--seconds 30]
//
// Start-up is measured twice: the workspace's command (dist/, tsc's modules) and the bundled
// one the image and the self-contained release run (a `pnpm deploy` copy bundled by
// scripts/bundle.mjs, made once here in a scratch directory), interleaved per backend.
//
// Needs the test stores, a build, and `bash scripts/runtimes.sh install`. Each runtime runs
// this file again with --one: the helpers start sidecars with process.execPath.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { bundleSidecar } from '../scripts/bundle.mjs';
import { runtimeNodes } from '../scripts/runtime-nodes.mjs';
import { coldStart, nodeStart, runScript } from './lib/sidecar.mjs';

const { values } = parseArgs({
  options: {
    one: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '5' },
    settle: { type: 'string', default: '60' },
    seconds: { type: 'string', default: '30' },
    'bundled-bin': { type: 'string' },
  },
});
const STORES = {
  redis: 'redis://127.0.0.1:6379',
  postgres: 'postgres://postgres@127.0.0.1:5432/test',
  etcd: 'etcd://127.0.0.1:2379',
  zk: 'zk://127.0.0.1:2181',
  // An embedded store: a file in a directory of this run's own (leasehold refuses a
  // directory others may write), removed at the end.
  sqlite: 'sqlite://',
};
const ROOT = new URL('..', import.meta.url).pathname;
const p50 = (samples) => [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)];

/** This runtime: Node alone and each backend's cold start, then the idle sidecars side by side. */
async function measureThisRuntime() {
  const rounds = Number(values.rounds);
  const sqliteDir = mkdtempSync(join(tmpdir(), 'leasehold-bench-sqlite-'));
  STORES.sqlite = `sqlite://${join(sqliteDir, 'bench.db')}`;
  try {
    return await measureStartAndIdle(rounds);
  } finally {
    rmSync(sqliteDir, { recursive: true, force: true });
  }
}

async function measureStartAndIdle(rounds) {
  const start = { node: p50((await nodeStart(rounds)).samples) };
  const bundledStart = {};
  for (const [backend, url] of Object.entries(STORES)) {
    const plain = [];
    const bundled = [];
    // The scratch `pnpm deploy` copy has SQLite's native addon for the machine's node only
    // (the release adds one per major): the bundled command's SQLite start is not measured.
    const withBundled = backend !== 'sqlite';
    for (let round = 0; round < rounds; round += 1) {
      plain.push(...(await coldStart(url, 1)).samples);
      if (withBundled) bundled.push(...(await coldStart(url, 1, values['bundled-bin'])).samples);
    }
    start[backend] = p50(plain);
    if (withBundled) bundledStart[backend] = p50(bundled);
  }
  const idleArgs = ['--settle', values.settle, '--seconds', values.seconds];
  const idle = await Promise.all(
    Object.values(STORES).map((url) => runScript('footprint.mjs', ['--store', url, ...idleArgs])),
  );
  const runMode = await runScript('footprint.mjs', ['--store', STORES.redis, '--run', ...idleArgs]);
  const rss = Object.fromEntries(idle.map((r) => [r.backend, r.medianRssMb]));
  const cpu = Object.fromEntries(idle.map((r) => [r.backend, r.cpuPercent]));
  const memory = Object.fromEntries(
    idle.map((r) => [r.backend, { ...r.medianRssByKindMb, pss: r.medianPssMb }]),
  );
  const run = {
    rssMb: runMode.medianRssMb,
    pssMb: runMode.medianPssMb,
    processes: runMode.processes,
  };
  return {
    node: process.version,
    startMs: start,
    bundledStartMs: bundledStart,
    idleRssMb: rss,
    idleCpuPercent: cpu,
    idleMemoryMb: memory,
    run,
  };
}

if (values.one) {
  console.log(JSON.stringify(await measureThisRuntime()));
} else {
  const results = { date: new Date().toISOString(), loadavg: loadavg()[0], runtimes: [] };
  const scratch = mkdtempSync(join(tmpdir(), 'leasehold-bench-bundle-'));
  try {
    const deployed = join(scratch, 'app');
    execFileSync(
      'pnpm',
      ['--filter', '@leasehold/sidecar', 'deploy', '--prod', '--legacy', deployed],
      {
        cwd: ROOT,
        stdio: 'ignore',
      },
    );
    await bundleSidecar(deployed);
    const bundledBin = join(deployed, 'bin', 'leasehold.js');
    for (const node of runtimeNodes().filter((path) => existsSync(path))) {
      const args = [new URL(import.meta.url).pathname, '--one', '--bundled-bin', bundledBin];
      args.push(...process.argv.slice(2));
      const out = execFileSync(node, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
      results.runtimes.push(JSON.parse(out.trim().split('\n').at(-1)));
      console.error(`runtimes: ${JSON.stringify(results.runtimes.at(-1))}`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  results.loadavgAfter = loadavg()[0];
  writeFileSync(`${ROOT}bench/results/runtimes.json`, `${JSON.stringify(results, null, 2)}\n`);
}
