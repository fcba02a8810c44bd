import { createStore } from '@leasehold/adapters';
import type { AcquireRequest, LeaseStore } from '@leasehold/core';
import { until } from '@leasehold/testkit';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { acquire } from './helpers/exercise-store.js';
import { ZooKeeperInspector } from './helpers/zookeeper-inspector.js';

/**
 * `watching` on ZooKeeper (docs/design.md §3.8, "Followers wait on the watch"): true for a
 * queued candidate whose predecessor's znode is watched (and whose hand-over wake watch is
 * set), false otherwise. On the shared ZooKeeper (2181), a namespace of its own (zk27…).
 */
const HOSTS = '127.0.0.1:2181';
const TTL_MS = 3_000;

let inspector: ZooKeeperInspector;
beforeAll(async () => {
  inspector = await ZooKeeperInspector.connect(HOSTS);
});
afterAll(() => inspector?.close());

const opened: LeaseStore[] = [];
const controller = new AbortController();
let tree = '';
afterEach(async () => {
  controller.abort();
  await Promise.all(opened.splice(0).map((store) => store.close()));
  await inspector.removeTree(tree);
});

function request(holder: string): AcquireRequest {
  return { election: 'jobs', holder, token: randomUUID(), ttlMs: TTL_MS };
}

it('says a queued candidate is watching while the znode ahead of it is watched, never the leader', async () => {
  const namespace = `zk27${randomUUID().slice(0, 8)}`;
  tree = `/${namespace}`;
  const open = async () => {
    const store = await createStore(`zk://${HOSTS}`, { namespace, ttlMs: TTL_MS });
    opened.push(store);
    return store;
  };
  const [a, b, c] = [await open(), await open(), await open()];
  const watching = (store: LeaseStore, holder: string) => store.watching?.('jobs', holder) === true;
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
  await until('beta and gamma watching', 5_000, () => watching(b, 'beta') && watching(c, 'gamma'));
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
