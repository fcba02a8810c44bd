import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createPostgresStore } from '../src/postgres/index.js';

/**
 * The store shares one session between everything it does. node-postgres queued a statement
 * sent while another ran, and warns since 8.23 that pg 9 will not (a DeprecationWarning on the
 * sidecar's stderr): the store must never send one before the previous one ended.
 */
const SHARED_URL = 'postgres://postgres@127.0.0.1:5432/test';

afterEach(() => {
  vi.restoreAllMocks();
});

/** Counts statements sent on a pg.Client while another of its statements was running. */
function countOverlaps(): { overlaps: number; statements: number } {
  const seen = { overlaps: 0, statements: 0 };
  const running = new WeakMap<object, number>();
  const original = pg.Client.prototype.query;
  vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (
    this: pg.Client,
    ...args: unknown[]
  ) {
    const now = running.get(this) ?? 0;
    seen.statements += 1;
    if (now > 0) seen.overlaps += 1;
    running.set(this, now + 1);
    const result = (original as (...a: unknown[]) => unknown).apply(this, args);
    const done = () => running.set(this, (running.get(this) ?? 1) - 1);
    if (result instanceof Promise) result.then(done, done);
    else done();
    return result;
  } as typeof original);
  return seen;
}

describe('the PostgreSQL store', () => {
  it('sends one statement at a time on its session, however many calls overlap', async () => {
    const seen = countOverlaps();
    const schema = `pgq${randomUUID().replaceAll('-', '').slice(0, 8)}`;
    const store = await createPostgresStore(new URL(`${SHARED_URL}?schema=${schema}`));
    try {
      const election = 'serial';
      const member = { id: 'a', priority: 0, startedAt: Date.now(), metadata: {} };
      const acquired = await Promise.all([
        store.tryAcquire({ election, holder: 'a', token: 't1', ttlMs: 5_000 }),
        store.members?.put(election, member, 5_000),
        ...Array.from({ length: 5 }, () => store.read(election)),
        store.members?.list(election),
      ]);
      const [first] = acquired;
      if (first === undefined || !('acquired' in first) || !first.acquired) {
        throw new Error(`not acquired: ${JSON.stringify(first)}`);
      }
      await Promise.all([
        store.renew(first.lease),
        store.read(election),
        store.release(first.lease),
      ]);
      expect(seen.statements).toBeGreaterThan(10);
      expect(seen.overlaps).toBe(0);
    } finally {
      await store.close();
      const admin = new pg.Client({ connectionString: SHARED_URL });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    }
  });
});
