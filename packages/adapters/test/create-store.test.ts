import { createStore, maskUrl, SUPPORTED_SCHEMES } from '@leasehold/adapters';
import { LeaseholdConfigError, UnsupportedStoreError } from '@leasehold/core';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ZooKeeperInspector } from './helpers/zookeeper-inspector.js';

describe('createStore(url)', () => {
  it('picks the adapter by scheme', async () => {
    const zkChroot = `/lhzk-create-${randomUUID().slice(0, 8)}`;
    const dir = mkdtempSync(join(tmpdir(), 'leasehold-create-'));
    try {
      for (const [url, backend] of [
        ['redis://127.0.0.1:6379', 'redis'],
        [`sqlite://${join(dir, 'x.db')}`, 'sqlite'],
        ['postgres://postgres@127.0.0.1:5432/test', 'postgres'],
        ['etcd://127.0.0.1:2379', 'etcd'],
        // A host list, which WHATWG URL parsing alone refuses.
        ['etcd://127.0.0.1:2379,localhost:2379', 'etcd'],
        [`zk://127.0.0.1:2181,localhost:2181${zkChroot}`, 'zookeeper'],
      ] as const) {
        const store = await createStore(url);
        expect(store.backend).toBe(backend);
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
      const inspector = await ZooKeeperInspector.connect('127.0.0.1:2181');
      await inspector.removeTree(zkChroot);
      inspector.close();
    }
  });

  it('lists the supported schemes for an unknown one', async () => {
    const failure = await createStore('mongodb://db:27017').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(UnsupportedStoreError);
    expect((failure as Error).message).toBe(
      `unsupported store scheme "mongodb"; supported: ${SUPPORTED_SCHEMES.map((s) => `${s}://`).join(', ')}`,
    );
  });

  it('refuses a string that is not a URL, without echoing its password', async () => {
    const failure = await createStore('redis//user:hunter2@host').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(LeaseholdConfigError);
    expect((failure as Error).message).toContain('expected a URL');
    expect((failure as Error).message).not.toContain('hunter2');
  });

  it.each([
    ['redis://user:hunter2@host:6379/0', 'redis://user:***@host:6379/0'],
    ['postgres://app:p%40ss@db/test', 'postgres://app:***@db/test'],
    ['redis://:only-password@host', 'redis://:***@host'],
    ['etcd://host:2379', 'etcd://host:2379'],
    ['zk://app:s3cret@h1:2181,h2:2181/apps', 'zk://app:***@h1:2181,h2:2181/apps'],
    ['redis://user@host', 'redis://user@host'],
    ['redis//user:hunter2@host', '***@host'],
  ])('masks %s', (url, masked) => {
    expect(maskUrl(url)).toBe(masked);
  });
});

describe('secret URL parameters', () => {
  it.each([
    [
      'redis://h:6379?sentinels=a:1&sentinelMaster=m&sentinelPassword=s3cret',
      'redis://h:6379?sentinels=a:1&sentinelMaster=m&sentinelPassword=***',
    ],
    [
      'postgres://app@db/test?password=s3cret&sslmode=require',
      'postgres://app@db/test?password=***&sslmode=require',
    ],
    ['etcd://u:s3cret@h:2379?timeout=500', 'etcd://u:***@h:2379?timeout=500'],
  ])('masks secret parameters too: %s', (url, masked) => {
    expect(maskUrl(url)).toBe(masked);
  });

  it('never echoes the value of an unknown parameter that looks secret', async () => {
    const failure = await createStore('redis://h:6379?sentinelpasword=s3cret').catch(
      (e: unknown) => e,
    );
    expect((failure as Error).message).not.toContain('s3cret');
  });
});
