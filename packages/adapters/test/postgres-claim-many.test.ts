import type { AcquireRequest, AcquireResult, LeaseStore } from '@leasehold/core';
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { until } from '@leasehold/testkit';
import { admin, SHARED_URL, SharedServerStores } from './helpers/postgres-admin.js';

/**
 * PostgreSQL's batched claims (`batch.claimMany`, docs/design.md §3.8, "Claims in
 * batches") where a batch meets other sessions mid-statement: each row must be judged when
 * the statement holds it, never from what the statement read before it waited.
 */

const schema = `pg27cm${randomUUID().replaceAll('-', '').slice(0, 8)}`;

/** The backend holding the advisory lock the lease row of `election` names, if any. */
async function lockHolderPid(election: string): Promise<number | null> {
  return admin(async (client) => {
    const { rows } = await client.query<{ pid: number }>(
      `SELECT pid FROM pg_locks, "${schema}".leases AS l
        WHERE l.election = $1 AND locktype = 'advisory' AND granted AND objsubid = 1
          AND classid = ((l.lock_id >> 32) & 4294967295)::oid AND objid = (l.lock_id & 4294967295)::oid`,
      [election],
    );
    return rows[0]?.pid ?? null;
  });
}

/** How many advisory locks backend `pid` holds. */
async function advisoryLocksOf(pid: number): Promise<number> {
  return admin(async (client) => {
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = $1`,
      [pid],
    );
    return rows[0]?.n ?? 0;
  });
}

function claimManyOf(store: LeaseStore) {
  const claimMany = store.batch?.claimMany;
  if (claimMany === undefined) throw new Error('postgres has no batch.claimMany');
  return (requests: readonly AcquireRequest[]) => claimMany.call(store.batch, requests);
}

const request = (election: string, holder: string, ttlMs = 30_000): AcquireRequest => ({
  election,
  holder,
  token: randomUUID(),
  ttlMs,
});

function leaseOf(answer: AcquireResult | undefined) {
  if (answer?.acquired !== true) throw new Error(`expected a lease, got ${JSON.stringify(answer)}`);
  return answer.lease;
}

describe('postgres batch.claimMany against other sessions', () => {
  const stores = new SharedServerStores(schema);
  const open = () => stores.open();
  afterEach(async () => {
    await stores.closeAll();
  });
  afterAll(() => stores.dropSchema());

  it('does not take a lease claimed alone while the batch waited for another row', async () => {
    const [dead, batcher, single, other] = [await open(), await open(), await open(), await open()];
    const tag = `pg27-${randomUUID().slice(0, 6)}`;
    const [e0, e1, e2] = [`${tag}-0`, `${tag}-1`, `${tag}-2`];
    // e0: a live lease whose holder's session is gone (the batch probes its lock first).
    await dead.tryAcquire(request(e0, 'dead'));
    const deadPid = await lockHolderPid(e0);
    await admin((client) => client.query('SELECT pg_terminate_backend($1)', [deadPid]));
    await until(
      'the dead holder’s lock is free',
      5_000,
      async () => (await lockHolderPid(e0)) === null,
    );
    // e1: a released row that another transaction keeps locked; e2: free.
    const e1Lease = leaseOf(await other.tryAcquire(request(e1, 'other')));
    await other.release(e1Lease);
    const blocker = new pg.Client({ connectionString: SHARED_URL });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query(`SELECT 1 FROM "${schema}".leases WHERE election = $1 FOR UPDATE`, [e1]);
      const batch = claimManyOf(batcher)([e0, e1, e2].map((e) => request(e, 'batch')));
      // The batch has judged e0 (and read whatever it reads up front) and waits for e1's row.
      await until('the batch waits for e1’s row lock', 1_500, async () =>
        admin(async (client) => {
          const { rows } = await client.query(
            `SELECT 1 FROM pg_stat_activity
              WHERE wait_event_type = 'Lock' AND query LIKE '%lock_id)),%' AND query LIKE $1`,
            [`%${schema}%`],
          );
          return rows.length > 0;
        }),
      );
      // Meanwhile e2 is claimed alone, and committed, before the batch gets to it.
      const alone = leaseOf(await single.tryAcquire(request(e2, 'single')));
      await blocker.query('COMMIT');
      const [got0, got1, got2] = await batch;
      expect(got2).toMatchObject({
        acquired: false,
        current: { holder: 'single', term: alone.term },
      });
      expect(await other.read(e2)).toMatchObject({ holder: 'single', term: alone.term });
      // The other two are the batch's: e0 after a wait for the dead holder's lease.
      expect(leaseOf(got0).notBeforeMs).toBeGreaterThan(20_000);
      expect(leaseOf(got1).notBeforeMs).toBe(0);
    } finally {
      await blocker.end();
    }
  });

  it('neither takes nor disturbs a live lease this very session holds under another token', async () => {
    const store = await open();
    const tag = `pg27-${randomUUID().slice(0, 6)}`;
    // Warm: the session is open and its idle timeout set, so both claims below go straight
    // to its statement queue, the single one first (the batch passes one more step).
    await store.tryAcquire(request(`${tag}-warm`, 'warm'));
    const election = `${tag}-own`;
    const [single, [batched]] = await Promise.all([
      store.tryAcquire(request(election, 'one')),
      claimManyOf(store)([request(election, 'two')]),
    ]);
    const granted = [single, batched].filter((answer) => answer?.acquired === true);
    expect(granted).toHaveLength(1);
    expect(single).toMatchObject({ acquired: true });
    expect(batched).toMatchObject({ acquired: false, current: { holder: 'one' } });
    // The refused batch left the single claim's lock alone: its lease still renews.
    expect(await store.renew(leaseOf(single))).toMatchObject({ renewed: true });
  });

  it('keeps the locks of the claims it took and unlocks the others', async () => {
    const [a, b] = [await open(), await open()];
    const tag = `pg27-${randomUUID().slice(0, 6)}`;
    const held = Array.from({ length: 5 }, (_, i) => `${tag}-held-${i}`);
    const free = Array.from({ length: 7 }, (_, i) => `${tag}-free-${i}`);
    for (const election of held) leaseOf(await b.tryAcquire(request(election, 'beta')));
    const answers = await claimManyOf(a)([...held, ...free].map((e) => request(e, 'alpha')));
    expect(answers.map((answer) => answer.acquired)).toEqual([
      ...held.map(() => false),
      ...free.map(() => true),
    ]);
    for (const answer of answers.slice(0, held.length)) {
      expect(answer).toMatchObject({ acquired: false, current: { holder: 'beta' } });
    }
    const pid = await lockHolderPid(free[0] as string);
    if (pid === null) throw new Error('the batch holds no lock for what it claimed');
    // One lock per lease it took, none for those refused.
    expect(await advisoryLocksOf(pid)).toBe(free.length);
  });
});
