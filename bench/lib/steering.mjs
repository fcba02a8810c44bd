// Steering leadership (issue 26): a transfer's handoff against a graceful one on the same
// candidates, the handoffs of a rolling update of five replicas, and how long an unhealthy
// leader keeps leading. leasehold only: the alternatives have no such controls.
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { spawn } from 'node:child_process';
import { SIDECAR_BIN, pause } from '@leasehold/testkit';
import { gracefulHandoff, takeoverBound } from './failover.mjs';
import { BENCH_NAMESPACE, now, Pool } from './pool.mjs';
import { stopProcess } from './sidecar.mjs';

/**
 * Transfer to a follower (the other two in turn): time from the request to the target's
 * `elected`; then, on the same three candidates, the graceful handoff (SIGTERM) for scale.
 * A failed transfer (its outcome or a refusal) is a null sample, with its reason kept.
 */
export async function transferHandoff(options, rounds, log) {
  const pool = new Pool({ ...options, implementation: 'leasehold' });
  const samples = [];
  const failures = [];
  try {
    for (const id of ['c1', 'c2', 'c3']) await pool.start(id);
    await pause(2 * options.retryMs);
    log(`transfer x${rounds}`);
    for (let round = 0; round < rounds; round += 1) {
      const leader = await pool.currentLeader(takeoverBound(options.ttlMs));
      const followers = ['c1', 'c2', 'c3'].filter((id) => id !== leader);
      const to = followers[round % followers.length];
      const elected = pool
        .waitFor((e) => e.event === 'elected' && e.id === to, takeoverBound(options.ttlMs))
        .catch(() => null);
      const sentAt = now();
      const answer = await pool.transfer(leader, to);
      const won = answer?.outcome?.transferred === true ? await elected : null;
      samples.push(won === null ? null : won.at - sentAt);
      if (won === null) failures.push(answer?.error ?? answer?.outcome?.code ?? 'no answer');
      await pause(options.retryMs * (1 + Math.random()));
    }
    log(`graceful handoff x${rounds} (the same candidates, for scale)`);
    const graceful = await gracefulHandoff(pool, rounds, options.ttlMs);
    return { samples, failures, graceful: graceful.samples };
  } finally {
    await pool.destroy();
  }
}

/**
 * A rolling update of `replicas`: each old replica (started one after another, so the first
 * leads and the next is the longest running) is replaced by a new one with a higher
 * version, started before the old one stops. Counts the `elected` events after the first
 * leader: the handoffs. With `version: false` no candidate has a version (the old order).
 */
export async function rollingUpdate(options, replicas, { version = true } = {}) {
  const pool = new Pool({ ...options, implementation: 'leasehold' });
  const versions = version ? { old: '1.4.2', new: '1.5.0' } : { old: undefined, new: undefined };
  try {
    for (let i = 0; i < replicas; i += 1) await pool.start(`old${i}`, { version: versions.old });
    await pool.currentLeader(takeoverBound(options.ttlMs));
    await pause(2 * options.retryMs);
    const from = pool.events.length;
    for (let i = 0; i < replicas; i += 1) {
      await pool.start(`new${i}`, { version: versions.new });
      // Its member record is written and read by the others (a readiness delay, as in a
      // Deployment's minReadySeconds) before the old one goes.
      await pause(2 * options.retryMs);
      pool.signal(`old${i}`, 'SIGTERM');
      await pool.exited(`old${i}`);
      await pool.currentLeader(takeoverBound(options.ttlMs));
    }
    await pause(2 * options.retryMs);
    const elected = pool.events.slice(from).filter((e) => e.event === 'elected');
    return { handoffs: elected.length, leaders: elected.map((e) => e.id) };
  } finally {
    await pool.destroy();
  }
}

/** A local "app" per candidate whose health endpoint answers 200 or 500 as told. */
async function healthServer() {
  const failing = new Set();
  const server = createServer((request, response) => {
    response.statusCode = failing.has(request.url?.slice(1)) ? 500 : 200;
    response.end();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: (id) => `http://127.0.0.1:${port}/${id}`,
    fail: (id) => failing.add(id),
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** Start a real sidecar; resolves to the process, its `elected` lines fed to `onElected`. */
function startSidecar(options, id, extraArgs, onElected) {
  const child = spawn(
    process.execPath,
    [
      SIDECAR_BIN,
      ...['--store', options.store, '--election', options.election, '--id', id],
      ...['--port', '0', '--store-prefix', BENCH_NAMESPACE],
      ...['--ttl', `${options.ttlMs}ms`, '--retry-interval', `${options.retryMs}ms`],
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.includes('"event":"elected"')) onElected(id, now());
  });
  return child;
}

/**
 * Three sidecars with `--app-health` on a local app; the leader's app starts failing:
 * time from its first failing answer to another sidecar's `elected` (target: interval ×
 * failures + one handoff). The leader's tenure is past `--min-tenure` first.
 */
export async function unhealthyLeader(options, rounds, { intervalMs, failures, minTenureMs }) {
  const samples = [];
  for (let round = 0; round < rounds; round += 1) {
    const app = await healthServer();
    const election = `${options.election}-health-${round}`;
    const elected = [];
    const onElected = (id, at) => elected.push({ id, at });
    const health = (id) => [
      ...['--app-health', app.url(id), '--app-health-interval', `${intervalMs}ms`],
      ...['--app-health-failures', String(failures), '--min-tenure', `${minTenureMs}ms`],
    ];
    const children = ['h1', 'h2', 'h3'].map((id) =>
      startSidecar({ ...options, election }, id, health(id), onElected),
    );
    try {
      const waitFor = async (test, what) => {
        const deadline = now() + takeoverBound(options.ttlMs);
        while (!test()) {
          if (now() > deadline) throw new Error(`unhealthy leader: no ${what}`);
          if (children.every((c) => c.exitCode !== null)) {
            throw new Error(`unhealthy leader: every sidecar exited (${what})`);
          }
          await pause(5);
        }
      };
      await waitFor(() => elected.length > 0, 'first leader');
      const leader = elected[0].id;
      await pause(minTenureMs + 2 * options.retryMs);
      const failedAt = now();
      app.fail(leader);
      await waitFor(() => elected.some((e) => e.id !== leader), 'handover').catch(() => null);
      const next = elected.find((e) => e.id !== leader);
      samples.push(next === undefined ? null : next.at - failedAt);
    } finally {
      await Promise.all(children.map(stopProcess));
      await app.close();
    }
  }
  return { samples, intervalMs, failures, minTenureMs };
}
