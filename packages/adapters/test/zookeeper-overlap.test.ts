import { createStore } from '@leasehold/adapters';
import type { AcquireRequest, AcquireResult, LeaseStore } from '@leasehold/core';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { member } from './helpers/exercise-store.js';
import { ZooKeeperInspector } from './helpers/zookeeper-inspector.js';

/**
 * Calls of one candidate that overlap, as the elector makes them: it stops waiting for an
 * acquire after its store-call timeout (core's store-calls.ts) and asks again with a new
 * token while the first still runs, and it releases a lease that was granted after it gave
 * up. Seen in CI's chaos `transfer` round: a first acquire timed out while the sidecar's
 * event loop was busy, the candidate led 17 ms and lost, and nobody led again: a late call
 * had queued a znode no candidacy owned, ahead of the candidate's own.
 *
 * The same stall made a member record's expiry and its heartbeat due at once: the expiry
 * deleted the record the heartbeat had just rewritten (and a transfer to it is refused).
 */
const HOSTS = '127.0.0.1:2181';
const TTL_MS = 2_000;
/** Where the later calls start: after this many turns of the event loop (ZooKeeper answers). */
const STAGGERS = [0, 2, 4, 6, 9, 12, 15, 18, 24];

let inspector: ZooKeeperInspector;
beforeAll(async () => {
  inspector = await ZooKeeperInspector.connect(HOSTS);
});
afterAll(() => inspector?.close());

/** Keep the event loop busy, as a sidecar loading its admin routes (Fastify) does. */
function stallLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

async function loopTurns(count: number): Promise<void> {
  for (let turn = 0; turn < count; turn += 1) await new Promise((r) => setImmediate(r));
}

describe('zookeeper: one candidate’s overlapping calls', () => {
  const opened: LeaseStore[] = [];
  const trees: string[] = [];

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
    for (const tree of trees.splice(0)) await inspector.removeTree(tree);
  });

  async function open(): Promise<[LeaseStore, string]> {
    const ns = `lhzo${randomUUID().slice(0, 8)}`;
    trees.push(`/${ns}`);
    const store = await createStore(`zk://${HOSTS}`, { namespace: ns, ttlMs: TTL_MS });
    opened.push(store);
    return [store, ns];
  }

  function request(): AcquireRequest {
    return { election: 'jobs', holder: 'alpha', token: randomUUID(), ttlMs: TTL_MS };
  }

  /** Two acquires given up on (their grants released late, as the elector does), then one. */
  async function overlapping(store: LeaseStore, first: number, second: number) {
    const given = (answer: Promise<AcquireResult>): Promise<unknown> =>
      answer.then(
        (late) => (late.acquired ? store.release(late.lease) : undefined),
        () => undefined,
      );
    const late = [given(store.tryAcquire(request()))];
    await loopTurns(first);
    late.push(given(store.tryAcquire(request())));
    await loopTurns(second);
    // The last may fail (the elector then asks again); if it is granted, its lease holds.
    const last = await store.tryAcquire(request()).catch(() => null);
    const lease = last?.acquired === true ? last.lease : null;
    const renewed = lease === null ? null : (await store.renew(lease)).renewed;
    await Promise.all(late);
    return { lease, renewed };
  }

  it('leads with the last acquire’s lease however late the others land, and leaves no znode behind', async () => {
    const failures: string[] = [];
    for (const first of STAGGERS) {
      for (const second of STAGGERS) {
        const [store, ns] = await open();
        const last = await overlapping(store, first, second);
        if (last.renewed === false) failures.push(`${first}/${second}: the last lease was lost`);
        if (last.lease !== null) await store.release(last.lease);
        // Alone in its election, it leads again at once.
        const again = await store.tryAcquire(request());
        if (again.acquired) await store.release(again.lease);
        else failures.push(`${first}/${second}: refused, led by ${again.current?.holder}`);
        const left = (await inspector.children(`/${ns}/elections/jobs`)) ?? [];
        if (left.length > 0) failures.push(`${first}/${second}: left ${left.join(' ')}`);
        await Promise.all(opened.splice(0).map((opened) => opened.close()));
      }
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it('keeps a member record that a heartbeat rewrites as the loop wakes from a stall longer than its TTL', async () => {
    const [store] = await open();
    const members = store.members;
    if (members === undefined) throw new Error('the zookeeper store keeps member records');
    await members.put('jobs', member('charlie'), 300);
    // The heartbeat is due first; the record's expiry (300 ms) is overdue too when the loop wakes.
    let heartbeat: Promise<void> | null = null;
    setTimeout(() => (heartbeat = members.put('jobs', member('charlie'), 300)), 50);
    stallLoop(600);
    await new Promise((resolve) => setTimeout(resolve, 0));
    await heartbeat;
    expect((await members.list('jobs')).map((record) => record.id)).toEqual(['charlie']);
  });
});
