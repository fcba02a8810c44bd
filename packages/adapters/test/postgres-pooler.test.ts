import { StorePoolerError, type LeaseStore } from '@leasehold/core';
import { runConformanceSuite } from '@leasehold/conformance';
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  PgBouncerFront,
  type PoolMode,
  type PrivatePostgres,
  startPrivatePostgres,
} from '@leasehold/testkit';
import { createPostgresStore } from '../src/postgres/index.js';
import { detectSharedBackend } from '../src/postgres/pooler.js';

/**
 * Debian's PgBouncer in front of a private PostgreSQL, in each pooling mode. Session
 * pooling gives every client a server backend of its own: the store works through it.
 * Transaction and statement pooling hand a client's statements to shared backends, where a
 * session-level advisory lock is nobody's own: the store refuses them at start-up.
 */

let server: PrivatePostgres;
const poolers = new Map<PoolMode, PgBouncerFront>();
const url = (mode: PoolMode): URL => new URL(poolers.get(mode)?.url ?? 'postgres://missing');

beforeAll(async () => {
  server = await startPrivatePostgres();
  for (const mode of ['session', 'transaction', 'statement'] as const) {
    const place = { address: '127.0.0.1', open: false };
    poolers.set(mode, await PgBouncerFront.before(server, place, await freePort(), mode));
  }
}, 60_000);

afterAll(async () => {
  await Promise.all([...poolers.values()].map((p) => p.close()));
  await server.close();
});

runConformanceSuite({
  name: 'postgres through PgBouncer in session pooling',
  transfer: true,
  memberSteering: true,
  batch: true,
  batchClaims: true,
  createStore: ({ namespace }) => createPostgresStore(url('session'), { namespace }),
});

describe('PgBouncer pooling modes', () => {
  const namespace = `pool${randomUUID().replaceAll('-', '').slice(0, 8)}`;

  it('a direct connection and session pooling keep a backend per client', async () => {
    const connectTo = (to: string) => async (extra: pg.ClientConfig) => {
      const client = new pg.Client({ connectionString: to, ...extra });
      await client.connect();
      return client;
    };
    expect(await detectSharedBackend(connectTo(server.url))).toBeNull();
    expect(await detectSharedBackend(connectTo(url('session').href))).toBeNull();
  });

  it('session pooling: one holder at a time through the pooler', async () => {
    const stores: LeaseStore[] = [];
    try {
      const a = await createPostgresStore(url('session'), { namespace });
      stores.push(a);
      const b = await createPostgresStore(url('session'), { namespace });
      stores.push(b);
      const request = { election: 'pooled', ttlMs: 5_000 };
      const first = await a.tryAcquire({ ...request, holder: 'a', token: randomUUID() });
      expect(first.acquired).toBe(true);
      const second = await b.tryAcquire({ ...request, holder: 'b', token: randomUUID() });
      expect(second.acquired).toBe(false);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it.each(['transaction', 'statement'] as const)(
    '%s pooling is refused at start-up, naming the mode and the fix',
    async (mode) => {
      const started = createPostgresStore(url(mode), { namespace });
      await expect(started).rejects.toBeInstanceOf(StorePoolerError);
      await expect(started).rejects.toMatchObject({
        code: 'LEASEHOLD_E_STORE_POOLED',
        message: expect.stringContaining(`in ${mode} pooling mode`) as unknown,
      });
      await expect(started).rejects.toThrow(/pool_mode = session/);
    },
  );
});
