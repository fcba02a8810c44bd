// The self-contained sidecar for hosts without pnpm: one directory with @leasehold/sidecar,
// its production dependencies and better-sqlite3's native addon for every supported Node
// major on this platform, runnable as `node bin/leasehold.js`, and deploy/systemd's units
// as systemd/ (docs/systemd.md installs from there). bin/leasehold.js runs the bundle
// (dist/bundle/, scripts/bundle.mjs) made in it: it starts faster than the separate modules.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { bundleSidecar } from '../bundle.mjs';
import { ROOT, readJson } from './config.mjs';
import { run } from './packing.mjs';

function sqlitePackage(from) {
  return run(
    process.execPath,
    ['-p', `require('path').dirname(require.resolve('better-sqlite3/package.json'))`],
    from,
  ).trim();
}

/**
 * `pnpm deploy --legacy` (as the Dockerfile does) copies the sidecar's files and installs
 * its production dependencies from the lockfile; the addon builds scripts/runtimes.sh left
 * in the workspace's better-sqlite3 (lib/binding/node-v<ABI>-<platform>-<arch>, where
 * `bindings` looks) replace the one built for the default node. The bundle is written into
 * the deployed copy, beside node_modules (better-sqlite3 and pino's workers load from there).
 */
export async function deployStandalone(target) {
  run('pnpm', ['--filter', '@leasehold/sidecar', 'deploy', '--prod', '--legacy', target], ROOT);
  await bundleSidecar(target);
  const deployed = sqlitePackage(target);
  const built = join(sqlitePackage(join(ROOT, 'packages/adapters')), 'lib', 'binding');
  // Only unlink in the deployed copy: its files may be hard links into pnpm's store.
  rmSync(join(deployed, 'build'), { recursive: true, force: true });
  mkdirSync(join(deployed, 'lib', 'binding'), { recursive: true });
  const abis = existsSync(built) ? readdirSync(built) : [];
  for (const abi of abis) {
    cpSync(join(built, abi), join(deployed, 'lib', 'binding', abi), { recursive: true });
  }
  cpSync(join(ROOT, 'deploy', 'systemd'), join(target, 'systemd'), { recursive: true });
  return abis;
}

/**
 * Starts the standalone sidecar with `node` on an SQLite file (the native addon loads,
 * the election runs, the HTTP server answers) and stops it; resolves to its `/v1/leader`.
 */
export async function smokeTest(dir, node) {
  const state = mkdtempSync(join(tmpdir(), 'leasehold-release-'));
  const bin = readJson(join(dir, 'package.json')).bin.leasehold; // not a fixed path: read it
  const args = [join(dir, bin), '--store', `sqlite://${state}/release.db`];
  const child = spawn(node, [...args, '--election', 'release-check', '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '' },
  });
  const stderr = [];
  child.stderr.on('data', (chunk) => stderr.push(chunk));
  try {
    const url = await firstUrl(child, 30_000);
    const leader = await waitForLeader(url, 30_000);
    return leader;
  } catch (error) {
    throw new Error(`${error.message}; stderr: ${Buffer.concat(stderr).toString()}`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) =>
      child.exitCode !== null ? resolve() : child.once('exit', resolve),
    );
    rmSync(state, { recursive: true, force: true });
  }
}

function firstUrl(child, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no listening line')), timeoutMs);
    child.once('exit', (code) => reject(new Error(`exited with ${code} before listening`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const url = /"url":"([^"]+)"/.exec(line)?.[1];
      if (url) {
        clearTimeout(timer);
        resolve(url);
      }
    });
  });
}

async function waitForLeader(url, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await (await fetch(`${url}/v1/leader`)).json();
    if (answer.isLeader) return answer;
    if (Date.now() > deadline) throw new Error(`not leading: ${JSON.stringify(answer)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
