import type { Lease, LeaseStore } from '@leasehold/core';
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
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

/**
 * A standby of `primary` that replayed the lease row as far as `replayed` (an SQL condition
 * on it) and then stopped receiving: whatever the primary writes next, it misses.
 */
async function detachedStandby(
  primary: PrivatePostgres,
  namespace: string,
  replayed: string,
): Promise<PrivatePostgres> {
  const standby = await primary.startStandby(await freePort());
  const standbyUrl = standby.url;
  await until(
    'the standby replays the row',
    20_000,
    async () =>
      (
        await query<{ ok: boolean }>(
          standbyUrl,
          `SELECT ${replayed} AS ok FROM ${namespace}.leases WHERE election = '${ELECTION}'`,
        ).catch(() => [])
      )[0]?.ok === true,
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
  return standby;
}

describe('PostgreSQL failover to a standby that missed the last claim', () => {
  let primary: PrivatePostgres;
  let standby: PrivatePostgres | undefined;
  beforeEach(async () => {
    primary = await startPrivatePostgres();
    standby = undefined;
  }, 60_000);
  afterEach(async () => {
    await standby?.close();
    await primary.close();
  });

  /**
   * `before` runs on the primary and says what the standby must replay; then b claims on
   * the primary alone (b leads until its deadline, whatever happens next), the primary
   * dies and the standby is promoted. Resolves to b's lost lease and a store on the new
   * primary.
   */
  async function failOverAfter(
    namespace: string,
    before: (onPrimary: LeaseStore) => Promise<string>,
  ): Promise<{ b: Lease; onPromoted: LeaseStore }> {
    const onPrimary = await createPostgresStore(new URL(primary.url), { namespace });
    const detached = await detachedStandby(primary, namespace, await before(onPrimary));
    standby = detached;
    const b = await acquire(onPrimary, 'b');
    expect(b.notBeforeMs).toBe(0);
    await onPrimary.close();
    await primary.close();
    await detached.promote();
    return { b, onPromoted: await createPostgresStore(new URL(detached.url), { namespace }) };
  }

  it('makes the next holder wait a TTL on the promoted server', { timeout: 90_000 }, async () => {
    const { b, onPromoted } = await failOverAfter('failover', async (onPrimary) => {
      await onPrimary.release(await acquire(onPrimary, 'a'));
      return 'released = true';
    });
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

  /**
   * A transfer's reservation is no way around that rule: the promoted standby has the
   * hand-over (released cleanly, reserved for b) but not b's claim, and b still leads on its
   * old deadline. Whoever claims there, b's new session included, waits out a TTL.
   */
  it('the successor of a transfer still waits a TTL there', { timeout: 90_000 }, async () => {
    const { b, onPromoted } = await failOverAfter('transferred', async (onPrimary) => {
      const a = await acquire(onPrimary, 'a');
      expect(await onPrimary.transfer?.handOver(a, 'b', 60_000)).toBe(true);
      return "reserved_for = 'b'";
    });
    try {
      // The reservation the standby kept still keeps others out...
      const c = await onPromoted.tryAcquire({
        election: ELECTION,
        holder: 'c',
        token: randomUUID(),
        ttlMs: TTL_MS,
      });
      expect(c).toMatchObject({ acquired: false, reservedFor: 'b' });
      // ...and admits b, but not at once: its lost claim may still be leading.
      const again = await acquire(onPromoted, 'b');
      expect(again.notBeforeMs).toBeGreaterThanOrEqual(TTL_MS);
      expect(again.term).toBeGreaterThan(b.term);
    } finally {
      await onPromoted.close();
    }
  });
});
