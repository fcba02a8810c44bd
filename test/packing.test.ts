import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pack, run, scratchProject } from '../scripts/release/packing.mjs';

/**
 * The packages as a user outside this workspace gets them: packed the way they would be
 * published (`pnpm pack` applies publishConfig and turns workspace:* into versions),
 * installed with npm into a scratch project, used with only the driver one backend needs.
 */

const ROOT = new URL('..', import.meta.url).pathname;
const REDIS = 'redis://127.0.0.1:6379';
const scratch = mkdtempSync(join(tmpdir(), 'leasehold-packing-'));
const tarballs: Record<string, string> = {};

function workspaceVersion(pkg: string, dependency: string): string {
  const manifest = join(ROOT, 'packages', pkg, 'node_modules', dependency, 'package.json');
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

function project(name: string, dependencies: readonly string[], extraArgs: string[] = []) {
  return scratchProject(scratch, name, dependencies, extraArgs);
}

beforeAll(() => {
  const destination = join(scratch, 'tarballs');
  for (const pkg of ['core', 'adapters', 'sidecar']) {
    tarballs[pkg] = pack(join(ROOT, 'packages', pkg), destination);
    expect(existsSync(tarballs[pkg] ?? '')).toBe(true);
  }
}, 120_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the packed packages outside the workspace', () => {
  it('elect on real Redis with only ioredis beside core and adapters', { timeout: 120_000 }, () => {
    const ioredis = `ioredis@${workspaceVersion('adapters', 'ioredis')}`;
    const dir = project('redis-user', [tarballs.core ?? '', tarballs.adapters ?? '', ioredis]);
    for (const driver of ['better-sqlite3', 'etcd3', 'pg']) {
      expect(existsSync(join(dir, 'node_modules', driver)), driver).toBe(false);
    }
    writeFileSync(
      join(dir, 'elect.mjs'),
      `
      import { createStore } from '@leasehold/adapters';
      import { createRedisStoreFromClient } from '@leasehold/adapters/redis';
      import { Elector } from '@leasehold/core';
      import { Redis } from 'ioredis';
      const namespace = 'packing-' + process.pid;
      const store = await createStore('${REDIS}', { namespace });
      const elector = new Elector({ store, election: 'jobs', id: 'scratch', ttlMs: 2000 });
      const elected = new Promise((resolve) => elector.once('elected', resolve));
      elector.start();
      const { term } = await elected;
      await elector.stop();
      await store.close();
      const client = new Redis('${REDIS}');
      const second = await createRedisStoreFromClient(client, { namespace });
      const record = await second.read('jobs');
      await second.close();
      await client.del(...(await client.keys(namespace + ':*')));
      await client.quit();
      const missing = await createStore('postgres://nobody@127.0.0.1/none').catch((e) => e);
      console.log(JSON.stringify({ term, record, missing: { code: missing.code, message: missing.message } }));
      `,
    );
    const result = JSON.parse(run(process.execPath, ['elect.mjs'], dir)) as {
      term: number;
      record: unknown;
      missing: { code: string; message: string };
    };
    expect(result.term).toBeGreaterThan(0);
    expect(result.record).toBeNull();
    expect(result.missing).toEqual({
      code: 'LEASEHOLD_E_DRIVER_MISSING',
      message: 'postgres:// stores need the pg package, which is not installed: npm install pg',
    });
  });

  it('carry their README and LICENSE', () => {
    for (const [pkg, tarball] of Object.entries(tarballs)) {
      const entries = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n');
      expect(entries, pkg).toEqual(
        expect.arrayContaining(['package/README.md', 'package/LICENSE']),
      );
    }
  });

  it('run as `npx @leasehold/sidecar`, the leasehold command', { timeout: 180_000 }, () => {
    // Install scripts skipped: the native SQLite build is not needed to print the version.
    const dir = project(
      'sidecar-user',
      [tarballs.core ?? '', tarballs.adapters ?? '', tarballs.sidecar ?? ''],
      ['--ignore-scripts'],
    );
    const manifest = JSON.parse(
      readFileSync(join(ROOT, 'packages/sidecar/package.json'), 'utf8'),
    ) as { version: string };
    // --offline: the package must come from the installed tarball, never from a registry.
    const npx = ['--offline', '@leasehold/sidecar', '--version'];
    expect(run('npx', npx, dir).trim()).toBe(manifest.version);
    expect(run(join(dir, 'node_modules/.bin/leasehold'), ['--version'], dir).trim()).toBe(
      manifest.version,
    );
  });
});
