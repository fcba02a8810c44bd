// Packing the workspace packages as they are published, and installing the tarballs into a
// scratch project as a user outside the workspace would: used by scripts/release.mjs and
// test/packing.test.ts.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function run(command, args, cwd, env = process.env) {
  return execFileSync(command, args, {
    cwd,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * `pnpm pack` applies publishConfig and turns workspace:* into versions; returns the path
 * of the tarball it wrote into `destination`.
 */
export function pack(packageDir, destination) {
  const out = run('pnpm', ['pack', '--pack-destination', destination], packageDir);
  return out.trim().split('\n').at(-1) ?? '';
}

/** A new npm project in `parent`/`name` with `dependencies` (tarballs or specs) installed. */
export function scratchProject(parent, name, dependencies, extraArgs = []) {
  const dir = join(parent, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }));
  run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--loglevel=error', ...extraArgs, ...dependencies],
    dir,
  );
  return dir;
}
