import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { createStore } from '@leasehold/adapters';
import { Elector, type Lease } from '@leasehold/core';
import { liveMembers, signalGroup, until } from '@leasehold/testkit';
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

/**
 * Across processes the OS reports a commit's write to the WAL before the commit is visible
 * to other connections (the WAL index is updated after the fsync, in shared memory): a
 * watcher that looked only then slept until its next poll or someone's next write. Here
 * nothing else writes for 20 s (TTL 60 s) and the watch interval is a minute, so only a
 * wake-up at the hand-over itself moves leadership within the bound.
 */
describe('sqlite transfer across processes', () => {
  const BOUND_MS = 1_000;
  const HANDOVERS = 16;

  it(
    'the successor in another process leads within milliseconds, both ways',
    { timeout: 120_000 },
    async () => {
      const url = `sqlite://${join(dir, `${randomUUID()}.db`)}?watchInterval=60000`;
      const namespace = `x${randomUUID().slice(0, 8)}`;
      const timing = { election: 'jobs', ttlMs: 60_000, retryIntervalMs: 20_000 };
      const store = await createStore(url, { namespace });
      const a = new Elector({ store, id: 'a', ...timing });
      a.start();
      const b = startCandidate(url, namespace, 'b', timing);
      try {
        await until('a leads', 10_000, () => a.isLeader());
        await until('b is a live candidate', 10_000, async () =>
          (await a.members()).some((member) => member.id === 'b'),
        );
        const took: number[] = [];
        for (let round = 0; round < HANDOVERS / 2; round += 1) {
          const bElected = b.next('elected');
          let startedAt = performance.now();
          expect(await a.transfer('b')).toMatchObject({ transferred: true });
          took.push((await bElected) - startedAt);
          const aElected = new Promise<number>((resolve) =>
            a.once('elected', () => resolve(performance.now())),
          );
          startedAt = performance.now();
          expect(await b.transfer('a')).toMatchObject({ transferred: true });
          took.push((await aElected) - startedAt);
          const slow = took.filter((ms) => ms >= BOUND_MS);
          expect(slow, `hand-overs took ${took.map(Math.round).join(', ')} ms`).toEqual([]);
        }
      } finally {
        await b.kill();
        await a.stop();
        await store.close();
      }
    },
  );
});

/** A candidate (bench/candidates/leasehold.mjs) in a process group of its own. */
function startCandidate(
  url: string,
  namespace: string,
  id: string,
  timing: { election: string; ttlMs: number; retryIntervalMs: number },
) {
  const script = new URL('../../../bench/candidates/leasehold.mjs', import.meta.url).pathname;
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...[script, '--store', url, '--election', timing.election, '--id', id],
      ...['--ttl', String(timing.ttlMs), '--retry', String(timing.retryIntervalMs)],
      ...['--namespace', namespace],
    ],
    { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], detached: true },
  );
  const pgid = child.pid;
  if (pgid === undefined || child.stdout === null) throw new Error('the candidate did not start');
  const waiting = new Map<string, (at: number) => void>();
  createInterface({ input: child.stdout }).on('line', (line) => {
    const { event } = JSON.parse(line) as { event: string };
    waiting.get(event)?.(performance.now());
    waiting.delete(event);
  });
  return {
    /** When this process next reports `event` (by the test's clock). */
    next: (event: string) => new Promise<number>((resolve) => waiting.set(event, resolve)),
    transfer: (to: string) =>
      new Promise<unknown>((resolve) => {
        child.once('message', (reply: { outcome?: unknown; error?: string }) =>
          resolve(reply.outcome ?? reply.error),
        );
        child.send({ type: 'transfer', id, to, seq: 1 });
      }),
    async kill() {
      signalGroup(pgid, 'SIGKILL');
      await until('the candidate gone', 5_000, () => liveMembers(pgid).length === 0);
    },
  };
}
