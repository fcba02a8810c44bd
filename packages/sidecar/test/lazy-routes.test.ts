import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { until } from '@leasehold/testkit';
import { BIN } from './helpers/sidecar-processes.js';

/**
 * The sidecar command answers the routes apps, probes and Prometheus ask from node:http and
 * loads Fastify only for the first request any other route gets (src/http/listener.ts),
 * unless an admin token says admin routes will be asked: then it loads Fastify before it
 * competes, since the load blocks the event loop. A preloaded probe reports, on SIGUSR2, how
 * many of Fastify's modules the process has loaded.
 */
const dir = mkdtempSync(join(tmpdir(), 'leasehold-lazy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PROBE = join(dir, 'probe.cjs');
writeFileSync(
  PROBE,
  `process.on('SIGUSR2', () => {
     const loaded = Object.keys(require.cache).filter((f) => f.includes('/node_modules/fastify/'));
     process.stderr.write('fastify-modules ' + loaded.length + '\\n');
   });`,
);

interface Started {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly url: string;
  /** The `event` field of every log line so far. */
  readonly events: string[];
  /** How many of Fastify's modules the process has loaded (asked by SIGUSR2). */
  fastifyModules(): Promise<number>;
}

/** The sidecar command on a Redis prefix of its own, with the probe preloaded. */
async function startSidecar(extraArgs: readonly string[] = []): Promise<Started> {
  const prefix = `lhpf${randomUUID().slice(0, 8)}`;
  const child = spawn(
    process.execPath,
    // A prefix Redis has never served: the first leader waits one TTL (short here) before it
    // reports leadership, since the namespace may have been flushed (docs/stores.md), and
    // says so in the log. 4 s, not shorter: Fastify's first load blocks the event loop, 1 s
    // and more on a loaded host, and a TTL of 2 s then ran out under it (the leader stepped
    // down, rightly, and the test read isLeader false).
    [
      BIN,
      '--store',
      'redis://127.0.0.1:6379',
      '--store-prefix',
      prefix,
      '--ttl',
      '4s',
      ...extraArgs,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        NODE_OPTIONS: `--require ${PROBE}`,
        LEASEHOLD_ELECTION: `lazy-${randomUUID().slice(0, 8)}`,
        LEASEHOLD_PORT: '0',
      },
    },
  );
  children.push(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const stderr: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));
  const events: string[] = [];
  const url = await new Promise<string>((resolve) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const entry = JSON.parse(line) as { url?: string; event?: string };
      if (entry.event !== undefined) events.push(entry.event);
      if (entry.url !== undefined) resolve(entry.url);
    });
  });
  const fastifyModules = async (): Promise<number> => {
    const before = stderr.length;
    child.kill('SIGUSR2');
    await until('stderr.length > before', 5_000, () => stderr.length > before);
    const reported = /^fastify-modules (\d+)$/.exec(stderr.at(-1) ?? '');
    if (reported === null) throw new Error(`unexpected stderr: ${stderr.join('\n')}`);
    return Number(reported[1]);
  };
  return { child, exited, url, events, fastifyModules };
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

describe('the sidecar command', () => {
  it(
    'serves the fast routes without Fastify and loads it for the first other request',
    { timeout: 40_000 },
    async () => {
      const { child, exited, url, events, fastifyModules } = await startSidecar();
      await until(
        'leading',
        20_000,
        async () => (await fetch(`${url}/v1/is-leader`)).status === 200,
      );
      await until(`events.includes('elected')`, 5_000, () => events.includes('elected')); // stdout is another pipe
      expect(events.filter((event) => /^(lease-held-off|elected)$/.test(event))).toEqual([
        'lease-held-off',
        'elected',
      ]);
      const leader = await fetch(`${url}/v1/leader`);
      expect(leader.headers.get('leasehold-term')).toMatch(/^\d+$/);
      expect(await leader.json()).toMatchObject({ isLeader: true });
      expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ ok: true });
      expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ ready: true });
      const metrics = await fetch(`${url}/metrics`);
      expect(metrics.headers.get('content-type')).toContain('text/plain');
      expect(await metrics.text()).toMatch(/^leasehold_is_leader\{[^}]*\} 1$/m);
      expect(await fastifyModules()).toBe(0);

      // Any other route: Fastify loads and answers it, then keeps serving.
      const members = await fetch(`${url}/v1/members`);
      expect(members.status).toBe(200);
      expect(await members.json()).toMatchObject({ members: [{ isLeader: true }] });
      expect(await fastifyModules()).toBeGreaterThan(0);
      expect((await fetch(`${url}/v1/nothing-here`)).status).toBe(404);
      const polled = await fetch(`${url}/v1/leader?wait=100ms&term=0`);
      expect(await polled.json()).toMatchObject({ isLeader: true });

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    },
  );

  it('with an admin token, loads Fastify before it competes', async () => {
    const token = join(dir, 'admin-token');
    writeFileSync(token, 'lazy-routes-admin-token-0123456789\n', { mode: 0o600 });
    const { child, exited, fastifyModules } = await startSidecar(['--admin-token-file', token]);
    // The listening line comes after the elector started, and the routes were loaded before.
    expect(await fastifyModules()).toBeGreaterThan(0);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
