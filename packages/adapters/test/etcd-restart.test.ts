import { createStore } from '@leasehold/adapters';
import {
  Elector,
  StoreUnavailableError,
  type AcquireRequest,
  type Lease,
  type LeaseStore,
} from '@leasehold/core';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EtcdCluster, trackTimers, until } from '@leasehold/testkit';

/**
 * Tests that stop and restart etcd: on a private etcd (free ports, own data directory), never
 * the shared one on 2379.
 */

const TTL_MS = 3_000;

let etcd: EtcdCluster;
const opened: LeaseStore[] = [];
const electors: Elector[] = [];

beforeAll(async () => {
  etcd = await EtcdCluster.start();
}, 30_000);

afterEach(async () => {
  if (!etcd.running) await etcd.start();
  await Promise.all(electors.splice(0).map((elector) => elector.stop()));
  await Promise.all(opened.splice(0).map((store) => store.close()));
}, 30_000);

afterAll(async () => {
  await etcd?.close();
}, 30_000);

async function open(namespace: string): Promise<LeaseStore> {
  const store = await createStore(etcd.url, { namespace });
  opened.push(store);
  return store;
}

function uniqueNamespace(): string {
  return `t${randomUUID().slice(0, 8)}`;
}

function request(election: string, holder: string): AcquireRequest {
  return { election, holder, token: randomUUID(), ttlMs: TTL_MS };
}

