import { createStore } from '@leasehold/adapters';
import { Elector, type LeaseStore } from '@leasehold/core';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { until, ZooKeeperEnsemble } from '@leasehold/testkit';
import { acquire } from './helpers/exercise-store.js';

/**
 * ZooKeeper going away under running electors: a standalone server restarted; an ensemble
 * losing a member, then its leader; each member of an ensemble frozen in turn. On private
 * servers started once per describe (a JVM is slow to start), never the shared one on 2181.
 */

const TTL_MS = 2_000;

const opened: LeaseStore[] = [];
const electors: Elector[] = [];
const monitors: { stop(): void }[] = [];

afterEach(async () => {
  for (const monitor of monitors.splice(0)) monitor.stop();
  await Promise.all(electors.splice(0).map((elector) => elector.stop()));
  await Promise.all(opened.splice(0).map((store) => store.close()));
}, 30_000);

/** Three electors on stores (sessions) of their own, in one election, and their monitor. */
async function candidates(url: string, ttlMs = TTL_MS) {
  const namespace = `t${randomUUID().slice(0, 8)}`;
  const group = await Promise.all(
    ['alpha', 'beta', 'gamma'].map(async (id) => {
      const store = await createStore(url, { namespace, ttlMs });
      opened.push(store);
      return new Elector({ store, election: 'failover', id, ttlMs, retryIntervalMs: 200 });
    }),
  );
  electors.push(...group);
  const monitor = watchLeadership(group);
  monitors.push(monitor);
  for (const elector of group) elector.start();
  return { group, monitor };
}

/**
 * Samples every elector's `isLeader()` in one synchronous pass every millisecond: the most
 * that said yes at once, and the terms leaders reported, in order.
 */
function watchLeadership(group: readonly Elector[]) {
  let maxLeaders = 0;
  const terms: number[] = [];
  const sample = (): void => {
    const leaders = group.filter((elector) => elector.isLeader());
    maxLeaders = Math.max(maxLeaders, leaders.length);
    const term = leaders[0]?.currentTerm() ?? null;
    if (term !== null && terms.at(-1) !== term) terms.push(term);
  };
  const timer = setInterval(sample, 1);
  return {
    get maxLeaders() {
      sample();
      return maxLeaders;
    },
    terms,
    stop: () => clearInterval(timer),
  };
}

function leaderOf(group: readonly Elector[]): Elector | null {
  return group.find((elector) => elector.isLeader()) ?? null;
}

/**
 * Every elector got an answer from ZooKeeper after `since` (wall clock), and one leads: the
 * clients found a working server and the leader renews.
 */
async function electingAgain(group: readonly Elector[], since: number, withinMs: number) {
  await until(
    'every elector served by ZooKeeper again, one leading',
    withinMs,
    () =>
      leaderOf(group) !== null &&
      group.every((elector) => (elector.status().store.lastOkAt ?? 0) > since),
  );
}

