import { fairShare, planMoves, surplus, type MemberInfo, type ShardView } from '@leasehold/core';
import { ManualClock } from '@leasehold/core/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ShardBalancer, type BalancerHost } from '../src/shard-balancer.js';
import { resolveTiming } from '../src/timing.js';

/**
 * The balancing plan (shard-plan.ts) on random views, and the balancer's hysteresis on
 * member lists (shard-balancer.ts), without elections: what moves, never how.
 */

const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];

/** A view where every shard is led by a live candidate; some candidates are ineligible. */
const fullView: fc.Arbitrary<ShardView> = fc
  .record({
    live: fc.integer({ min: 1, max: ids.length }),
    ineligible: fc.array(fc.boolean(), { minLength: ids.length, maxLength: ids.length }),
    owners: fc.array(fc.nat(ids.length - 1), { minLength: 1, maxLength: 200 }),
  })
  .map(({ live, ineligible, owners }) => {
    const members = ids.slice(0, live);
    const eligible = members.filter((_, i) => ineligible[i] !== true || i === 0);
    const led = new Map<string, number>();
    for (const owner of owners) {
      const id = members[owner % live] as string;
      led.set(id, (led.get(id) ?? 0) + 1);
    }
    return { count: owners.length, eligible, owners: led };
  });

function apply(view: ShardView): Map<string, number> {
  const led = new Map(view.owners);
  for (const { from, to } of planMoves(view)) {
    led.set(from, (led.get(from) ?? 0) - 1);
    led.set(to, (led.get(to) ?? 0) + 1);
  }
  return led;
}

describe('planMoves', () => {
  it('balances every view in at most the surplus, moving nothing already fair', () => {
    fc.assert(
      fc.property(fullView, (view) => {
        const moves = planMoves(view);
        expect(moves.length).toBeLessThanOrEqual(surplus(view));
        const led = apply(view);
        const { floor, ceil } = fairShare(view.count, view.eligible.length);
        for (const id of view.eligible) {
          expect(led.get(id) ?? 0).toBeGreaterThanOrEqual(floor);
          expect(led.get(id) ?? 0).toBeLessThanOrEqual(ceil);
        }
        for (const [id, n] of led) if (!view.eligible.includes(id)) expect(n).toBe(0);
        // A balanced view plans nothing more.
        expect(planMoves({ ...view, owners: led })).toEqual([]);
      }),
      { numRuns: 2_000 },
    );
  });

  it('hands a newcomer its share from the candidates above it, and nothing else', () => {
    const owners = new Map([
      ['a', 13],
      ['b', 13],
      ['c', 13],
      ['d', 13],
      ['e', 12],
    ]);
    const moves = planMoves({ count: 64, eligible: ['a', 'b', 'c', 'd', 'e', 'f'], owners });
    expect(moves.every((move) => move.to === 'f')).toBe(true);
    expect(moves).toHaveLength(10);
  });
});

describe('ShardBalancer hysteresis', () => {
  function balancer(settleObservations: number) {
    const clock = new ManualClock(0);
    const transfers: { shard: number; to: string }[] = [];
    const host: BalancerHost = {
      id: 'a',
      count: 8,
      clock,
      timing: resolveTiming({ ttlMs: 3_000, retryIntervalMs: 500 }),
      // 'a' leads everything: with a second candidate, 4 of its shards should move.
      leaderOf: () => 'a',
      holds: () => true,
      heldCount: () => 8,
      leads: () => true,
      self: () => member('a'),
      transfer: (shard, to) => {
        transfers.push({ shard, to });
        return new Promise<boolean>(() => {}); // Under way for the rest of the test.
      },
    };
    return {
      balancer: new ShardBalancer(host, { settleObservations, maxTransfers: 8 }),
      transfers,
    };
  }

  it('moves nothing for a member seen in one list only', () => {
    const { balancer: b, transfers } = balancer(2);
    b.observe([member('a')]);
    b.observe([member('a'), member('b')]); // b appears...
    b.observe([member('a')]); // ...and is gone again: a blip.
    b.observe([member('a')]);
    expect(transfers).toEqual([]);
  });

  it('moves the surplus once a member was seen in settleObservations lists in a row', () => {
    const { balancer: b, transfers } = balancer(2);
    b.observe([member('a'), member('b')]);
    expect(transfers).toEqual([]);
    b.observe([member('a'), member('b')]);
    expect(transfers.map((t) => t.to)).toEqual(['b', 'b', 'b', 'b']);
    // The highest shards move: a consumer's low shards stay where they are.
    expect(transfers.map((t) => t.shard)).toEqual([7, 6, 5, 4]);
  });

  it('does not count a drained or unhealthy member as a place for shards', () => {
    const { balancer: b, transfers } = balancer(1);
    b.observe([member('a'), member('b', { drained: true }), member('c', { health: 'unhealthy' })]);
    expect(transfers).toEqual([]);
  });
});

function member(id: string, steering: Partial<MemberInfo> = {}): MemberInfo {
  return {
    id,
    priority: 0,
    startedAt: 0,
    lastHeartbeatAt: 0,
    isLeader: false,
    metadata: {},
    drained: false,
    health: 'unknown',
    version: null,
    ...steering,
  };
}
