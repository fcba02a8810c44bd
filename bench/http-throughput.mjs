// GET /v1/leader throughput and latency of a real sidecar, against a bare node:http server
// answering the same JSON (the floor any HTTP sidecar stands on). autocannon, 50
// connections, loopback. Build first (pnpm build).
// Usage: node bench/http-throughput.mjs [--store redis://127.0.0.1:6379] [--seconds 10] [--rounds 3]
//        [--compare-bin path/to/other/leasehold.js]
// --compare-bin measures a second sidecar (another build's bin, e.g. main's) in the same
// rounds, interleaved with the bare server and this build's: on a shared machine the load
// moves between runs, and only runs side by side compare.
import autocannon from 'autocannon';
import { execFileSync, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { stopProcess } from './lib/sidecar.mjs';
import { SIDECAR_BIN as bin } from '@leasehold/testkit';

const { values } = parseArgs({
  options: {
    store: { type: 'string', default: 'redis://127.0.0.1:6379' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    // V8/Node flags for the sidecar's node, e.g. "--max-semi-space-size=1".
    'node-flags': { type: 'string' },
    'store-prefix': { type: 'string', default: 'lhpf_bench' },
    'compare-bin': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const duration = Number(values.seconds);

// On two cores the scheduler sometimes puts the load generator and the server on the same
// core, which halves throughput at random (runs came out bimodal, 20k vs 40k req/s). Pin
// autocannon (this process) to core 0 and each server to core 1, when taskset exists.
const pinned = availableParallelism() >= 2 && hasTaskset();
function hasTaskset() {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
if (pinned) execFileSync('taskset', ['-pc', '0', String(process.pid)], { stdio: 'ignore' });
function spawnServer(args, options) {
  return pinned
    ? spawn('taskset', ['-c', '1', process.execPath, ...args], options)
    : spawn(process.execPath, args, options);
}

/** CPU time (user + system) a process has used, in µs; Linux only. */
function cpuMicros(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100; // USER_HZ ticks
}

/**
 * 50 connections flat out, or one connection, one request at a time, for latency. Also the
 * server's own CPU time per request: on a shared VM, throughput swings with what the
 * neighbours do, CPU per request much less.
 */
async function run(url, server, connections = 50) {
  const cpuBefore = cpuMicros(server.pid);
  const result = await new Promise((resolve, reject) => {
    autocannon({ url, connections, duration }, (error, result) =>
      error ? reject(error) : resolve(result),
    );
  });
  result.cpuMicrosPerRequest = (cpuMicros(server.pid) - cpuBefore) / result.requests.total;
  return result;
}

/** A sidecar of `binPath` on its own election; resolves to it and its URL once it listens. */
async function startSidecar(binPath, election) {
  const child = spawnServer(
    [
      ...(values['node-flags'] ?? '').split(' ').filter(Boolean),
      binPath,
      '--store',
      values.store,
      '--election',
      election,
      '--port',
      '0',
      '--store-prefix',
      values['store-prefix'],
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const listening = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('sidecar did not start')), 20_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      const entry = JSON.parse(line);
      if (entry.url) {
        clearTimeout(timer);
        resolve(entry.url);
      }
    });
  });
  for (let i = 0; i < 100; i += 1) {
    const body = await (await fetch(`${listening}/v1/leader`)).json();
    if (body.isLeader) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, url: listening };
}

const { child: sidecar, url } = await startSidecar(bin, `bench-http-${process.pid}`);
const compared =
  values['compare-bin'] === undefined
    ? null
    : await startSidecar(values['compare-bin'], `bench-http-${process.pid}-compared`);
try {
  // The same answer, byte for byte: the body and the headers the sidecar sends (the load
  // generator parses every one of them, and on a saturated core that counts).
  const sampleResponse = await fetch(`${url}/v1/leader`);
  const sample = await sampleResponse.text();
  const sampleHeaders = Object.fromEntries(
    ['content-type', 'cache-control', 'leasehold-leader', 'leasehold-term'].map((name) => [
      name,
      sampleResponse.headers.get(name),
    ]),
  );
  // The bare server gets a process of its own too, so neither shares autocannon's loop.
  const bare = spawnServer(
    [
      '-e',
      `const body = ${JSON.stringify(sample)};
       const headers = { ...${JSON.stringify(sampleHeaders)}, 'content-length': Buffer.byteLength(body) };
       const server = require('node:http').createServer((_req, res) => {
         res.writeHead(200, headers);
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
  const comparedRuns = [];
  for (let round = 0; round < rounds; round += 1) {
    bareRuns.push(await run(bareUrl, bare));
    sidecarRuns.push(await run(`${url}/v1/leader`, sidecar));
    if (compared !== null) {
      comparedRuns.push(await run(`${compared.url}/v1/leader`, compared.child));
    }
  }
  // Flat out, 50 connections queue behind each other (mean latency = 50 / throughput) and
  // p99 mostly measures autocannon's own saturated core, for the bare server as much as for
  // the sidecar. One connection, one request at a time, shows the time a request takes.
  const bareSerial = [];
  const sidecarSerial = [];
  const comparedSerial = [];
  for (let round = 0; round < rounds; round += 1) {
    bareSerial.push(await run(bareUrl, bare, 1));
    sidecarSerial.push(await run(`${url}/v1/leader`, sidecar, 1));
    if (compared !== null) {
      comparedSerial.push(await run(`${compared.url}/v1/leader`, compared.child, 1));
    }
  }
  bare.kill();
  const median = (runs, pick) => runs.map(pick).sort((a, b) => a - b)[Math.floor(runs.length / 2)];
  const line = (name, runs) =>
    `${name}: median ${Math.round(median(runs, (r) => r.requests.average))} req/s, p50 ${median(runs, (r) => r.latency.p50)} ms, ` +
    `p99 ${median(runs, (r) => r.latency.p99)} ms, server CPU ${median(runs, (r) => r.cpuMicrosPerRequest).toFixed(1)} µs/req, errors ${runs.reduce((n, r) => n + r.errors + r.non2xx, 0)} ` +
    `(runs: ${runs.map((r) => Math.round(r.requests.average)).join(', ')})`;
  console.log('flat out:');
  console.log(line('bare node:http ', bareRuns));
  console.log(line('leasehold      ', sidecarRuns));
  if (compared !== null) console.log(line('compared bin   ', comparedRuns));
  const ratio =
    median(sidecarRuns, (r) => r.requests.average) / median(bareRuns, (r) => r.requests.average);
  console.log('one connection:');
  console.log(line('bare node:http ', bareSerial));
  console.log(line('leasehold      ', sidecarSerial));
  if (compared !== null) console.log(line('compared bin   ', comparedSerial));
  const cpuRatio =
    median(sidecarRuns, (r) => r.cpuMicrosPerRequest) /
    median(bareRuns, (r) => r.cpuMicrosPerRequest);
  console.log(
    `flat out: throughput ratio of medians ${ratio.toFixed(2)}x, server CPU per request ${cpuRatio.toFixed(2)}x bare` +
      `${pinned ? ' (load on core 0, servers on core 1)' : ''}`,
  );
  if (compared !== null) {
    const comparedRatio =
      median(comparedRuns, (r) => r.requests.average) / median(bareRuns, (r) => r.requests.average);
    const comparedCpu =
      median(comparedRuns, (r) => r.cpuMicrosPerRequest) /
      median(bareRuns, (r) => r.cpuMicrosPerRequest);
    console.log(
      `compared bin: throughput ratio ${comparedRatio.toFixed(2)}x, server CPU per request ${comparedCpu.toFixed(2)}x bare`,
    );
  }
  if (values.json) {
    const summary = (runs) => ({
      requestsPerSecond: Math.round(median(runs, (r) => r.requests.average)),
      p50Ms: median(runs, (r) => r.latency.p50),
      p99Ms: median(runs, (r) => r.latency.p99),
      cpuMicrosPerRequest: Number(median(runs, (r) => r.cpuMicrosPerRequest).toFixed(1)),
      errors: runs.reduce((n, r) => n + r.errors + r.non2xx, 0),
    });
    console.log(
      JSON.stringify({
        pinned,
        seconds: duration,
        rounds,
        flatOut: { bare: summary(bareRuns), leasehold: summary(sidecarRuns) },
        oneConnection: { bare: summary(bareSerial), leasehold: summary(sidecarSerial) },
        ...(compared === null
          ? {}
          : {
              compared: {
                bin: values['compare-bin'],
                flatOut: summary(comparedRuns),
                oneConnection: summary(comparedSerial),
              },
            }),
      }),
    );
  }
} finally {
  await stopProcess(sidecar);
  if (compared !== null) await stopProcess(compared.child);
}
