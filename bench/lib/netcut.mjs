// The leader's path to its store cut while it stays alive: the leader runs in a network
// namespace of its own (chaos/src/netlab.ts), a private store in the lab's store host,
// the followers in the root namespace; nftables drops every packet between the leader's
// host and the store. Needs root, ip, nft; uses the prefix `lhpf`.
import { execFileSync, spawn } from 'node:child_process';
import {
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
  chmodSync,
  appendFileSync,
} from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { Pool, now } from './pool.mjs';
import { takeoverBound } from './failover.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** netlab.ts, compiled on the fly (it has no dependencies beyond Node). */
async function loadNetlab() {
  const source = readFileSync(new URL('../../chaos/src/netlab.ts', import.meta.url), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  const dir = mkdtempSync(join(tmpdir(), 'lhpf-netlab-'));
  const file = join(dir, 'netlab.mjs');
  writeFileSync(file, outputText);
  try {
    return await import(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function portOpen(host, port) {
  return new Promise((resolve) => {
    const socket = createConnection(port, host);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

async function waitForPort(host, port, what) {
  const deadline = now() + 30_000;
  while (!(await portOpen(host, port))) {
    if (now() > deadline) throw new Error(`${what} did not start`);
    await sleep(100);
  }
}

const PG_BIN = () => {
  const versions = execFileSync('ls', ['/usr/lib/postgresql'], { encoding: 'utf8' }).split('\n');
  return `/usr/lib/postgresql/${versions.filter(Boolean).sort().at(-1)}/bin`;
};

/** A private store of `backend` in the lab's store host; resolves to its URL and a stop(). */
async function startStore(lab, backend) {
  const dir = mkdtempSync(join(tmpdir(), `lhpf-${backend}-`));
  const host = lab.storeAddress;
  let argv;
  let url;
  let port;
  if (backend === 'redis') {
    port = 6391;
    argv = ['redis-server', '--port', String(port), '--bind', '0.0.0.0', '--protected-mode', 'no'];
    argv.push('--save', '', '--appendonly', 'no', '--dir', dir);
    url = `redis://${host}:${port}`;
  } else if (backend === 'etcd') {
    port = 2391;
    argv = ['etcd', '--name', 'lhpf', '--data-dir', join(dir, 'data')];
    argv.push('--listen-client-urls', `http://0.0.0.0:${port}`);
    argv.push('--advertise-client-urls', `http://${host}:${port}`);
    argv.push('--listen-peer-urls', 'http://127.0.0.1:2392');
    argv.push('--initial-advertise-peer-urls', 'http://127.0.0.1:2392');
    argv.push('--initial-cluster', 'lhpf=http://127.0.0.1:2392');
    url = `etcd://${host}:${port}`;
  } else {
    port = 5491;
    chmodSync(dir, 0o777);
    const data = join(dir, 'data');
    execFileSync(
      'runuser',
      [
        '-u',
        'postgres',
        '--',
        `${PG_BIN()}/initdb`,
        '-D',
        data,
        '-A',
        'trust',
        '-U',
        'postgres',
        '--no-sync',
      ],
      { stdio: 'ignore' },
    );
    appendFileSync(join(data, 'pg_hba.conf'), 'host all all 0.0.0.0/0 trust\n');
    argv = [
      'runuser',
      '-u',
      'postgres',
      '--',
      `${PG_BIN()}/postgres`,
      '-D',
      data,
      '-p',
      String(port),
    ];
    argv.push('-c', 'listen_addresses=0.0.0.0', '-c', 'fsync=off', '-k', dir);
    url = `postgres://postgres@${host}:${port}/postgres`;
  }
  const [command, ...args] = lab.store.wrap(argv);
  const child = spawn(command, args, { stdio: 'ignore', detached: true });
  await waitForPort(host, port, backend);
  return {
    url,
    async stop() {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Gone already; lab.destroy() kills whatever is left in the namespace.
      }
      await sleep(200);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * One round per implementation: the leader's store path cut. `takeoverMs`: cut → another
 * candidate elected; `stepDownMs`: cut → the cut leader's own code stops answering that it
 * leads; `overlapMs`: how long both answered yes (0 when the old one stepped down first).
 */
export async function storePathCut({ backend, implementations, rounds, ttlMs, retryMs, log }) {
  const { createNetLab } = await loadNetlab();
  const lab = createNetLab('lhpf');
  const results = {};
  let store = null;
  try {
    const host = lab.addHost('c1');
    store = await startStore(lab, backend);
    for (const implementation of implementations) {
      const samples = [];
      for (let round = 0; round < rounds; round += 1) {
        log(`  ${backend} ${implementation}: store path cut, round ${round + 1}/${rounds}`);
        const election = `cut-${Date.now().toString(36)}-${round}`;
        const pool = new Pool({ implementation, store: store.url, election, ttlMs, retryMs });
        try {
          samples.push(await cutRound(pool, host, ttlMs));
        } finally {
          host.healStore();
          await pool.destroy();
        }
      }
      results[implementation] = samples;
    }
  } finally {
    await store?.stop();
    lab.destroy();
  }
  return results;
}

async function cutRound(pool, host, ttlMs) {
  await pool.start('cut-leader', { wrap: host.wrap });
  const leader = await pool.currentLeader(takeoverBound(ttlMs));
  await pool.start('cut-f1');
  await pool.start('cut-f2');
  await sleep(1_500);
  const next = pool
    .waitFor((e) => e.event === 'elected' && e.id !== leader, takeoverBound(ttlMs))
    .catch(() => null);
  const cutAt = now();
  host.cutStore();
  let stepDownAt = null;
  const watching = (async () => {
    while (now() - cutAt < takeoverBound(ttlMs)) {
      const answer = await pool.isLeader(leader);
      if (answer !== null && !answer.isLeader) {
        stepDownAt = answer.at;
        return;
      }
      await sleep(5);
    }
  })();
  const elected = await next;
  await watching;
  const newAt = elected?.at ?? null;
  return {
    takeoverMs: newAt === null ? null : newAt - cutAt,
    stepDownMs: stepDownAt === null ? null : stepDownAt - cutAt,
    overlapMs: newAt === null ? 0 : stepDownAt === null ? null : Math.max(0, stepDownAt - newAt),
  };
}
