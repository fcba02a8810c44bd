import {
  Elector,
  SharedHeartbeat,
  type AcquireRequest,
  type LeaseStore,
  type MemberPut,
  type MemberRecord,
} from '@leasehold/core';
import { pause, until } from '@leasehold/testkit';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { acquire, member } from './helpers/exercise-store.js';
import { ZooKeeperInspector } from './helpers/zookeeper-inspector.js';
import { ZooKeeperTestStores } from './helpers/zookeeper-stores.js';

/**
 * Member heartbeats on ZooKeeper (batch.putMembers, docs/design.md §3.8 "Member records on
 * ZooKeeper"): a record is rewritten only when its content changed or it went missing, and
 * the lists come from watches, fresh as of an ordering barrier. On the shared ZooKeeper
 * (2181), a namespace of its own per test (zk27…), removed afterwards.
 */
const HOSTS = '127.0.0.1:2181';
const TTL_MS = 3_000;

let inspector: ZooKeeperInspector;
beforeAll(async () => {
  inspector = await ZooKeeperInspector.connect(HOSTS);
});
afterAll(() => inspector?.close());

const stores = new ZooKeeperTestStores(() => inspector, 'zk27');
afterEach(() => stores.cleanup());
const namespace = (): string => stores.namespace();
const open = (ns: string): Promise<LeaseStore> =>
  stores.open(`zk://${HOSTS}`, { namespace: ns, ttlMs: TTL_MS });

/** Counts the ZooKeeper requests the store sends, by operation (its session's one door). */
function countRequests(store: LeaseStore): Map<string, number> {
  const counts = new Map<string, number>();
  const session = (
    store as unknown as { session: { request: (op: string, ...rest: unknown[]) => unknown } }
  ).session;
  const request = session.request.bind(session);
  session.request = (operation: string, ...rest: unknown[]) => {
    counts.set(operation, (counts.get(operation) ?? 0) + 1);
    return request(operation, ...rest);
  };
  return counts;
}

function putMembersOf(
  store: LeaseStore,
): (puts: readonly MemberPut[]) => Promise<MemberRecord[][]> {
  const putMembers = store.batch?.putMembers;
  if (putMembers === undefined) throw new Error('batch.putMembers is missing');
  return (puts) => putMembers.call(store.batch, puts);
}

const ids = (records: readonly MemberRecord[] | undefined): string[] =>
  (records ?? []).map((record) => `${record.id}:${record.priority}`).sort();

