import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from './harness.js';

/**
 * The elector's `freeLockDelay` hook (what a ShardGroup stands back with, docs/shards.md):
 * asked only when the lock is free, it delays the claim by what it answers, counted from
 * when the lock was first seen free; a transfer's reservation for this candidate does not
 * wait for it.
 */

let cluster: Cluster;

afterEach(async () => {
  await cluster.stopAll();
});

describe('freeLockDelay', () => {
  it('is asked only while the lock is free, and delays the claim by its answer', async () => {
    cluster = new Cluster();
    const asked: number[] = [];
    const a = cluster.add('a');
    const b = cluster.add('b', {
      freeLockDelay: (freeForMs) => {
        asked.push(freeForMs);
        return Math.max(0, 2_000 - freeForMs);
      },
    });
    a.elector.start();
    await cluster.leader();
    b.elector.start();
    await cluster.clock.advance(5_000);
    expect(asked).toEqual([]); // Held by a all along: nothing to stand back from.
    const stoppedAt = cluster.clock.now();
    await a.elector.stop();
    await cluster.clock.advanceUntil(() => b.elector.isLeader(), 10_000);
    expect(cluster.clock.now() - stoppedAt).toBeGreaterThanOrEqual(2_000);
    expect(asked[0]).toBe(0);
    expect(asked.at(-1)).toBeGreaterThanOrEqual(2_000);
  });

  it('lets a candidate without the delay take a free lock first', async () => {
    cluster = new Cluster();
    const a = cluster.add('a');
    const patient = cluster.add('patient', { freeLockDelay: () => 60_000 });
    const eager = cluster.add('eager');
    a.elector.start();
    await cluster.leader();
    patient.elector.start();
    eager.elector.start();
    await cluster.clock.advance(2_000);
    await a.elector.stop();
    await cluster.clock.advanceUntil(() => eager.elector.isLeader(), 5_000);
    expect(patient.elected).toEqual([]);
  });

  it('does not hold back a transfer’s successor', async () => {
    cluster = new Cluster();
    const a = cluster.add('a');
    const b = cluster.add('b', { freeLockDelay: () => 60_000 });
    a.elector.start();
    await cluster.leader();
    b.elector.start();
    await cluster.clock.advance(2_000);
    let outcome: unknown = null;
    void a.elector.transfer('b').then((o) => (outcome = o));
    await cluster.clock.advanceUntil(() => outcome !== null, 10_000);
    expect(outcome).toMatchObject({ transferred: true, to: 'b' });
    expect(b.elector.isLeader()).toBe(true);
  });
});
