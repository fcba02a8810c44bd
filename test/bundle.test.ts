import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { leftRunning, until } from '@leasehold/testkit';
import { bundleSidecar } from '../scripts/bundle.mjs';

// The bundled sidecar (scripts/bundle.mjs) as the image and the self-contained release run
// it: written into a `pnpm deploy` copy, whose tsc build is then removed, so that every
// answer below comes from dist/bundle/ and the files it reads beside it.

const ROOT = new URL('..', import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), 'leasehold-bundle-'));
const app = join(scratch, 'app');
const bin = join(app, 'bin', 'leasehold.js');
const MARKER = `LEASEHOLD_BUNDLE_TEST=${randomUUID()}`;
const version = (
  JSON.parse(readFileSync(join(ROOT, 'packages/sidecar/package.json'), 'utf8')) as {
    version: string;
  }
).version;

beforeAll(async () => {
  execFileSync('pnpm', ['--filter', '@leasehold/sidecar', 'deploy', '--prod', '--legacy', app], {
    cwd: ROOT,
    stdio: 'ignore',
    timeout: 120_000,
  });
  await bundleSidecar(app);
  for (const entry of readdirSync(join(app, 'dist'))) {
    if (entry !== 'bundle' && entry !== 'proto') {
      rmSync(join(app, 'dist', entry), { recursive: true, force: true });
    }
  }
}, 150_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  }
  expect(await leftRunning(MARKER)).toEqual([]);
});

/** Start the bundled command; resolves to its URL once it leads `election`. */
async function startSidecar(args: readonly string[]): Promise<{ url: string; lines: string[] }> {
  const [name, value] = MARKER.split('=') as [string, string];
  const child = spawn(process.execPath, [bin, ...args, '--port', '0'], {
    cwd: scratch,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, [name]: value },
  });
  children.push(child);
  const lines: string[] = [];
  const stderr: string[] = [];
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
  const url = await until('the bundled sidecar listening', 30_000, () => {
    if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${stderr.join('')}`);
    return lines.map((line) => /"url":"([^"]+)"/.exec(line)?.[1]).find(Boolean);
  });
  await until('the bundled sidecar leading', 30_000, () =>
    lines.some((line) => line.includes('"event":"elected"')),
  );
  return { url, lines };
}

describe('the bundled sidecar', () => {
  it('is the command the deployed copy runs, with its own version', () => {
    expect(existsSync(join(app, 'dist', 'bundle', 'cli.mjs'))).toBe(true);
    expect(existsSync(join(app, 'dist', 'cli.js'))).toBe(false);
    expect(execFileSync(process.execPath, [bin, '--version'], { encoding: 'utf8' }).trim()).toBe(
      version,
    );
  });

  it('is never written into the workspace package, where it would go stale', async () => {
    await expect(bundleSidecar(join(ROOT, 'packages/sidecar'))).rejects.toThrow(/deployed copy/);
    expect(existsSync(join(ROOT, 'packages/sidecar/dist/bundle'))).toBe(false);
  });

  it(
    'leads on SQLite (the addon from node_modules) and serves the fast and the Fastify routes',
    { timeout: 60_000 },
    async () => {
      const store = `sqlite://${join(scratch, 'sqlite.db')}`;
      const { url } = await startSidecar(['--store', store, '--election', 'bundle-sqlite']);
      const leader = (await (await fetch(`${url}/v1/leader`)).json()) as { isLeader: boolean };
      expect(leader.isLeader).toBe(true);
      // The status page reads static/status.html beside the modules; OpenAPI loads Fastify.
      const page = await fetch(`${url}/`, { headers: { accept: 'text/html' } });
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<html/i);
      const openapi = (await (await fetch(`${url}/v1/openapi.json`)).json()) as {
        paths: object;
      };
      expect(Object.keys(openapi.paths)).toContain('/v1/leader');
      const poll = await fetch(`${url}/v1/leader?wait=1ms&term=0`);
      expect(poll.status).toBe(200);
    },
  );

  it(
    'leads on etcd, whose client reads its .proto files at run time',
    { timeout: 60_000 },
    async () => {
      const election = `bundle-${randomUUID().slice(0, 8)}`;
      const { url } = await startSidecar([
        '--store',
        'etcd://127.0.0.1:2379',
        '--election',
        election,
        '--store-prefix',
        'lhbu_test',
      ]);
      const leader = (await (await fetch(`${url}/v1/leader`)).json()) as {
        isLeader: boolean;
        backend: string;
      };
      expect(leader).toMatchObject({ isLeader: true, backend: 'etcd' });
    },
  );

  it(
    'runs a command while it leads (the watchdog script from src/run)',
    { timeout: 60_000 },
    async () => {
      const store = `sqlite://${join(scratch, 'run.db')}`;
      const out = join(scratch, 'run.out');
      const { lines } = await startSidecar([
        'run',
        '--store',
        store,
        '--election',
        'bundle-run',
        '--',
        'bash',
        '-c',
        `echo "term $LEASEHOLD_TERM" > ${out}; exec sleep 60`,
      ]);
      const written = await until('the command running', 30_000, () =>
        existsSync(out) ? readFileSync(out, 'utf8') : null,
      );
      expect(written).toMatch(/^term \d+/);
      expect(lines.join('\n')).not.toMatch(/"level":50/);
    },
  );
});
