import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { until } from '@leasehold/testkit';
import { SidecarProcesses, loggedLine, oneLeader, storeUrls } from './helpers/sidecar-processes.js';
import { removeZooKeeperTree } from './helpers/zookeeper-tree.js';

/**
 * Once stopped, a sidecar exits at once: nothing of its own (a timer, a socket) may hold the
 * process open after shutdown() resolved. Bounds are generous (this machine is shared and
 * noisy); the figures measured are in the report, not here.
 */

const sqliteDir = mkdtempSync(join(tmpdir(), 'lhsu-exit-'));
afterAll(() => rmSync(sqliteDir, { recursive: true, force: true }));

const zkChroot = `/lhsu-exit-${randomUUID().slice(0, 8)}`;
afterAll(() => removeZooKeeperTree('127.0.0.1:2181', zkChroot));

const BACKENDS = storeUrls(sqliteDir, zkChroot);

const SIDECAR = new URL('../dist/index.js', import.meta.url).href;

/**
 * The library way: serve(), then shutdown() once the election was observed, and no
 * process.exit. Prints how long the process lived on after shutdown() resolved.
 */
const script = `
  const { serve, loadConfig, createLogger } = await import(${JSON.stringify(SIDECAR)});
  const [store, election] = process.argv.slice(1);
  const config = loadConfig({
    flags: { store, election, port: '0', ttl: '3s', 'log-level': 'silent' },
    env: {},
  });
  const running = await serve(config, createLogger(config));
  while (!running.elector.status().observed) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await running.shutdown('test');
  const stoppedAt = performance.now();
  process.on('exit', () => process.stdout.write(JSON.stringify({ lingeredMs: performance.now() - stoppedAt }) + '\\n'));
`;

const children = new Set<number>();
afterEach(() => {
  for (const pid of children) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone, as it should be.
    }
  }
  children.clear();
});

function lingeredAfterShutdown(store: string): Promise<number> {
  const election = `lhsu-exit-${randomUUID().slice(0, 8)}`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, store, election], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (child.pid !== undefined) children.add(child.pid);
  return new Promise((resolve, reject) => {
    let lingeredMs: number | null = null;
    createInterface({ input: child.stdout }).on('line', (line) => {
      lingeredMs = (JSON.parse(line) as { lingeredMs: number }).lingeredMs;
    });
    child.once('close', (code) =>
      code === 0 && lingeredMs !== null
        ? resolve(lingeredMs)
        : reject(new Error(`exited with ${code} and no measurement`)),
    );
  });
}

describe.each(BACKENDS)('a sidecar on %s', (_backend, store) => {
  it(
    'lets its process exit by itself as soon as it has shut down',
    { timeout: 30_000 },
    async () => {
      // A fresh election: on Redis the new leader is still waiting out notBeforeMs here.
      expect(await lingeredAfterShutdown(store)).toBeLessThan(1_000);
    },
  );
});

describe('the leasehold command', () => {
  const processes = new SidecarProcesses(2_000);
  afterEach(() => processes.killAll());

  it('exits promptly after it logged "stopped"', { timeout: 30_000 }, async () => {
    const sidecar = await processes.start(
      BACKENDS[0][1],
      `lhsu-exit-${randomUUID().slice(0, 8)}`,
      'solo',
    );
    await oneLeader([sidecar], 10_000);
    sidecar.child.kill('SIGTERM');
    await loggedLine(sidecar, /"msg":"stopped"/, 5_000);
    const stoppedAt = performance.now();
    expect(await sidecar.exited).toBe(0);
    expect(performance.now() - stoppedAt).toBeLessThan(1_000);
    await until('sidecar.child.exitCode !== null', 1_000, () => sidecar.child.exitCode !== null);
  });
});
