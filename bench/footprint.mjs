// Idle footprint of a sidecar that leads: RSS and CPU over a minute (docs/design.md §6).
// Usage: node bench/footprint.mjs [--store redis://127.0.0.1:6379] [--seconds 60] [--settle 90]
//        [--node-flags=--max-semi-space-size=1] [--run]
// --run measures a leading `leasehold run -- sleep …` candidate: the sidecar and its watchdog
// processes together (the command itself, the user's job, not counted), RSS and PSS (PSS
// shares the pages several processes map, such as the Node binary's, between them).
// --windows N measures N windows of --seconds one after the other and reports each one's CPU,
// and every thread's share of it by name (/proc/PID/task: the main thread, libuv's pool, V8's
// GC workers), to tell what wakes an idle sidecar (issue 28).
// RSS is also given by kind (/proc/PID/status): RssAnon (the JS heap, malloc, stacks: the
// process's own), RssFile (pages of files it maps, mostly the `node` binary's code and data,
// shared with every Node process on the host) and RssShmem; medians over the window.
// Build first (pnpm build). Linux only (reads /proc).
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { stopProcess } from './lib/sidecar.mjs';
import { SIDECAR_BIN as bin, pause } from '@leasehold/testkit';

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
    run: { type: 'boolean', default: false },
    windows: { type: 'string', default: '1' },
    // Another build's command (a copy of packages/sidecar with its own dist/), to compare.
    bin: { type: 'string', default: bin },
    json: { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const ticksPerSecond = 100; // USER_HZ on Linux

const args = ['--store', values.store, '--election', `bench-idle-${process.pid}`, '--port', '0'];
args.push('--store-prefix', values['store-prefix']);
const nodeFlags = (values['node-flags'] ?? '').split(' ').filter(Boolean);
const runArgs = values.run ? ['run', ...args, '--', 'sleep', '1000000'] : args;
const child = spawn(process.execPath, [...nodeFlags, values.bin, ...runArgs], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
// Ready once it listens, and in run mode once its command runs (its group is not counted).
let commandGroup = null;
await new Promise((resolve) => {
  let listening = false;
  createInterface({ input: child.stdout }).on('line', (line) => {
    const entry = JSON.parse(line);
    if (entry.url) listening = true;
    if (entry.event === 'command-started') commandGroup = entry.pid;
    if (listening && (!values.run || commandGroup !== null)) resolve();
  });
});

const procField = (pid, file, name) =>
  Number(new RegExp(`${name}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/${file}`, 'utf8'))[1]);
const stat = (pid) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
/** The sidecar and every process under it but the command's group (fields: ppid 1, pgrp 2). */
function measured() {
  const procs = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  const parents = new Map();
  for (const pid of procs) {
    try {
      const fields = stat(pid);
      parents.set(Number(pid), { ppid: Number(fields[1]), pgrp: Number(fields[2]) });
    } catch {
      // gone meanwhile
    }
  }
  const under = (pid) => {
    for (let p = pid; p > 1; p = parents.get(p)?.ppid ?? 0) if (p === child.pid) return true;
    return false;
  };
  return [...parents]
    .filter(([pid, p]) => under(pid) && p.pgrp !== commandGroup)
    .map(([pid]) => pid);
}
const sumKb = (file, name) => measured().reduce((sum, pid) => sum + procField(pid, file, name), 0);
const rssMb = () => sumKb('status', 'VmRSS') / 1024;
const RSS_KINDS = { anon: 'RssAnon', file: 'RssFile', shmem: 'RssShmem' };
const rssByKindMb = () =>
  Object.fromEntries(
    Object.entries(RSS_KINDS).map(([kind, field]) => [kind, sumKb('status', field) / 1024]),
  );
const pssMb = () => sumKb('smaps_rollup', 'Pss') / 1024;
const cpuTicks = () =>
  measured().reduce((sum, pid) => {
    const fields = stat(pid);
    return sum + Number(fields[11]) + Number(fields[12]); // utime + stime
  }, 0);

// RSS during start-up and settling, every 10 s, to show where the steady state begins.
const settling = [];
const settleUntil = performance.now() + Number(values.settle) * 1_000;
while (performance.now() < settleUntil) {
  settling.push(rssMb().toFixed(0));
  await pause(10_000);
}
/** CPU ticks of every thread of the measured processes, by thread name. */
function threadTicks() {
  const byName = {};
  for (const pid of measured()) {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const fields = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ');
        const name = fields[0].slice(fields[0].indexOf('(') + 1);
        const ticks = fields[1].split(' ');
        byName[name] = (byName[name] ?? 0) + Number(ticks[11]) + Number(ticks[12]);
      } catch {
        // The thread ended.
      }
    }
  }
  return byName;
}
const startTicks = cpuTicks();
const startThreads = threadTicks();
const startedAt = performance.now();
const samples = [];
const pssSamples = [];
const kindSamples = [];
const windowCpuPercent = [];
for (let window = 0; window < Number(values.windows); window += 1) {
  const windowTicks = cpuTicks();
  const windowStart = performance.now();
  while (performance.now() - windowStart < seconds * 1_000) {
    samples.push(rssMb());
    pssSamples.push(pssMb());
    kindSamples.push(rssByKindMb());
    await pause(1_000);
  }
  const windowS = (performance.now() - windowStart) / 1_000;
  windowCpuPercent.push(((cpuTicks() - windowTicks) / ticksPerSecond / windowS) * 100);
}
const endThreads = threadTicks();
const threadCpuTicks = Object.fromEntries(
  Object.entries(endThreads)
    .map(([name, ticks]) => [name, ticks - (startThreads[name] ?? 0)])
    .filter(([, ticks]) => ticks > 0)
    .sort((a, b) => b[1] - a[1]),
);
const maxRss = Math.max(...samples);
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const medianRss = median(samples);
const medianPss = median(pssSamples);
const medianByKind = Object.fromEntries(
  Object.keys(RSS_KINDS).map((kind) => [kind, median(kindSamples.map((sample) => sample[kind]))]),
);
const processes = measured().map((pid) => ({
  cmd: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, 3).join(' ').slice(-60),
  rssMb: procField(pid, 'status', 'VmRSS') / 1024,
  pssMb: procField(pid, 'smaps_rollup', 'Pss') / 1024,
}));
const elapsedS = (performance.now() - startedAt) / 1_000;
const cpuPercent = ((cpuTicks() - startTicks) / ticksPerSecond / elapsedS) * 100;
await stopProcess(child);
if (values.json) {
  const backend = values.store.split(':')[0];
  const settlingMb = settling.map(Number);
  console.log(
    JSON.stringify({
      backend,
      run: values.run,
      medianRssMb: medianRss,
      maxRssMb: maxRss,
      medianPssMb: medianPss,
      medianRssByKindMb: medianByKind,
      cpuPercent,
      ...(windowCpuPercent.length > 1 ? { windowCpuPercent, threadCpuTicks } : {}),
      settlingMb,
      processes,
    }),
  );
  process.exit(0);
}
console.log(
  `settling (MB every 10 s): ${settling.join(' ')}\n` +
    `idle ${elapsedS.toFixed(0)} s on ${values.store.split(':')[0]}${nodeFlags.length > 0 ? ` (${nodeFlags.join(' ')})` : ''}, after ${values.settle} s: ` +
    `${values.run ? 'run mode, all processes but the command: ' : ''}` +
    `RSS median ${medianRss.toFixed(1)} MB, max ${maxRss.toFixed(1)} MB, PSS median ${medianPss.toFixed(1)} MB, CPU ${cpuPercent.toFixed(2)} % of a core\n` +
    `RSS by kind (median MB): anon ${medianByKind.anon.toFixed(1)}, file ${medianByKind.file.toFixed(1)}, shmem ${medianByKind.shmem.toFixed(1)}\n` +
    (windowCpuPercent.length > 1
      ? `CPU per ${seconds} s window: ${windowCpuPercent.map((p) => p.toFixed(2)).join(', ')} %; ` +
        `CPU ticks (10 ms) by thread: ${JSON.stringify(threadCpuTicks)}\n`
      : '') +
    processes
      .map((p) => `  ${p.cmd}: RSS ${p.rssMb.toFixed(1)} MB, PSS ${p.pssMb.toFixed(1)} MB`)
      .join('\n'),
);
