// Scenarios on the real `leasehold` command: process start to first leader, and (through
// ../footprint.mjs and ../http-throughput.mjs, each in a process of its own) idle footprint
// and /v1/leader throughput.
import { execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { now } from './pool.mjs';
import { SIDECAR_BIN as BIN } from '@leasehold/testkit';

const BENCH = new URL('../', import.meta.url).pathname;

/**
 * Process start to the first `elected` line of a sidecar alone in a never-used election:
 * Node's own start, loading, connecting, the first acquire. The namespace has been used. `nodeMs` is Node alone
 * (`node -e 0`), for scale.
 */
export async function coldStart(store, rounds, bin = BIN) {
  const samples = [];
  // One start first, not counted: the files come into the page cache, and on Redis a
  // namespace the server has never served waits one TTL once (docs/stores.md).
  for (let round = -1; round < rounds; round += 1) {
    const election = `cold-${Date.now().toString(36)}-${round}`;
    const startedAt = now();
    const child = spawn(
      process.execPath,
      [
        bin,
        '--store',
        store,
        '--election',
        election,
        '--port',
        '0',
        '--store-prefix',
        'lhpf_bench',
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const elected = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), 20_000);
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (line.includes('"event":"elected"')) {
          clearTimeout(timer);
          resolve(now());
        }
      });
    });
    if (round >= 0) samples.push(elected === null ? null : elected - startedAt);
    await stopProcess(child);
  }
  return { samples };
}

export async function nodeStart(rounds) {
  const samples = [];
  for (let round = 0; round < rounds; round += 1) {
    const startedAt = now();
    await new Promise((resolve) => execFile(process.execPath, ['-e', '0'], resolve));
    samples.push(now() - startedAt);
  }
  return { samples };
}

/**
 * Start the `leasehold` command with `args` and `env` (added to this process's) and resolve
 * with the child and the URL of its listening line; reject if it exits or has not listened
 * within `withinMs`. Its stdout stays read (a sidecar whose log reader is gone exits).
 */
export function startListening(args, env, { withinMs = 60_000, bin = BIN } = {}) {
  const child = spawn(process.execPath, [bin, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  const url = new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${args.join(' ')}: no listening line within ${withinMs} ms`)),
      withinMs,
    );
    child.once('exit', (code) => reject(new Error(`exited (${code}) before listening`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const match = /"url":"([^"]+)"/.exec(line);
      if (match === null) return;
      clearTimeout(timer);
      resolve(match[1]);
    });
  });
  return { child, url };
}

/** Run one of the stand-alone benchmark scripts with --json; resolves to its last line. */
export function runScript(script, args) {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [`${BENCH}${script}`, ...args, '--json'],
      { maxBuffer: 1 << 24 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`${script}: ${error.message}\n${stderr}`));
        const last = stdout.trim().split('\n').at(-1) ?? '';
        try {
          resolve(JSON.parse(last));
        } catch {
          reject(new Error(`${script} printed no JSON: ${stdout}`));
        }
      },
    );
  });
}

/**
 * SIGTERM, and wait for the exit while its output is still read: a sidecar whose stdout
 * reader has gone does not always exit (seen on SQLite). SIGKILL after 15 s.
 */
export async function stopProcess(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}