async function acquire(store: LeaseStore, req: AcquireRequest): Promise<Lease> {
  const result = await store.tryAcquire(req);
  if (!result.acquired) throw new Error(`${req.holder} could not acquire ${req.election}`);
  return result.lease;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll `predicate` every few milliseconds; resolves to the elapsed time, or throws. */
/** The kit's until, answering how long the wait took (ms). */
async function elapsedUntil(
  what: string,
  withinMs: number,
  check: () => boolean | Promise<boolean>,
): Promise<number> {
  const startedAt = performance.now();
  await until(what, withinMs, check);
  return performance.now() - startedAt;
}

/**
 * Samples every elector's `isLeader()` in one synchronous pass, every millisecond, and keeps
 * the largest number that said yes at once. One pass is one instant for all of them.
 */
function watchLeadership(candidates: readonly Elector[]) {
  let maxLeaders = 0;
  let samples = 0;
  const sample = (): void => {
    const leaders = candidates.filter((candidate) => candidate.isLeader()).length;
    maxLeaders = Math.max(maxLeaders, leaders);
    samples += 1;
  };
  const timer = setInterval(sample, 1);
  return {
    get maxLeaders() {
      sample();
      return maxLeaders;
    },
    get samples() {
      return samples;
    },
    stop: () => clearInterval(timer),
  };
}

function leaderOf(candidates: readonly Elector[]): Elector | null {
  return candidates.find((candidate) => candidate.isLeader()) ?? null;
}

describe('etcd restarts', () => {
  it(
    'never has two leaders while etcd restarts, and leads again within one TTL of etcd being back',
    { timeout: 90_000 },
    async () => {
      const namespace = uniqueNamespace();
      const candidates = await Promise.all(
        ['alpha', 'beta', 'gamma'].map(
          async (id) =>
            new Elector({
              store: await open(namespace),
              election: 'restart',
              id,
              ttlMs: TTL_MS,
              retryIntervalMs: 500,
            }),
        ),
      );
      electors.push(...candidates);
      const monitor = watchLeadership(candidates);
      try {
        for (const candidate of candidates) candidate.start();
        await until('first leader', 10_000, () => leaderOf(candidates) !== null);

        // A quick restart: etcd is usually back before the holder's deadline, so it keeps
        // leading throughout.
        const holder = leaderOf(candidates);
        const termBefore = holder?.currentTerm() ?? 0;
        await etcd.stop();
        await etcd.start();
        const afterShort = await elapsedUntil(
          'a leader after a short outage',
          TTL_MS,
          () => leaderOf(candidates) !== null,
        );
        expect(afterShort).toBeLessThan(TTL_MS);

        // A long outage: every candidate's deadline passes and the holder steps down. etcd
        // keeps the old lease and even extends it on restart; the holder's failed release is
        // retried once etcd answers, so the election is not blocked for a TTL.
        await until('a leader before stopping', TTL_MS, () => leaderOf(candidates) !== null);
        await etcd.stop();
        await until('leader stepped down', 2 * TTL_MS, () => leaderOf(candidates) === null);
        // Down a while longer: every candidate fails and backs off some more.
        await delay(500);
        expect(leaderOf(candidates)).toBeNull();
        await etcd.start();
        const afterLong = await elapsedUntil(
          'a leader after a long outage',
          TTL_MS,
          () => leaderOf(candidates) !== null,
        );
        expect(afterLong).toBeLessThan(TTL_MS);
        expect(leaderOf(candidates)?.currentTerm() ?? 0).toBeGreaterThan(termBefore);

        expect(monitor.samples).toBeGreaterThan(100);
        expect(monitor.maxLeaders).toBe(1);
        console.info(
          `etcd restart: leader again ${afterShort.toFixed(0)} ms after a short outage, ${afterLong.toFixed(0)} ms after a long one (TTL ${TTL_MS} ms)`,
        );
      } finally {
        monitor.stop();
      }
    },
  );

  it(
    'retries a release that failed while etcd was down, so the key goes soon after it is back',
    { timeout: 60_000 },
    async () => {
      const namespace = uniqueNamespace();
      const [holder, follower] = [await open(namespace), await open(namespace)];
      const lease = await acquire(holder, request('jobs', 'alpha'));
      await etcd.stop();
      await expect(holder.release(lease)).rejects.toBeInstanceOf(StoreUnavailableError);
      await etcd.start();
      // etcd restored the lease with a fresh TTL (plus its election timeout): without the
      // retry the key would live at least TTL_MS more.
      const freedAfter = await elapsedUntil(
        'released key gone',
        TTL_MS,
        async () => (await follower.read('jobs').catch(() => 'unreachable')) === null,
      );
      expect(freedAfter).toBeLessThan(TTL_MS);
      const next = await acquire(follower, request('jobs', 'beta'));
      expect(next.term).toBeGreaterThan(lease.term);
    },
  );

  it(
    'leaves no watchers, leases or timers behind after many cycles and restarts',
    { timeout: 90_000 },
    async () => {
      const namespace = uniqueNamespace();
      const election = 'cycles';
      await settledResources();
      const baseline = activeResources();
      const timers = trackTimers();
      const store = await createStore(etcd.url, { namespace });
      const rival = await open(namespace);
      try {
        for (let cycle = 0; cycle < 40; cycle += 1) {
          const controller = new AbortController();
          let changes = 0;
          await store.watch?.(election, () => (changes += 1), controller.signal);
          // A second listener on the same key shares the first one's etcd watcher.
          const second = new AbortController();
          await store.watch?.(election, () => undefined, second.signal);
          const lease = await acquire(store, request(election, 'alpha'));
          expect((await rival.tryAcquire(request(election, 'beta'))).acquired).toBe(false);
          expect(await store.renew(lease)).toMatchObject({ renewed: true });
          await store.members?.put(
            election,
            {
              id: 'alpha',
              priority: 0,
              startedAt: Date.now(),
              heartbeatAt: Date.now(),
              isLeader: true,
              metadata: {},
            },
            TTL_MS,
          );
          expect(await store.read(election)).toMatchObject({ holder: 'alpha', term: lease.term });
          await store.release(lease);
          await until('watch saw the put and the delete', 5_000, () => changes >= 2);
          second.abort();
          controller.abort();
          if (cycle % 20 === 10) {
            // Calls and a watch while etcd is down, then etcd back.
            const outage = new AbortController();
            await etcd.stop();
            await store.watch?.(election, () => undefined, outage.signal);
            await expect(store.read(election)).rejects.toBeInstanceOf(StoreUnavailableError);
            await expect(store.tryAcquire(request(election, 'alpha'))).rejects.toBeInstanceOf(
              StoreUnavailableError,
            );
            await etcd.start();
            await until(
              'etcd answering again',
              10_000,
              async () => (await store.read(election).catch(() => 'down')) === null,
            );
            outage.abort();
          }
        }
        await store.members?.remove(election, 'alpha');
        // etcd's own view: every watcher cancelled, every lease revoked.
        await until(
          'etcd watchers back to 0',
          5_000,
          async () => (await etcd.metric('etcd_debugging_mvcc_watcher_total')) === 0,
        );
        await until('etcd leases back to 0', 5_000, async () => (await leaseCount()) === 0);
      } finally {
        await store.close();
        await rival.close();
      }
      // Ours: every socket to etcd, every timer and every other resource gone.
      try {
        await until('sockets to etcd closed', 5_000, () => etcd.connectionsFromThisProcess() === 0);
        await until('timers cleared', 5_000, () => timers.live() === 0);
        await until(
          'resources back to the baseline',
          5_000,
          () => exceeding(activeResources(), baseline).length === 0,
        );
      } catch (error) {
        throw new Error(
          `${(error as Error).message}: ${etcd.connectionsFromThisProcess()} sockets, ${timers.live()} timers, above the baseline: ${JSON.stringify(exceeding(activeResources(), baseline))}`,
        );
      } finally {
        timers.restore();
      }
    },
  );
});

async function leaseCount(): Promise<number> {
  const output = await etcd.etcdctl('lease', 'list');
  const match = /found (\d+) leases/.exec(output);
  if (match === null) throw new Error(`unexpected etcdctl output: ${output}`);
  return Number(match[1]);
}

function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

function exceeding(current: Record<string, number>, baseline: Record<string, number>): string[] {
  return Object.entries(current)
    .filter(([type, count]) => count > (baseline[type] ?? 0))
    .map(([type, count]) => `${type}: ${count} > ${baseline[type] ?? 0}`);
}

/** Earlier tests' stores close asynchronously: wait until the resource count stops falling. */
async function settledResources(): Promise<void> {
  let previous = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 20; round += 1) {
    const count = process.getActiveResourcesInfo().length;
    if (count >= previous) return;
    previous = count;
    await delay(100);
  }
}
