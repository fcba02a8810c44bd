import { createStore } from '@leasehold/adapters';
import { Elector, SharedHeartbeat } from '@leasehold/core';
import { until } from '@leasehold/testkit';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics, measureStore, type MeasuredStore } from '../src/index.js';

/**
 * A sidecar's store series count its requests, each once, whatever number of elections share
 * them: a batch of renewals is one `renew`, not one per election (issue 27: 57,000 series
 * and per-election counts of requests that were batched, at 1,000 elections).
 */
const ELECTIONS = 20;
let store: MeasuredStore | undefined;
let electors: Elector[] = [];

afterEach(async () => {
  await Promise.all(electors.map((elector) => elector.stop()));
  electors = [];
  await store?.close();
});

function count(text: string, op: string): number {
  const line = new RegExp(
    `^leasehold_store_request_duration_seconds_count\\{[^}]*op="${op}"[^}]*\\} (\\d+)$`,
    'm',
  ).exec(text);
  return Number(line?.[1] ?? 0);
}

describe('store request metrics', () => {
  it('count a batch of renewals once, in series that do not grow with the elections', async () => {
    const measured = measureStore(
      await createStore('redis://127.0.0.1:6379', { namespace: 'leasehold' }),
    );
    store = measured;
    const ttlMs = 3_000;
    const heartbeat = new SharedHeartbeat({ store: measured, periodMs: ttlMs / 3 });
    const run = randomUUID().slice(0, 8);
    electors = Array.from(
      { length: ELECTIONS },
      (_, i) =>
        new Elector({
          store: measured,
          election: `sm-${run}-${i}`,
          id: 'm',
          ttlMs,
          sharedHeartbeat: heartbeat,
        }),
    );
    const metrics = createMetrics(electors, undefined, [], measured.requests);
    for (const elector of electors) elector.start();
    await until('all lead', 10_000, () => electors.every((e) => e.isLeader()));

    // Every lease renewed once more: one heartbeat tick's batch.
    const renewed = new Set<string>();
    for (const elector of electors) elector.on('lease', () => renewed.add(elector.election));
    const before = count(await metrics.render(), 'renew');
    await until('every lease renewed', 10_000, () => renewed.size === ELECTIONS);
    const text = await metrics.render();

    const batches = count(text, 'renew') - before;
    expect(batches).toBeGreaterThanOrEqual(1);
    expect(batches).toBeLessThan(ELECTIONS / 4);
    const storeSeries = text
      .split('\n')
      .filter((line) => /^leasehold_store_request_duration_seconds_count\{/.test(line));
    expect(storeSeries.length).toBeLessThanOrEqual(5); // one per operation
    for (const line of storeSeries) expect(line).toContain(`election="sm-${run}-0"`);
  });

  it("passes on every optional part of the store: a follower waits on etcd's watch through it", async () => {
    // Without `watching` the sidecar's followers polled every election each second on
    // etcd, the watch they could have waited on notwithstanding (bench/RESULTS.md).
    const raw = await createStore('etcd://127.0.0.1:2379', { namespace: 'leasehold' });
    const measured = measureStore(raw);
    store = measured;
    for (const part of ['watch', 'watching', 'members', 'transfer', 'batch'] as const) {
      expect(measured[part] === undefined, part).toBe(raw[part] === undefined);
    }
  });

  it("passes on every part and size limit of the store's batch", async () => {
    // A dropped limit splits a tick's beat at the heartbeat's defaults, not the store's.
    const raw = await createStore('redis://127.0.0.1:6379', { namespace: 'leasehold' });
    const measured = measureStore(raw);
    store = measured;
    const rawBatch = raw.batch;
    if (rawBatch === undefined) throw new Error('the Redis store has no batch');
    for (const key of Object.keys(rawBatch) as (keyof typeof rawBatch)[]) {
      const value = rawBatch[key];
      expect(typeof measured.batch?.[key], key).toBe(typeof value);
      if (typeof value === 'number') expect(measured.batch?.[key], key).toBe(value);
    }
  });

  it("passes on batched reads, counting a follower batch's reads as one `read`", async () => {
    // Without `batch.readMany` the sidecar's followers claim every election each retry
    // interval (~1,900 claims per renew interval at 1,000 elections on Redis).
    const raw = await createStore('redis://127.0.0.1:6379', { namespace: 'leasehold' });
    const measured = measureStore(raw);
    store = measured;
    const metrics = createMetrics([], undefined, [], measured.requests);
    const readMany = measured.batch?.readMany?.bind(measured.batch);
    if (readMany === undefined) throw new Error('batch.readMany was dropped');
    expect(measured.batch?.maxReads).toBe(raw.batch?.maxReads);
    const run = randomUUID().slice(0, 8);
    const elections = Array.from({ length: ELECTIONS }, (_, i) => `smr-${run}-${i}`);
    expect(await readMany(elections)).toEqual(elections.map(() => null));
    expect(count(await metrics.render(), 'read')).toBe(1);
  });
});
