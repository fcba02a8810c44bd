import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN } from './helpers/sidecar-processes.js';

// The launcher's compile cache (bin/leasehold.js): on where Node has one, in the user's
// cache directory, and never a reason not to start.
const hasCache =
  typeof createRequire(import.meta.url)('node:module').enableCompileCache === 'function';
const scratch = mkdtempSync(join(tmpdir(), 'leasehold-compile-cache-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function version(xdgCacheHome: string) {
  const env = { ...process.env, XDG_CACHE_HOME: xdgCacheHome };
  delete env.NODE_COMPILE_CACHE;
  delete env.NODE_DISABLE_COMPILE_CACHE;
  return spawnSync(process.execPath, [BIN, '--version'], { encoding: 'utf8', env });
}

const entries = (dir: string): string[] =>
  existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String) : [];

describe('the compile cache', () => {
  it(`is written under $XDG_CACHE_HOME/leasehold/compile-cache${hasCache ? '' : ' (not on this Node)'}`, () => {
    const home = join(scratch, 'home');
    const result = version(home);
    expect(result.status, result.stderr).toBe(0);
    const cache = join(home, 'leasehold', 'compile-cache');
    if (hasCache) expect(entries(cache).length).toBeGreaterThan(0);
    else expect(entries(cache)).toEqual([]);
  });

  it('is left unused when others may write to its directory, and the command still runs', () => {
    const home = join(scratch, 'shared');
    const cache = join(home, 'leasehold', 'compile-cache');
    mkdirSync(cache, { recursive: true });
    chmodSync(cache, 0o777);
    const result = version(home);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect(entries(cache)).toEqual([]);
  });

  it('is no reason not to start when its directory cannot be made', () => {
    const home = join(scratch, 'a-file');
    writeFileSync(home, '');
    const result = version(home);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
