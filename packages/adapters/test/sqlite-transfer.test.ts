import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Lease } from '@leasehold/core';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/sqlite/store.js';

/**
 * Transfers on SQLite (docs/design.md §3.6) beyond the conformance suite: a reservation
 * lives in the lease row on the host's monotonic clock, so it must not outlive the boot
 * that wrote it, and a file an older version created gains its columns.
 */

const dir = mkdtempSync(join(tmpdir(), 'leasehold-sqlite-transfer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function store(path: string, bootId = 'boot-1'): SqliteStore {
  return new SqliteStore({
    path,
    namespace: 'x',
    busyTimeoutMs: 1_000,
    watchIntervalMs: 25,
    bootId,
  });
}

async function acquire(s: SqliteStore, holder: string): Promise<Lease> {
  const result = await s.tryAcquire({
    election: 'jobs',
    holder,
    token: randomUUID(),
    ttlMs: 5_000,
  });
  if (!result.acquired) throw new Error(`${holder} should acquire`);
  return result.lease;
}

describe('sqlite transfer', () => {
  it('reserves nothing after a reboot or against a restarted clock', async () => {
    const path = join(dir, `${randomUUID()}.db`);
    const before = store(path);
    expect(await before.transfer.handOver(await acquire(before, 'alpha'), 'beta', 60_000)).toBe(
      true,
    );
    expect(await before.transfer.reservation('jobs')).toMatchObject({ successor: 'beta' });
    // Another boot: the monotonic clock restarted, so the stored expiry means nothing.
    const after = store(path, 'boot-2');
    expect(await after.transfer.reservation('jobs')).toBeNull();
    expect(
      (await after.tryAcquire({ election: 'jobs', holder: 'gamma', token: 't', ttlMs: 1 }))
        .acquired,
    ).toBe(true);
    await Promise.all([before.close(), after.close()]);
  });

  it('recognises a reservation from before the clock restarted by its length', async () => {
    const path = join(dir, `${randomUUID()}.db`);
    const s = store(path);
    expect(await s.transfer.handOver(await acquire(s, 'alpha'), 'beta', 60_000)).toBe(true);
    // Same boot id (a host without one), but the expiry lies hours ahead of the clock.
    const raw = new Database(path);
    raw.prepare(`UPDATE "x_leases" SET reserved_until = reserved_until + 3600000`).run();
    raw.close();
    expect(await s.transfer.reservation('jobs')).toBeNull();
    expect(
      (await s.tryAcquire({ election: 'jobs', holder: 'gamma', token: 't', ttlMs: 1 })).acquired,
    ).toBe(true);
    await s.close();
  });

  it('adds the reservation columns to a lease table an older version created', async () => {
    const path = join(dir, `${randomUUID()}.db`);
    const raw = new Database(path);
    raw.exec(`CREATE TABLE "x_leases" (election TEXT PRIMARY KEY, holder TEXT, token TEXT,
      term INTEGER NOT NULL, metadata TEXT NOT NULL DEFAULT '{}', expires_at INTEGER NOT NULL,
      boot TEXT NOT NULL, released INTEGER NOT NULL DEFAULT 0)`);
    raw
      .prepare(`INSERT INTO "x_leases" VALUES ('jobs', NULL, NULL, 7, '{}', 0, 'boot-1', 1)`)
      .run();
    raw.close();
    const s = store(path);
    const lease = await acquire(s, 'alpha');
    expect(lease.term).toBe(8);
    expect(await s.transfer.handOver(lease, 'beta', 60_000)).toBe(true);
    expect(
      await s.tryAcquire({ election: 'jobs', holder: 'gamma', token: 't', ttlMs: 1 }),
    ).toMatchObject({
      acquired: false,
      reservedFor: 'beta',
    });
    expect((await acquire(s, 'beta')).term).toBe(9);
    await s.close();
  });

  it('does not let an expired lease hand over', async () => {
    const path = join(dir, `${randomUUID()}.db`);
    const s = store(path);
    const result = await s.tryAcquire({
      election: 'jobs',
      holder: 'alpha',
      token: 'old',
      ttlMs: 1,
    });
    if (!result.acquired) throw new Error('alpha should acquire');
    const raw = new Database(path);
    raw.prepare(`UPDATE "x_leases" SET expires_at = 0`).run(); // expired, not yet claimed
    raw.close();
    expect(await s.transfer.handOver(result.lease, 'beta', 60_000)).toBe(false);
    expect(await s.transfer.reservation('jobs')).toBeNull();
    await s.close();
  });
});
