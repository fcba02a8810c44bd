import { Elector } from '@leasehold/core';
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { createPostgresStore } from '../src/postgres/index.js';
import { admin, SHARED_URL, SharedServerStores } from './helpers/postgres-admin.js';
import { wakeUpChannel, wakeUpTag } from '../src/postgres/notifications.js';
import { wakeUpsOfOneRelease } from './helpers/first-in-line.js';
import { until } from '@leasehold/testkit';

/**
 * Safety defects of the PostgreSQL adapter found in review (issue 14, items 1 and 2), on the
 * shared server: each of these failed before its fix.
 */

const schema = `pgs${randomUUID().replaceAll('-', '').slice(0, 8)}`;

/** How many sessions hold the advisory lock the lease row names, counting re-entrant holds. */
async function lockHolds(election: string): Promise<number> {
  return admin(async (client) => {
    const { rows } = await client.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM pg_locks, "${schema}".leases AS l
        WHERE l.election = $1 AND locktype = 'advisory' AND granted AND objsubid = 1
          AND classid = ((l.lock_id >> 32) & 4294967295)::oid AND objid = (l.lock_id & 4294967295)::oid`,
      [election],
    );
    return Number(rows[0]?.n ?? 0);
  });
}

async function leaseRow(election: string) {
  return admin(async (client) => {
    const { rows } = await client.query<{ token: string; term: string }>(
      `SELECT token, term::text AS term FROM "${schema}".leases WHERE election = $1`,
      [election],
    );
    return rows[0] ?? null;
  });
}

describe('postgres adapter safety', () => {
  const electors: Elector[] = [];
  const stores = new SharedServerStores(schema);
  const open = () => stores.open();
  afterEach(async () => {
    vi.restoreAllMocks();
    await Promise.all(electors.splice(0).map((e) => e.stop()));
    await stores.closeAll();
  });
  afterAll(() => stores.dropSchema());

  it('writes the claim it reports, even when a failing query is queued right behind it', async () => {
    // The claim used to be BEGIN, INSERT, UPDATE, COMMIT on the session every other call
    // shares: a query queued after the UPDATE ran inside the transaction, failed it, and
    // COMMIT answered ROLLBACK without an error while the elector led under that term.
    const store = await open();
    const election = `claim-${randomUUID().slice(0, 6)}`;
    await store.read(election); // connected, schema in place
    const query = pg.Client.prototype.query;
    vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (
      this: pg.Client,
      ...args: unknown[]
    ) {
      const result = (query as (...a: unknown[]) => unknown).apply(this, args);
      const text = typeof args[0] === 'string' ? args[0] : '';
      if (/RETURNING/.test(text) && /\bterm\b/.test(text) && /leases/.test(text)) {
        // Another caller's query, queued on the same session right behind the claim.
        (query as (q: string) => Promise<unknown>).call(this, 'SELECT 1/0').catch(() => {});
      }
      return result;
    } as typeof query);
    const token = randomUUID();
    const result = await store.tryAcquire({ election, holder: 'a', token, ttlMs: 5_000 });
    vi.restoreAllMocks();
    expect(result.acquired).toBe(true);
    if (!result.acquired) return;
    expect(await leaseRow(election)).toEqual({ token, term: String(result.lease.term) });
  });

  it('hands the election over when the leader learns it lost its lease', async () => {
    // A renewal that answers renewed:false (the row was edited or restored) stepped the
    // leader down without unlocking: the session kept the advisory lock, the waiting
    // candidate could never acquire, and the old leader took the election back.
    const election = `lost-${randomUUID().slice(0, 6)}`;
    const timing = { ttlMs: 1_500, retryIntervalMs: 100 };
    const a = new Elector({ store: await open(), election, id: 'a', ...timing });
    electors.push(a);
    a.start();
    await until('a leads', 5_000, () => a.isLeader());
    const b = new Elector({ store: await open(), election, id: 'b', priority: 1, ...timing });
    electors.push(b);
    let aLedAgain = false;
    a.on('elected', () => (aLedAgain = true));
    let memberCalls = 0;
    a.on('store-request', ({ op }) => {
      if (op === 'member') memberCalls += 1;
    });
    b.start();
    // b waits as a higher-priority candidate: a has seen its member record.
    await until('b is a member', 5_000, async () => (await a.members()).length === 2);
    const seen = memberCalls;
    await until('a refreshed its member list', 5_000, () => memberCalls >= seen + 2);
    await admin((client) =>
      client.query(`UPDATE "${schema}".leases SET token = 'overwritten' WHERE election = $1`, [
        election,
      ]),
    );
    await until('b leads', 10_000, () => b.isLeader());
    expect(aLedAgain).toBe(false);
    expect(await lockHolds(election)).toBe(1);
  });

  it('never forgets a lock whose unlock failed', async () => {
    // Forgetting it left the lock held once more after the next acquire took it again
    // (advisory locks stack within a session), and the release after that could not free it.
    const store = await open();
    const election = `unlock-${randomUUID().slice(0, 6)}`;
    const first = await store.tryAcquire({
      election,
      holder: 'a',
      token: randomUUID(),
      ttlMs: 5_000,
    });
    if (!first.acquired) throw new Error('a should acquire');
    const query = pg.Client.prototype.query;
    const spy = vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (
      this: pg.Client,
      ...args: unknown[]
    ) {
      if (typeof args[0] === 'string' && args[0].includes('pg_advisory_unlock')) {
        return Promise.reject(new Error('connection hiccup'));
      }
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query);
    await expect(store.release(first.lease)).rejects.toThrow(/hiccup/);
    spy.mockRestore();
    expect(await lockHolds(election)).toBe(1);
    // The release is tried again (the elector retries nothing, but a later release or
    // acquire of the same election must still know the lock is held).
    await store.release(first.lease);
    expect(await lockHolds(election)).toBe(0);
    const second = await store.tryAcquire({
      election,
      holder: 'a',
      token: randomUUID(),
      ttlMs: 5_000,
    });
    if (!second.acquired) throw new Error('a should acquire again');
    await store.release(second.lease);
    expect(await lockHolds(election)).toBe(0);
  });
});

describe('postgres reset under a running election', () => {
  it('recreates a dropped schema, elects again, and the elector notices terms went back', async () => {
    const namespace = `pgr${randomUUID().replaceAll('-', '').slice(0, 8)}`;
    const store = await createPostgresStore(new URL(SHARED_URL), { namespace });
    const elector = new Elector({
      store,
      election: 'jobs',
      id: 'a',
      ttlMs: 1_500,
      retryIntervalMs: 100,
    });
    const regressions: { previous: number; observed: number }[] = [];
    elector.on('term-regression', ({ previous, observed }) =>
      regressions.push({ previous, observed }),
    );
    try {
      elector.start();
      for (let term = 1; term <= 3; term += 1) {
        await until(`term ${term}`, 5_000, () => elector.currentTerm() === term);
        if (term < 3) await elector.resign();
      }
      await admin((client) => client.query(`DROP SCHEMA "${namespace}" CASCADE`));
      await until('a term regression', 10_000, () => regressions.length > 0);
      expect(regressions).toEqual([{ previous: 3, observed: 1 }]);
      await until('leading again', 10_000, () => elector.isLeader());
    } finally {
      await elector.stop();
      await store.close();
      await admin((client) => client.query(`DROP SCHEMA IF EXISTS "${namespace}" CASCADE`));
    }
  });
});

describe('postgres release wake-up', () => {
  it('wakes only the first in line, by priority, however many candidates watch', async () => {
    const namespace = `pgw${randomUUID().replaceAll('-', '').slice(0, 8)}`;
    const stores = await Promise.all(
      Array.from({ length: 6 }, () => createPostgresStore(new URL(SHARED_URL), { namespace })),
    );
    try {
      const wakes = await wakeUpsOfOneRelease(stores, async () => {
        await admin(async (client) => {
          const { rows } = await client.query<{ secret: string }>(
            `SELECT encode(secret, 'hex') AS secret FROM "${namespace}".secrets`,
          );
          const secret = rows[0]?.secret ?? '';
          await client.query(`SELECT pg_notify($1, $2)`, [
            wakeUpChannel(secret),
            wakeUpTag({ secret }, 'election', 'jobs'),
          ]);
        });
      });
      expect(wakes).toEqual({ c0: 1, c1: 1, c2: 1, c3: 1, c4: 2, c5: 2 });
    } finally {
      await Promise.all(stores.map((store) => store.close()));
      await admin((client) => client.query(`DROP SCHEMA IF EXISTS "${namespace}" CASCADE`));
    }
  });
});