describe('a standalone ZooKeeper restarted', () => {
  let zk: ZooKeeperEnsemble;
  beforeAll(async () => {
    zk = await ZooKeeperEnsemble.start();
  }, 60_000);
  afterAll(() => zk?.close(), 30_000);

  it(
    'keeps the leader through a short restart, hands over after a long one, terms rising',
    { timeout: 60_000 },
    async () => {
      // Long enough that a JVM restart on a busy machine fits well within the deadline.
      const ttlMs = 4_000;
      const { group, monitor } = await candidates(zk.url, ttlMs);
      const [server] = zk.members;
      if (server === undefined) throw new Error('no server');
      await until('first leader', 10_000, () => leaderOf(group) !== null);
      const first = leaderOf(group);
      const firstTerm = first?.currentTerm() ?? Number.POSITIVE_INFINITY;

      // ZooKeeper keeps sessions across a restart (they are in its data directory): back
      // within the holder's deadline, the same leader carries on under the same term.
      await server.process.stop();
      await server.process.start();
      await electingAgain(group, Date.now(), ttlMs);
      expect(leaderOf(group)).toBe(first);
      expect(first?.currentTerm()).toBe(firstTerm);

      // Down for longer than the TTL: the leader's deadline passes and it steps down. Once
      // ZooKeeper is back, its release lets the next in the queue lead, under a higher term.
      await server.process.stop();
      await until('leader deposed', ttlMs * 2, () => leaderOf(group) === null);
      await server.process.start();
      await electingAgain(group, Date.now(), ttlMs * 3);
      expect(leaderOf(group)?.currentTerm()).toBeGreaterThan(firstTerm);
      expect(monitor.maxLeaders).toBe(1);
      expect(monitor.terms).toEqual([...monitor.terms].sort((a, b) => a - b));
    },
  );

  it(
    'keeps a transfer’s reservation through a restart: others refused, the successor claims',
    { timeout: 60_000 },
    async () => {
      const namespace = `t${randomUUID().slice(0, 8)}`;
      const [a, b, c] = await Promise.all(
        [0, 1, 2].map(async () => {
          const store = await createStore(zk.url, { namespace, ttlMs: 4_000 });
          opened.push(store);
          return store;
        }),
      );
      const request = (holder: string) => ({
        election: 'jobs',
        holder,
        token: randomUUID(),
        ttlMs: 4_000,
      });
      const first = await acquire(a as LeaseStore, request('alpha'));
      expect(await a?.transfer?.handOver(first, 'beta', 30_000)).toBe(true);
      const [server] = zk.members;
      await server?.process.stop();
      await server?.process.start();
      // The reservation is a persistent znode: it is in the data directory, like the zxids.
      const kept = await until('ZooKeeper answering again', 20_000, () =>
        c?.transfer?.reservation('jobs').catch(() => null),
      );
      expect(kept).toMatchObject({ successor: 'beta', from: 'alpha' });
      expect(await c?.tryAcquire(request('gamma'))).toMatchObject({ reservedFor: 'beta' });
      const second = await until('beta claims', 20_000, () =>
        b?.tryAcquire(request('beta')).then(
          (answer) => (answer.acquired ? answer.lease : null),
          () => null,
        ),
      );
      expect(second.term).toBeGreaterThan(first.term);
      expect(await c?.read('jobs')).toMatchObject({ holder: 'beta', term: second.term });
    },
  );
});

describe('a three-member ensemble', () => {
  let zk: ZooKeeperEnsemble;
  beforeAll(async () => {
    zk = await ZooKeeperEnsemble.onLoopback();
  }, 60_000);
  afterEach(() => zk.startAll(), 60_000);
  afterAll(() => zk?.close(), 30_000);

  it(
    'elects on through a member stopped, then the ensemble leader stopped, never two leaders',
    { timeout: 90_000 },
    async () => {
      const { group, monitor } = await candidates(zk.url);
      await until('first leader', 10_000, () => leaderOf(group) !== null);
      const ensembleLeader = await zk.leader();
      const follower = zk.members.find((member) => member !== ensembleLeader);
      if (follower === undefined) throw new Error('no follower');

      // A follower goes: its clients move to the other members within their sessions.
      await follower.process.stop();
      await electingAgain(group, Date.now(), TTL_MS * 3);

      // It comes back; then the ensemble's leader goes: the two left elect a new one and
      // the sessions carry over to it. The election goes on, with renewals (it lasts more
      // than a TTL after the new ensemble leader is there).
      await follower.process.start();
      await ensembleLeader.process.stop();
      await zk.leader();
      const since = Date.now();
      await electingAgain(group, since, TTL_MS * 5);
      await electingAgain(group, since + TTL_MS, TTL_MS * 3);
      expect(monitor.maxLeaders).toBe(1);
      expect(monitor.terms).toEqual([...monitor.terms].sort((a, b) => a - b));
    },
  );

  it(
    'moves clients off a frozen member (SIGSTOP) before their sessions expire',
    { timeout: 90_000 },
    async () => {
      const { group, monitor } = await candidates(zk.url);
      await until('first leader', 10_000, () => leaderOf(group) !== null);
      // Each member in turn keeps its sockets open and answers nothing (the ensemble's
      // leader too, which the other two replace); whichever member a client is on, it must
      // notice the silence and go to another, and every elector must be served again a
      // whole TTL after the freeze while the member is still frozen.
      for (const member of zk.members) {
        member.freeze();
        const frozenAt = Date.now();
        // Generous: freezing the ensemble's own leader costs a ZooKeeper election (its init
        // and sync limits) before clients are served again; 10 s was once not enough in CI
        // (2026-12-07). The safety check below is what this test is for.
        await electingAgain(group, frozenAt + TTL_MS, TTL_MS * 10);
        member.thaw();
        await member.serving();
      }
      expect(monitor.maxLeaders).toBe(1);
    },
  );
});
