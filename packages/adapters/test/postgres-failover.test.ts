import type { LeaseStore } from '@leasehold/core';
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresStore } from '../src/postgres/index.js';
import { freePort, type PrivatePostgres, startPrivatePostgres, until } from '@leasehold/testkit';

/**
 * A failover to an asynchronous standby that missed the last claim: the promoted server's
 * lease row says the election was released, while the holder whose claim it lost still
 * leads until its own deadline. Whoever claims on the promoted server must wait out a TTL
 * (the row was written on another WAL timeline), not lead at once beside it.
 */
const TTL_MS = 3_000;
const ELECTION = 'jobs';

async function query<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

async function acquire(store: LeaseStore, holder: string) {
  const result = await store.tryAcquire({
    election: ELECTION,
    holder,
    token: randomUUID(),
    ttlMs: TTL_MS,
  });
  if (!result.acquired) throw new Error(`${holder} should acquire`);
  return result.lease;
}

describe('PostgreSQL failover to a standby that missed the last claim', () => {
  let primary: PrivatePostgres;
  let standby: PrivatePostgres | undefined;
  beforeAll(async () => {
    primary = await startPrivatePostgres();
  }, 60_000);
  afterAll(async () => {
    await standby?.close();
    await primary.close();
  });

  it('makes the next holder wait a TTL on the promoted server', { timeout: 90_000 }, async () => {
    const namespace = 'failover';
    const onPrimary = await createPostgresStore(new URL(primary.url), { namespace });
    const a = await acquire(onPrimary, 'a');
    await onPrimary.release(a);
    standby = await primary.startStandby(await freePort());
    const standbyUrl = standby.url;
    // The standby has the released row; then its replication stops.
    await until(
      'the standby replays the release',
      20_000,
      async () =>
        (
          await query<{ released: boolean }>(
            standbyUrl,
            `SELECT released FROM ${namespace}.leases WHERE election = '${ELECTION}'`,
          ).catch(() => [])
        )[0]?.released === true,
    );
    await query(standbyUrl, `ALTER SYSTEM SET primary_conninfo = ''`);
    await query(standbyUrl, 'SELECT pg_reload_conf()');
    await until(
      'the standby stops receiving',
      20_000,
      async () =>
        (
          await query<{ n: string }>(
            standbyUrl,
            'SELECT count(*)::text AS n FROM pg_stat_wal_receiver',
          )
        )[0]?.n === '0',
    );
    // b's claim lands on the primary only; b leads until its deadline, whatever happens next.
    const b = await acquire(onPrimary, 'b');
    expect(b.notBeforeMs).toBe(0);
    await onPrimary.close();
    await primary.close();
    await standby.promote();

    const onPromoted = await createPostgresStore(new URL(standbyUrl), { namespace });
    try {
      const c = await acquire(onPromoted, 'c');
      // Without the timeline check: 0, and c led beside b for up to a TTL.
      expect(c.notBeforeMs).toBeGreaterThanOrEqual(TTL_MS);
      // b's claim, and its term, were lost with the old primary: c's term must pass it anyway.
      expect(c.term).toBeGreaterThan(b.term);
    } finally {
      await onPromoted.close();
    }
  });
});
