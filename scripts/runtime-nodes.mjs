// The `node` binaries of every runtime CI tests on: this process's and those
// scripts/runtimes.sh installs (for scripts/release.mjs and bench/runtimes.mjs).
import { execFileSync } from 'node:child_process';

const SCRIPT = new URL('./runtimes.sh', import.meta.url).pathname;

const runtimes = (...args) => execFileSync('bash', [SCRIPT, ...args], { encoding: 'utf8' }).trim();

export function runtimeNodes() {
  const versions = runtimes('versions').split('\n');
  return [process.execPath, ...versions.map((version) => `${runtimes('bin', version)}/node`)];
}
