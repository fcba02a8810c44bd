import { createStore } from '@leasehold/adapters';
import type { AcquireRequest, Lease, LeaseStore } from '@leasehold/core';
import { until } from '@leasehold/testkit';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { acquire } from './helpers/exercise-store.js';
import { ZooKeeperInspector } from './helpers/zookeeper-inspector.js';

/**
 * What the conformance suite cannot see of a ZooKeeper transfer (docs/stores.md): the
 * multi-op's result in the queue, the claim taking the reservation's place, the term floor
 * that makes candidates queued before the claim queue again, the wake-up of a successor far
 * back in the queue, and a lapsed reservation raced for by claim and removal.
 */
const HOSTS = '127.0.0.1:2181';

let inspector: ZooKeeperInspector;
beforeAll(async () => {
  inspector = await ZooKeeperInspector.connect(HOSTS);
});
afterAll(() => inspector?.close());

describe('zookeeper transfers', () => {
  const opened: LeaseStore[] = [];
  const trees: string[] = [];
  let ns = '';

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
    for (const tree of trees.splice(0)) await inspector.removeTree(tree);
  });

  async function open(): Promise<LeaseStore> {
    const store = await createStore(`zk://${HOSTS}`, { namespace: ns, ttlMs: 2_000 });
    opened.push(store);
    return store;
  }

  async function three(): Promise<LeaseStore[]> {
    ns = `lhsz${randomUUID().slice(0, 8)}`;
    trees.push(`/${ns}`);
    return [await open(), await open(), await open()];
  }

  function request(holder: string): AcquireRequest {
    return { election: 'jobs', holder, token: randomUUID(), ttlMs: 2_000 };
  }

  async function queue(): Promise<string[]> {
    const names = (await inspector.children(`/${ns}/elections/jobs`)) ?? [];
    return names.sort((x, y) => Number(x.slice(-10)) - Number(y.slice(-10)));
  }

  /** alpha leads; gamma, then beta queue behind it. */
  async function alphaThenGammaThenBeta(): Promise<[LeaseStore[], Lease]> {
    const stores = await three();
    const [a, b, c] = stores as [LeaseStore, LeaseStore, LeaseStore];
    const first = await acquire(a, request('alpha'));
    expect((await c.tryAcquire(request('gamma'))).acquired).toBe(false);
    expect((await b.tryAcquire(request('beta'))).acquired).toBe(false);
    return [stores, first];
  }

  it('puts the reservation in the holder’s place in one multi-op; the claim takes that place', async () => {
    const [[a, b, c], first] = await alphaThenGammaThenBeta();
    const [alphaName, gammaName, betaName] = await queue();
    const sequence = alphaName?.slice(-10) ?? '';
    expect(await a?.transfer?.handOver(first, 'beta', 60_000)).toBe(true);
    expect(await queue()).toEqual([`reserved-${sequence}`, gammaName, betaName]);
    const reserved = await inspector.data(`/${ns}/elections/jobs/reserved-${sequence}`);
    expect(JSON.parse(reserved?.data ?? '')).toEqual({
      successor: 'beta',
      from: 'alpha',
      reservationMs: 60_000,
    });
    expect(reserved?.stat.ephemeralOwner.readBigUInt64BE()).toBe(0n); // outlives alpha's session
    expect(await c?.tryAcquire(request('gamma'))).toMatchObject({ reservedFor: 'beta' });

    const second = await acquire(b as LeaseStore, request('beta'));
    const [claimed, ...rest] = await queue();
    expect(claimed).toBe(`${betaName?.slice(0, 16)}-${sequence}`);
    expect(rest).toEqual([gammaName]); // beta's queued znode went in the same multi-op
    expect(second.term).toBeGreaterThan(first.term);
    expect(await c?.read('jobs')).toMatchObject({ holder: 'beta', term: second.term });

    // gamma queued before the claim: its czxid is below beta's term. It queues again.
    await b?.release(second);
    expect(await c?.read('jobs')).toBeNull();
    const third = await acquire(c as LeaseStore, request('gamma'));
    expect(third.term).toBeGreaterThan(second.term);
    expect(await queue()).not.toContain(gammaName);
  });

  it('wakes the successor wherever it queues, and it leads within a round trip or two', async () => {
    const [[a, b], first] = await alphaThenGammaThenBeta();
    const controller = new AbortController();
    let wokenAt = 0;
    try {
      await b?.watch?.('jobs', () => (wokenAt ||= performance.now()), controller.signal, 'beta');
      const handedAt = performance.now();
      expect(await a?.transfer?.handOver(first, 'beta', 60_000)).toBe(true);
      await until('the successor woken', 5_000, () => wokenAt > 0);
      const second = await acquire(b as LeaseStore, request('beta'));
      const leadsAfterMs = performance.now() - handedAt;
      console.info(
        `zookeeper transfer: woken ${(wokenAt - handedAt).toFixed(1)} ms, ` +
          `leads ${leadsAfterMs.toFixed(1)} ms after handOver was sent`,
      );
      expect(second.term).toBeGreaterThan(first.term);
    } finally {
      controller.abort();
    }
  });

  it('lets exactly one of a claim and a lapse removal win a lapsed reservation', async () => {
    for (let round = 0; round < 5; round += 1) {
      const [[a, b, c], first] = await alphaThenGammaThenBeta();
      expect(await a?.transfer?.handOver(first, 'beta', 200)).toBe(true);
      await until('the reservation lapsed', 5_000, async () =>
        (await c?.transfer?.reservation('jobs')) === null ? true : null,
      );
      const [beta, gamma] = await Promise.all([
        b?.tryAcquire(request('beta')),
        c?.tryAcquire(request('gamma')),
      ]);
      const leaders = [beta, gamma].filter((answer) => answer?.acquired === true);
      expect(leaders.length).toBe(1);
      await Promise.all(opened.splice(0).map((store) => store.close()));
    }
  });
});
