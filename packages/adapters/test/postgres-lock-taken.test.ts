import { Elector, type StoreHealth } from '@leasehold/core';
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import type * as NodeCrypto from 'node:crypto';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createPostgresStore } from '../src/postgres/index.js';
import { until } from '@leasehold/testkit';

/**
 * Issue 25, item 2: an election whose lock cannot be taken while its row is free is
 * reported, never a silent "no leader". Nobody can take a fresh random id in advance, so the
 * draw is made predictable here: another session holds the id every claim draws.
 */

const STOLEN_ID = 0x5eed_0000_0000_0001n;
vi.mock('node:crypto', async (importOriginal) => {
  const crypto = await importOriginal<typeof NodeCrypto>();
  const randomBytes = (size: number): Buffer => {
    if (size !== 8) return crypto.randomBytes(size);
    const fixed = Buffer.alloc(8);
    fixed.writeBigInt64BE(STOLEN_ID);
    return fixed;
  };
  return { ...crypto, randomBytes, default: { ...crypto, randomBytes } };
});

const SHARED_URL = 'postgres://postgres@127.0.0.1:5432/test';
const schema = `pgk${randomUUID().replaceAll('-', '').slice(0, 8)}`;

describe('postgres when the lock a claim drew is held elsewhere', () => {
  const other = new pg.Client({ connectionString: SHARED_URL });
  afterAll(async () => {
    await other.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await other.end();
  });

  it('reports it in the store health, naming the cause', async () => {
    await other.connect();
    await other.query('SELECT pg_advisory_lock($1::bigint)', [STOLEN_ID.toString()]);
    const store = await createPostgresStore(new URL(SHARED_URL), { namespace: schema });
    const elector = new Elector({
      store,
      election: 'jobs',
      id: 'a',
      ttlMs: 1_500,
      retryIntervalMs: 100,
    });
    const reports: StoreHealth[] = [];
    elector.on('store-health', (health) => reports.push(health));
    try {
      elector.start();
      await until('unhealthy', 5_000, () => reports.some((health) => !health.healthy));
      expect(elector.isLeader()).toBe(false);
      const error = reports.find((health) => !health.healthy)?.error;
      expect(error?.message).toMatch(/another session holds the advisory lock/);
      expect(error?.message).toMatch(/"jobs"/);
    } finally {
      await elector.stop();
      await store.close();
    }
  });
});
