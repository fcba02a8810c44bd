// GET /v1/leader throughput and latency of a real sidecar, against a bare node:http server
// answering the same JSON (the floor any HTTP sidecar stands on). autocannon, 50
// connections, loopback. Build first (pnpm build).
// Usage: node bench/http-throughput.mjs [--store redis://127.0.0.1:6379] [--seconds 10] [--rounds 3]
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    store: { type: 'string', default: 'redis://127.0.0.1:6379' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
  },
});
const duration = Number(values.seconds);

function run(url) {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections: 50, duration }, (error, result) =>
      error ? reject(error) : resolve(result),
    );
  });
}

const bin = new URL('../packages/sidecar/bin/leasehold.js', import.meta.url).pathname;
const sidecar = spawn(
  process.execPath,
  [bin, '--store', values.store, '--election', `bench-http-${process.pid}`, '--port', '0'],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
const url = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('sidecar did not start')), 20_000);
  createInterface({ input: sidecar.stdout }).on('line', (line) => {
    const entry = JSON.parse(line);
    if (entry.url) {
      clearTimeout(timer);
      resolve(entry.url);
    }
  });
});
try {
  for (let i = 0; i < 100; i += 1) {
    const body = await (await fetch(`${url}/v1/leader`)).json();
    if (body.isLeader) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const sample = await (await fetch(`${url}/v1/leader`)).text();
  // The bare server gets a process of its own too, so neither shares autocannon's loop.
  const bare = spawn(
    process.execPath,
    [
      '-e',
      `const body = ${JSON.stringify(sample)};
       const server = require('node:http').createServer((_req, res) => {
         res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
         res.end(body);
       });
       server.listen(0, '127.0.0.1', () => console.log(server.address().port));`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const barePort = await new Promise((resolve) =>
    createInterface({ input: bare.stdout }).once('line', resolve),
  );
  const bareUrl = `http://127.0.0.1:${barePort}/v1/leader`;

  // Two cores and a load generator on one of them make single runs noisy: alternate the two
  // servers and compare medians.
  const rounds = Number(values.rounds);
  const bareRuns = [];
  const sidecarRuns = [];
  for (let round = 0; round < rounds; round += 1) {
    bareRuns.push(await run(bareUrl));
    sidecarRuns.push(await run(`${url}/v1/leader`));
  }
  bare.kill();
  const median = (runs, pick) => runs.map(pick).sort((a, b) => a - b)[Math.floor(runs.length / 2)];
  const line = (name, runs) =>
    `${name}: median ${Math.round(median(runs, (r) => r.requests.average))} req/s, p50 ${median(runs, (r) => r.latency.p50)} ms, ` +
    `p99 ${median(runs, (r) => r.latency.p99)} ms, errors ${runs.reduce((n, r) => n + r.errors + r.non2xx, 0)} ` +
    `(runs: ${runs.map((r) => Math.round(r.requests.average)).join(', ')})`;
  console.log(line('bare node:http ', bareRuns));
  console.log(line('leasehold      ', sidecarRuns));
  const ratio =
    median(sidecarRuns, (r) => r.requests.average) / median(bareRuns, (r) => r.requests.average);
  console.log(`ratio of medians ${ratio.toFixed(2)}x`);
} finally {
  sidecar.kill('SIGTERM');
}
