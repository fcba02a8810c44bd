// Idle footprint of a sidecar that leads: RSS and CPU over a minute (DESIGN §6).
// Usage: node bench/footprint.mjs [--store redis://127.0.0.1:6379] [--seconds 60]
// Build first (pnpm build). Linux only (reads /proc).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    store: { type: 'string', default: 'redis://127.0.0.1:6379' },
    seconds: { type: 'string', default: '60' },
  },
});
const seconds = Number(values.seconds);
const ticksPerSecond = 100; // USER_HZ on Linux

const bin = new URL('../packages/sidecar/bin/leasehold.js', import.meta.url).pathname;
const child = spawn(
  process.execPath,
  [bin, '--store', values.store, '--election', `bench-idle-${process.pid}`, '--port', '0'],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
await new Promise((resolve) =>
  createInterface({ input: child.stdout }).on('line', (line) => JSON.parse(line).url && resolve()),
);

const rssMb = () =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) / 1024;
const cpuTicks = () => {
  const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
};

await new Promise((resolve) => setTimeout(resolve, 5_000)); // let start-up settle
const startTicks = cpuTicks();
const startedAt = performance.now();
let maxRss = 0;
while (performance.now() - startedAt < seconds * 1_000) {
  maxRss = Math.max(maxRss, rssMb());
  await new Promise((resolve) => setTimeout(resolve, 1_000));
}
const elapsedS = (performance.now() - startedAt) / 1_000;
const cpuPercent = ((cpuTicks() - startTicks) / ticksPerSecond / elapsedS) * 100;
child.kill('SIGTERM');
console.log(
  `idle ${elapsedS.toFixed(0)} s on ${values.store.split(':')[0]}: max RSS ${maxRss.toFixed(1)} MB, CPU ${cpuPercent.toFixed(2)} % of a core`,
);
