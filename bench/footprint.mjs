// Idle footprint of a sidecar that leads: RSS and CPU over a minute (docs/design.md §6).
// Usage: node bench/footprint.mjs [--store redis://127.0.0.1:6379] [--seconds 60] [--settle 90]
//        [--node-flags=--max-semi-space-size=1]
// Build first (pnpm build). Linux only (reads /proc).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { stopProcess } from './lib/sidecar.mjs';
import { SIDECAR_BIN as bin } from '@leasehold/testkit';

const { values } = parseArgs({
  options: {
    store: { type: 'string', default: 'redis://127.0.0.1:6379' },
    seconds: { type: 'string', default: '60' },
    // V8 sizes its young generation for start-up (module loading, schema compilation) and
    // gives it back after about a minute idle: measure the sidecar as it idles for days.
    settle: { type: 'string', default: '90' },
    // V8/Node flags for the sidecar's node, e.g. "--max-semi-space-size=1".
    'node-flags': { type: 'string' },
    'store-prefix': { type: 'string', default: 'lhpf_bench' },
    json: { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const ticksPerSecond = 100; // USER_HZ on Linux

const args = ['--store', values.store, '--election', `bench-idle-${process.pid}`, '--port', '0'];
args.push('--store-prefix', values['store-prefix']);
const nodeFlags = (values['node-flags'] ?? '').split(' ').filter(Boolean);
const child = spawn(process.execPath, [...nodeFlags, bin, ...args], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
await new Promise((resolve) =>
  createInterface({ input: child.stdout }).on('line', (line) => JSON.parse(line).url && resolve()),
);

const rssMb = () =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) / 1024;
const cpuTicks = () => {
  const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
};

// RSS during start-up and settling, every 10 s, to show where the steady state begins.
const settling = [];
const settleUntil = performance.now() + Number(values.settle) * 1_000;
while (performance.now() < settleUntil) {
  settling.push(rssMb().toFixed(0));
  await new Promise((resolve) => setTimeout(resolve, 10_000));
}
const startTicks = cpuTicks();
const startedAt = performance.now();
const samples = [];
while (performance.now() - startedAt < seconds * 1_000) {
  samples.push(rssMb());
  await new Promise((resolve) => setTimeout(resolve, 1_000));
}
const maxRss = Math.max(...samples);
const medianRss = [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)];
const elapsedS = (performance.now() - startedAt) / 1_000;
const cpuPercent = ((cpuTicks() - startTicks) / ticksPerSecond / elapsedS) * 100;
await stopProcess(child);
if (values.json) {
  const backend = values.store.split(':')[0];
  const settlingMb = settling.map(Number);
  console.log(
    JSON.stringify({ backend, medianRssMb: medianRss, maxRssMb: maxRss, cpuPercent, settlingMb }),
  );
  process.exit(0);
}
console.log(
  `settling (MB every 10 s): ${settling.join(' ')}\n` +
    `idle ${elapsedS.toFixed(0)} s on ${values.store.split(':')[0]}${nodeFlags.length > 0 ? ` (${nodeFlags.join(' ')})` : ''}, after ${values.settle} s: ` +
    `RSS median ${medianRss.toFixed(1)} MB, max ${maxRss.toFixed(1)} MB, CPU ${cpuPercent.toFixed(2)} % of a core`,
);
