import { createStore } from '@leasehold/adapters';
import { Elector, LeaseholdConfigError, type LeaseStore } from '@leasehold/core';
import { runConformanceSuite } from '@leasehold/conformance';
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'leasehold-sqlite-'));
const dbPath = join(dir, 'leases.db');
const url = `sqlite://${dbPath}`;

afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Every connection is a separate SQLite connection to one file, as separate processes are.
runConformanceSuite({
  name: 'sqlite',
  transfer: true,
  memberSteering: true,
  batch: true,
  batchMembers: true,
  batchReads: true,
  batchBeat: true,
  batchClaims: true,
  createStore: ({ namespace }) => createStore(url, { namespace }),
});

describe('sqlite store', () => {
  const opened: LeaseStore[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
  });
  async function open(target = url, namespace = `t${randomUUID().slice(0, 8)}`) {
    const store = await createStore(target, { namespace });
    opened.push(store);
    return store;
  }

  it('creates the directory of a relative path', async () => {
    const relative = join(dir, 'nested', 'deeper', 'x.db');
    const store = await open(`sqlite://${relative}`);
    const result = await store.tryAcquire({
      election: 'jobs',
      holder: 'a',
      token: randomUUID(),
      ttlMs: 1_000,
    });
    expect(result.acquired).toBe(true);
  });

  it.each([
    ['sqlite://', 'needs a file path'],
    [`sqlite://${dbPath}?busyTimeout=abc`, 'whole number of milliseconds'],
    [`sqlite://${dbPath}?cache=shared`, 'accepts busyTimeout and watchInterval'],
    // A directory cannot be created below a regular file.
    [`sqlite://${import.meta.filename}/sub/x.db`, 'cannot create the directory'],
  ])('refuses %s with a clear message', async (target, message) => {
    const failure = await createStore(target).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(LeaseholdConfigError);
    expect((failure as Error).message).toContain(message);
  });

  it('treats a lease written before a reboot as expired', async () => {
    const namespace = `t${randomUUID().slice(0, 8)}`;
    const store = await open(url, namespace);
    const first = await store.tryAcquire({
      election: 'jobs',
      holder: 'a',
      token: 't1',
      ttlMs: 60_000,
    });
    expect(first.acquired).toBe(true);
    // Forge the row as if written in another boot (the monotonic clock restarts at boot).
    const raw = new Database(dbPath);
    raw.prepare(`UPDATE "${namespace}_leases" SET boot = 'previous-boot'`).run();
    raw.close();
    expect(await store.read('jobs')).toBeNull();
    const second = await store.tryAcquire({
      election: 'jobs',
      holder: 'b',
      token: 't2',
      ttlMs: 1_000,
    });
    expect(second).toMatchObject({ acquired: true, lease: { holder: 'b' } });
    if (first.acquired && second.acquired)
      expect(second.lease.term).toBeGreaterThan(first.lease.term);
  });

  it('elects one of three electors and hands over on stop within milliseconds', async () => {
    const namespace = `t${randomUUID().slice(0, 8)}`;
    const electors = await Promise.all(
      ['a', 'b', 'c'].map(async (id) => {
        const elector = new Elector({
          store: await open(url, namespace),
          election: 'jobs',
          id,
          ttlMs: 5_000,
          retryIntervalMs: 2_000,
        });
        elector.start();
        return elector;
      }),
    );
    const leaders = () => electors.filter((e) => e.isLeader());
    await pollUntil(() => leaders().length === 1, 5_000);
    const [first] = leaders();
    const stoppedAt = performance.now();
    await first?.stop();
    await pollUntil(
      () => leaders().length === 1,
      2_000,
      () => expect(leaders().length).toBeLessThanOrEqual(1),
    );
    // The watch (data_version) wakes followers; without it they would wait up to 2 s.
    expect(performance.now() - stoppedAt).toBeLessThan(1_000);
    await Promise.all(electors.map((e) => e.stop()));
  });
});

describe('sqlite across processes', () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children) child.kill('SIGKILL');
  });

  it(
    'takes over from a SIGKILLed leader after its lease, with a higher term',
    { timeout: 30_000 },
    async () => {
      const election = `x${randomUUID().slice(0, 8)}`;
      const events: { event: string; id: string; at: number; term?: number }[] = [];
      const script = new URL('../../../bench/candidates/leasehold.mjs', import.meta.url).pathname;
      for (const id of ['p1', 'p2', 'p3']) {
        const child = spawn(
          process.execPath,
          [script, '--store', url, '--election', election, '--id', id, '--ttl', '2000'],
          {
            stdio: ['ignore', 'pipe', 'inherit'],
          },
        );
        children.push(child);
        if (child.stdout === null) throw new Error('child has no stdout');
        createInterface({ input: child.stdout }).on('line', (line) =>
          events.push({ ...JSON.parse(line), id }),
        );
      }
      const elected = () => events.filter((e) => e.event === 'elected');
      await pollUntil(() => elected().length === 1, 10_000);
      const [first] = elected();
      if (first === undefined) throw new Error('no first leader');
      const leaderIndex = ['p1', 'p2', 'p3'].indexOf(first.id);
      const killedAt = Date.now();
      children[leaderIndex]?.kill('SIGKILL');
      await pollUntil(() => elected().length === 2, 10_000);
      const second = elected()[1];
      if (second === undefined) throw new Error('no second leader');
      expect(second.id).not.toBe(first.id);
      expect(second.term).toBeGreaterThan(first.term ?? Infinity);
      // Not before the dead leader's lease could have run out, not much after.
      expect(second.at - killedAt).toBeLessThan(2_000 + 1_500);
    },
  );
});

async function pollUntil(
  condition: () => boolean,
  withinMs: number,
  eachTime?: () => void,
): Promise<void> {
  const deadline = performance.now() + withinMs;
  for (;;) {
    eachTime?.();
    if (condition()) return;
    if (performance.now() > deadline) throw new Error(`condition not met within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('sqlite watch', () => {
  it('wakes a watcher at another connection’s release, without waiting for its poll', async () => {
    // A poll once a minute: only the file notification can wake the watcher in time.
    const slow = `${url}?watchInterval=60000`;
    const namespace = `w${randomUUID().slice(0, 8)}`;
    const [holder, watcher] = await Promise.all([
      createStore(url, { namespace }),
      createStore(slow, { namespace }),
    ]);
    const controller = new AbortController();
    try {
      const held = await holder.tryAcquire({
        election: 'jobs',
        holder: 'alpha',
        token: randomUUID(),
        ttlMs: 60_000,
      });
      if (!held.acquired) throw new Error('alpha should acquire');
      let woken = 0;
      await watcher.watch?.('jobs', () => (woken += 1), controller.signal);
      const releasedAt = performance.now();
      await holder.release(held.lease);
      await pollUntil(() => woken > 0, 5_000);
      expect(performance.now() - releasedAt).toBeLessThan(1_000);
    } finally {
      controller.abort();
      await Promise.all([holder.close(), watcher.close()]);
    }
  });
});
