import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { readBootId, UNKNOWN_BOOT } from '../src/sqlite/boot-id.js';
import { SqliteStore } from '../src/sqlite/store.js';

/**
 * Off Linux there is no /proc/sys/kernel/random/boot_id. The fallback used to be the
 * process's own age (Date.now() - performance.timeOrigin), so two processes disagreed on
 * the boot and each took the other's live lease for expired: two leaders on the default
 * store of every macOS laptop (issue 14, item 4).
 */

const dir = mkdtempSync(join(tmpdir(), 'leasehold-sqlite-boot-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const failing = () => {
  throw new Error('not here');
};

function store(path: string, namespace: string, bootId?: string): SqliteStore {
  return new SqliteStore({
    path,
    namespace,
    busyTimeoutMs: 1_000,
    watchIntervalMs: 25,
    ...(bootId === undefined ? {} : { bootId }),
  });
}

describe('the boot id', () => {
  it('comes from the kernel, and is the same fixed value in every process where there is none', () => {
    expect(readBootId({ linux: () => 'abc-123\n', macos: failing })).toBe('abc-123');
    expect(readBootId({ linux: failing, macos: () => 'D0C5\n' })).toBe('D0C5');
    expect(readBootId({ linux: failing, macos: failing })).toBe(UNKNOWN_BOOT);
    expect(readBootId({ linux: () => '', macos: () => '' })).toBe(UNKNOWN_BOOT);
  });

  it('keeps one leader among stores that share no boot id', async () => {
    const path = join(dir, `${randomUUID()}.db`);
    const [a, b] = [store(path, 'x', UNKNOWN_BOOT), store(path, 'x', UNKNOWN_BOOT)];
    const first = await a.tryAcquire({ election: 'jobs', holder: 'a', token: 't1', ttlMs: 60_000 });
    const second = await b.tryAcquire({
      election: 'jobs',
      holder: 'b',
      token: 't2',
      ttlMs: 60_000,
    });
    expect(first.acquired).toBe(true);
    expect(second).toMatchObject({ acquired: false, current: { holder: 'a' } });
    await Promise.all([a.close(), b.close()]);
  });

  it('without a boot id, recognises a row from before the clock restarted by its TTL', async () => {
    const path = join(dir, `${randomUUID()}.db`);
    const a = store(path, 'x', UNKNOWN_BOOT);
    await a.tryAcquire({ election: 'jobs', holder: 'a', token: 't1', ttlMs: 5_000 });
    // As if written late in a long previous boot: the expiry lies hours ahead of the
    // restarted monotonic clock, far more than the lease's own TTL.
    const raw = new Database(path);
    raw.prepare(`UPDATE "x_leases" SET expires_at = expires_at + 3600000`).run();
    raw.close();
    expect(await a.read('jobs')).toBeNull();
    const b = await a.tryAcquire({ election: 'jobs', holder: 'b', token: 't2', ttlMs: 5_000 });
    expect(b.acquired).toBe(true);
    await a.close();
  });
});

/**
 * Two real processes on a host without /proc/sys/kernel/random/boot_id (hidden by a tmpfs
 * in a mount namespace of their own), loading the store 2 s apart.
 */
describe('the boot id across processes without /proc/sys/kernel/random', () => {
  const adapters = new URL('../dist/sqlite/store.js', import.meta.url).href;
  const child = (delayMs: number, holder: string, path: string) => `
    setTimeout(async () => {
      const { SqliteStore } = await import(${JSON.stringify(adapters)});
      const store = new SqliteStore({ path: ${JSON.stringify(path)}, namespace: 'x', busyTimeoutMs: 1000, watchIntervalMs: 25 });
      const result = await store.tryAcquire({ election: 'jobs', holder: '${holder}', token: '${holder}', ttlMs: 60000 });
      console.log(JSON.stringify({ acquired: result.acquired }));
      await store.close();
    }, ${delayMs});
  `;
  const run = (script: string) =>
    new Promise<{ acquired: boolean }>((resolve, reject) => {
      const proc = spawn(
        'unshare',
        [
          '--mount',
          'sh',
          '-c',
          'mount -t tmpfs none /proc/sys/kernel/random && exec "$0" -e "$1"',
          process.execPath,
          script,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let output = '';
      proc.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      proc.once('exit', (code) =>
        code === 0
          ? resolve(JSON.parse(output.trim()) as { acquired: boolean })
          : reject(new Error(`child exited with ${code}: ${output}`)),
      );
    });

  it('never lets both take the lease', { timeout: 20_000 }, async () => {
    const path = join(dir, `${randomUUID()}.db`);
    const first = await run(child(0, 'a', path));
    const second = await run(child(2_000, 'b', path));
    expect(first.acquired).toBe(true);
    expect(second.acquired).toBe(false);
  });
});