describe('zookeeper member heartbeats (batch.putMembers)', () => {
  it('at idle, a heartbeat of 200 elections sends one request (the barrier) and writes nothing', async () => {
    const ns = namespace();
    const [a, b] = [await open(ns), await open(ns)];
    const elections = Array.from({ length: 200 }, (_, i) => `e${i}`);
    const started = Date.now();
    const puts = (at: number): MemberPut[] =>
      elections.map((election) => ({
        election,
        member: member('alpha', { startedAt: started, heartbeatAt: at }),
        ttlMs: TTL_MS,
      }));
    await Promise.all(elections.slice(0, 50).map((e) => b.members?.put(e, member('beta'), 60_000)));
    const first = await putMembersOf(a)(puts(started));
    expect(first.slice(0, 50).map(ids)).toEqual(
      elections.slice(0, 50).map(() => ['alpha:0', 'beta:0']),
    );
    expect(first.slice(50).map(ids)).toEqual(elections.slice(50).map(() => ['alpha:0']));
    // Our creates fire our own child watches once; let those reads end before counting.
    await putMembersOf(a)(puts(started + 1));
    const counts = countRequests(a);
    const again = await putMembersOf(a)(puts(started + 2));
    expect(Object.fromEntries(counts)).toEqual({ renew: 1 });
    expect(again.map(ids)).toEqual(first.map(ids));
    // Nothing rewritten: the stored record is the first one.
    const stored = await inspector.data(`/${ns}/members/e7/alpha`);
    expect(JSON.parse(stored?.data ?? '{}')).toMatchObject({ heartbeatAt: started });
    expect(stored?.stat.version).toBe(0);
  });

  it('answers every change another store made before the call', async () => {
    const ns = namespace();
    const [a, b] = [await open(ns), await open(ns)];
    const putMembers = putMembersOf(a);
    const mine = [{ election: 'jobs', member: member('alpha'), ttlMs: TTL_MS }];
    expect((await putMembers(mine)).map(ids)).toEqual([['alpha:0']]);
    for (let round = 1; round <= 20; round += 1) {
      await b.members?.put('jobs', member('beta', { priority: round }), 60_000);
      expect((await putMembers(mine)).map(ids)).toEqual([['alpha:0', `beta:${round}`]]);
      await b.members?.put('jobs', member(`gamma${round}`), 60_000);
      expect((await putMembers(mine)).map(ids)).toEqual([
        ['alpha:0', `beta:${round}`, `gamma${round}:0`],
      ]);
      await b.members?.remove('jobs', `gamma${round}`);
      expect((await putMembers(mine)).map(ids)).toEqual([['alpha:0', `beta:${round}`]]);
    }
  });

  it('writes a record again when its content changes or it went missing, not for its heartbeatAt', async () => {
    const ns = namespace();
    const a = await open(ns);
    const putMembers = putMembersOf(a);
    const path = `/${ns}/members/jobs/alpha`;
    const record = member('alpha');
    const put = (extra: Partial<MemberRecord>) =>
      putMembers([{ election: 'jobs', member: { ...record, ...extra }, ttlMs: TTL_MS }]);
    await put({});
    await put({ heartbeatAt: record.heartbeatAt + 1 });
    expect((await inspector.data(path))?.stat.version).toBe(0);
    await put({ isLeader: true });
    const led = await inspector.data(path);
    expect(led?.stat.version).toBe(1);
    expect(JSON.parse(led?.data ?? '{}')).toMatchObject({ isLeader: true });
    // Deleted behind its back: the next heartbeat (after the barrier) creates it again.
    await inspector.removeTree(path);
    expect((await put({ isLeader: true })).map(ids)).toEqual([['alpha:0']]);
    expect(JSON.parse((await inspector.data(path))?.data ?? '{}')).toMatchObject({
      isLeader: true,
    });
    // A record not heartbeated for its TTL still goes (the session alone would keep it).
    await until(
      'the unheartbeated record to go',
      TTL_MS + 5_000,
      async () => (await inspector.data(path)) === null,
    );
  });

  it('three candidates in 30 elections on shared heartbeats: every list has all three; at idle no record is written, the lists cost at most a request a tick, followers claim once a TTL', async () => {
    const ns = namespace();
    const ELECTIONS = 30;
    const stores = [await open(ns), await open(ns), await open(ns)];
    const electors = stores.map((store, s) => {
      const id = `c${s}`;
      const probe = new Elector({ store, election: 'probe', id, ttlMs: TTL_MS });
      const sharedHeartbeat = new SharedHeartbeat({
        store,
        periodMs: probe.timing.renewIntervalMs,
      });
      return Array.from(
        { length: ELECTIONS },
        (_, i) => new Elector({ store, election: `e${i}`, id, ttlMs: TTL_MS, sharedHeartbeat }),
      );
    });
    try {
      for (const elector of electors.flat()) elector.start();
      // A list is a store call of its own (members.list): one that times out on a loaded
      // machine is asked again.
      const allListed = async () => {
        const lists = await Promise.all(electors.flat().map((elector) => elector.members()));
        return lists.every((list) => list.length === 3);
      };
      const listedNow = () => allListed().catch(() => false);
      await until('every member in every list', 4 * TTL_MS, listedNow);
      const led = () => electors[0]?.filter((_, i) => electors.some((c) => c[i]?.isLeader()));
      await until('every election led', 4 * TTL_MS, () => led()?.length === ELECTIONS);
      // Idle (the leaders' records rewritten once for isLeader, a renew interval ago): what
      // each store sends over two renew intervals. The windows are the measure.
      const renewIntervalMs = TTL_MS / 3;
      await pause(renewIntervalMs);
      const counts = stores.map((store) => countRequests(store));
      await pause(2 * renewIntervalMs);
      const seen = counts.map((count) => Object.fromEntries(count));
      for (const count of counts) {
        // Nothing written per member record, and one leader-ordered request a renew
        // interval: the leader's renewal multi, which the barrier rides, or the barrier.
        expect(count.get('write') ?? 0, JSON.stringify(seen)).toBe(0);
        expect(count.get('create') ?? 0, JSON.stringify(seen)).toBe(0);
        // Two or three ticks in the window: one request each, two if the barrier missed
        // the renewals (barrier.test.ts checks that it rides), never one per record.
        expect(count.get('renew') ?? 0, JSON.stringify(seen)).toBeLessThanOrEqual(6);
        expect(count.get('renew') ?? 0, JSON.stringify(seen)).toBeGreaterThanOrEqual(1);
        // A follower claims once a TTL while the queue's watch stands in for its polls
        // (LeaseStore.watching): a claim lists the queue once, so at most one list per
        // election in the window (two thirds of a TTL). Polling, it was 56-63 here.
        expect(count.get('list') ?? 0, JSON.stringify(seen)).toBeLessThanOrEqual(ELECTIONS);
      }
      console.log('requests over two renew intervals, by store:', JSON.stringify(seen));
    } finally {
      await Promise.all(electors.flat().map((elector) => elector.stop({ withinMs: 5_000 })));
    }
  });
});

