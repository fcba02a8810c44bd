// Handoff benchmark: three candidate processes on one store (docs/design.md §6).
//   graceful: SIGTERM the leader; time from its stop() starting to a new leader's `elected`.
//   crash:    SIGKILL the leader; time from the store's lease expiry to a new `elected`
//             (not for ZooKeeper, which reports no remaining TTL: its leases end with the
//             session), and from the SIGKILL.
// Usage: node bench/handoff.mjs --store redis://127.0.0.1:6379 [--rounds 20] [--ttl 3000]
//        [--mode graceful|crash|both]
// Build first (pnpm build). Prints one summary line per mode, and JSON with --json.
import { createStore } from '@leasehold/adapters';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    store: { type: 'string' },
    rounds: { type: 'string', default: '20' },
    ttl: { type: 'string', default: '3000' },
    mode: { type: 'string', default: 'both' },
    json: { type: 'boolean', default: false },
  },
});
if (!values.store) {
  console.error(
    'usage: node bench/handoff.mjs --store <url> [--rounds N] [--ttl ms] [--mode graceful|crash|both]',
  );
  process.exit(2);
}

const election = `bench-${randomUUID().slice(0, 8)}`;
const ttl = Number(values.ttl);
const rounds = Number(values.rounds);
const candidateScript = new URL('./candidate.mjs', import.meta.url).pathname;
const now = () => performance.timeOrigin + performance.now();

const listeners = new Set();
const children = new Map();

function spawnCandidate(id) {
  const child = spawn(
    process.execPath,
    [
      candidateScript,
      '--store',
      values.store,
      '--election',
      election,
      '--id',
      id,
      '--ttl',
      String(ttl),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.set(id, child);
  createInterface({ input: child.stdout }).on('line', (line) => {
    let event;
    try {
      event = JSON.parse(line);
    } catch {
      return;
    }
    for (const listener of listeners) listener(event);
  });
  return waitFor((e) => e.event === 'started' && e.id === id, 15_000);
}

function waitFor(predicate, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      listeners.delete(listener);
      reject(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (event) => {
      if (!predicate(event)) return;
      clearTimeout(timer);
      listeners.delete(listener);
      resolve(event);
    };
    listeners.add(listener);
  });
}

function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', resolve));
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function summarize(name, samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const fmt = (v) => v.toFixed(1);
  return {
    name,
    n: sorted.length,
    p50: Number(fmt(percentile(sorted, 50))),
    p95: Number(fmt(percentile(sorted, 95))),
    max: Number(fmt(sorted.at(-1))),
    min: Number(fmt(sorted[0])),
  };
}

const observer = await createStore(values.store);
const ids = ['bench-a', 'bench-b', 'bench-c'];
let leader = null;
listeners.add((e) => {
  if (e.event === 'elected') leader = e;
});
try {
  for (const id of ids) await spawnCandidate(id);
  if (!leader) await waitFor((e) => e.event === 'elected', ttl * 3 + 5_000);

  const results = [];
  const modes = values.mode === 'both' ? ['graceful', 'crash'] : [values.mode];
  for (const mode of modes) {
    const samples = [];
    const sinceKill = [];
    let expiryKnown = true;
    for (let round = 0; round < rounds; round += 1) {
      const old = leader;
      const next = waitFor((e) => e.event === 'elected' && e.id !== old.id, ttl * 3 + 10_000);
      if (mode === 'graceful') {
        const stopping = waitFor((e) => e.event === 'stopping' && e.id === old.id, 5_000);
        children.get(old.id).kill('SIGTERM');
        const [stop, elected] = await Promise.all([stopping, next]);
        samples.push(elected.at - stop.at);
      } else {
        const killedAt = now();
        children.get(old.id).kill('SIGKILL');
        const readAt = now();
        const record = await observer.read(election);
        if (record?.remainingMs === null) expiryKnown = false;
        const expiresAt = readAt + (record?.remainingMs ?? 0);
        const elected = await next;
        samples.push(elected.at - expiresAt);
        sinceKill.push(elected.at - killedAt);
      }
      await exited(children.get(old.id));
      await spawnCandidate(old.id);
    }
    if (mode === 'graceful' || expiryKnown) results.push(summarize(mode, samples));
    // etcd reports a lease's time to live in whole seconds, so "after expiry" is only known
    // to ±1 s there; the time from SIGKILL (at most one TTL) is exact on every store.
    if (mode === 'crash') results.push(summarize('crash, from SIGKILL', sinceKill));
  }
  for (const r of results) {
    console.log(
      `${values.store.replace(/\/\/[^@/]*@/, '//***@')} ${r.name}: n=${r.n} p50=${r.p50} ms p95=${r.p95} ms max=${r.max} ms min=${r.min} ms` +
        (r.name === 'crash' ? ' (after lease expiry as the store reports it)' : ''),
    );
  }
  if (values.json) console.log(JSON.stringify({ store: values.store.split(':')[0], ttl, results }));
} finally {
  for (const child of children.values()) child.kill('SIGKILL');
  await observer.close();
}