/**
 * `watching` on ZooKeeper (docs/design.md §3.8, "Followers wait on the watch"): true for a
 * queued candidate whose predecessor's znode is watched (and whose hand-over wake watch is
 * set), false otherwise.
 */
describe('zookeeper watching', () => {
  const request = (holder: string): AcquireRequest => ({
    election: 'jobs',
    holder,
    token: randomUUID(),
    ttlMs: TTL_MS,
  });

  it('says a queued candidate is watching while the znode ahead of it is watched, never the leader', async () => {
    const ns = namespace();
    const [a, b, c] = [await open(ns), await open(ns), await open(ns)];
    const controller = new AbortController();
    onTestFinished(() => controller.abort());
    const watching = (store: LeaseStore, holder: string) =>
      store.watching?.('jobs', holder) === true;
    const lease = await acquire(a, request('alpha'));
    await a.watch?.('jobs', () => {}, controller.signal, 'alpha');
    // As an elector does it: the watch first (on the leader, nothing of ours queued), then
    // the claim that queues right behind that leader, whose znode the watch is already on.
    await b.watch?.('jobs', () => {}, controller.signal, 'beta');
    expect((await b.tryAcquire(request('beta'))).acquired).toBe(false);
    // The other order: queued but not watching yet, its polls must go on.
    expect((await c.tryAcquire(request('gamma'))).acquired).toBe(false);
    expect(watching(c, 'gamma')).toBe(false);
    await c.watch?.('jobs', () => {}, controller.signal, 'gamma');
    await until(
      'beta and gamma watching',
      5_000,
      () => watching(b, 'beta') && watching(c, 'gamma'),
    );
    expect(watching(a, 'alpha')).toBe(false); // the leader polls nothing anyway: not a follower
    expect(watching(c, 'beta')).toBe(false); // no candidacy of beta's on c's store
    // The leader leaves: beta is first now (nothing ahead to watch) until it claims and leads.
    await a.release(lease);
    await until('beta first in line', 5_000, () => !watching(b, 'beta'));
    await acquire(b, request('beta'));
    expect(watching(b, 'beta')).toBe(false);
    // gamma's predecessor is beta's znode, still there: gamma waits on it (once its watch,
    // fired by the grant's rewrite of that znode's data, is set again).
    await until('gamma watching beta', 5_000, () => watching(c, 'gamma'));
  });
});
