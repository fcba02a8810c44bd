import { TransferError, type TransferOutcome } from '@leasehold/core';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, variantOf, type Candidate } from './harness.js';

/**
 * Operator controls (docs/design.md §3.6) in simulated time: transfer, drain, standby,
 * health gating, version order. Every case checks after every timer that at most one
 * candidate leads.
 */

let cluster: Cluster;
let overlaps: string[] = [];

afterEach(async () => {
  await cluster.stopAll();
  expect(overlaps).toEqual([]);
});

function checkOneLeader(): void {
  const leaders = cluster.leaders();
  if (leaders.length > 1) {
    overlaps.push(`at ${cluster.clock.now()}: ${leaders.map((c) => c.id).join(' and ')} lead`);
  }
}

function start(
  ids: string[],
  options: Parameters<Cluster['add']>[1] = {},
  watch = true,
): Candidate[] {
  cluster = new Cluster();
  overlaps = [];
  const candidates = ids.map((id) => cluster.add(id, options));
  // Without watch wake-ups every candidate acts on its own timers only.
  if (!watch) for (const x of candidates) (x.store as { watch?: unknown }).watch = undefined;
  cluster.start();
  return candidates;
}

/** Advance manual time until `promise` settles, checking for two leaders after each timer. */
async function settled<T>(promise: Promise<T>, withinMs = 30_000): Promise<T> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  await advanceUntil(() => done, withinMs);
  return promise;
}

/** ManualClock.advanceUntil, checking for two leaders after every timer, not every step. */
async function advanceUntil(predicate: () => boolean, withinMs: number): Promise<void> {
  const { clock } = cluster;
  const deadline = clock.now() + withinMs;
  await clock.advance(0, checkOneLeader);
  while (!predicate()) {
    const dueAt = clock.nextDueAt();
    if (dueAt === null || dueAt > deadline) throw new Error(`not within ${withinMs} ms`);
    await clock.advance(Math.max(0, dueAt - clock.now()), checkOneLeader);
  }
}

async function advance(ms: number): Promise<void> {
  await cluster.clock.advance(ms, checkOneLeader);
}

/** The error a refused call threw. */
async function refusal(promise: Promise<unknown>): Promise<TransferError> {
  const error = await settled(promise).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TransferError);
  return error as TransferError;
}

/** Elected and every member's record heartbeated at least once. */
async function leaderWithMembers(): Promise<Candidate> {
  const leader = await cluster.leader();
  // Not a multiple of the renew interval: the transfer starts between two renewals.
  await advance(1_700);
  return leader;
}

describe('transfer', () => {
  it.each([
    ['with', true],
    ['without', false],
  ])('hands leadership to the named candidate, %s watch', async (_, watch) => {
    const [a, b, c] = start(['a', 'b', 'c'], {}, watch);
    const leader = await leaderWithMembers();
    const target = leader === b ? c : b;
    const before = leader.elector.status().leader?.term ?? 0;
    const outcome = await settled(leader.elector.transfer(target.id));
    expect(outcome).toEqual({
      transferred: true,
      from: leader.id,
      to: target.id,
      term: expect.any(Number) as number,
    });
    expect(target.elector.isLeader()).toBe(true);
    expect(target.elector.currentTerm()).toBeGreaterThan(before);
    expect(leader.deposed.at(-1)?.reason).toBe('transferred');
    // Only the target was elected after the transfer began.
    const electedAfter = [a, b, c].flatMap((x) =>
      x.elected.filter((e) => e.term > before).map(() => x.id),
    );
    expect(electedAfter).toEqual([target.id]);
    expect(leader.elector.status().steering.transferringTo).toBeNull();
  });

  it('is refused when not leading, or the target is unknown, drained or unhealthy', async () => {
    const [a, b, c, d] = start(['a', 'b', 'c', 'd'], {
      steering: { health: { failureThreshold: 1 } },
    });
    for (const x of [a, b, c, d]) x?.elector.setAppHealth(true);
    const leader = await leaderWithMembers();
    const others = [a, b, c, d].filter((x): x is Candidate => x !== undefined && x !== leader);
    const [follower, drained, sick] = others as [Candidate, Candidate, Candidate];
    await settled(drained.elector.drain());
    sick.elector.setAppHealth(false);
    await advance(1_500);
    const code = async (p: Promise<unknown>) => (await refusal(p)).code;
    expect(await code(follower.elector.transfer(sick.id))).toBe('LEASEHOLD_E_TRANSFER_NOT_LEADER');
    expect(await code(leader.elector.transfer('nobody'))).toBe(
      'LEASEHOLD_E_TRANSFER_TARGET_UNKNOWN',
    );
    expect(await code(leader.elector.transfer(drained.id))).toBe(
      'LEASEHOLD_E_TRANSFER_TARGET_DRAINING',
    );
    expect(await code(leader.elector.transfer(sick.id))).toBe(
      'LEASEHOLD_E_TRANSFER_TARGET_UNHEALTHY',
    );
    expect(leader.elector.isLeader()).toBe(true);
    expect(leader.deposed).toEqual([]);
  });

  it('is refused on a store that cannot transfer', async () => {
    cluster = new Cluster();
    overlaps = [];
    const memory = cluster.backend.connect();
    const only = cluster.add('solo', { store: variantOf(memory) });
    only.elector.start();
    await cluster.leader();
    expect((await refusal(only.elector.transfer('other'))).code).toBe(
      'LEASEHOLD_E_TRANSFER_UNSUPPORTED',
    );
    expect(only.elector.isLeader()).toBe(true);
  });

  it('takes leadership back when the target does not claim in time', async () => {
    start(['a', 'b', 'c']);
    const leader = await leaderWithMembers();
    const target = cluster.candidates.find((x) => x !== leader) as Candidate;
    const before = leader.elector.currentTerm() ?? 0;
    // The target is cut off from the store after the leader validated it.
    target.store.faults.freeze();
    const outcome = await settled(leader.elector.transfer(target.id));
    expect(outcome).toMatchObject({
      transferred: false,
      code: 'LEASEHOLD_E_TRANSFER_TIMED_OUT',
      retaken: true,
      leader: { id: leader.id },
    } satisfies Partial<TransferOutcome>);
    expect(leader.elector.isLeader()).toBe(true);
    expect(leader.elector.currentTerm()).toBeGreaterThan(before);
    target.store.faults.thaw();
    await advance(10_000);
    expect(cluster.leaders()).toEqual([leader]);
  });

  it('keeps every other candidate out during the reservation', async () => {
    start(['a', 'b', 'c', 'd']);
    const leader = await leaderWithMembers();
    const target = cluster.candidates.find((x) => x !== leader) as Candidate;
    target.freeze();
    const handing = leader.elector.transfer(target.id);
    const electedBefore = cluster.candidates.map((x) => x.elected.length);
    const outcome = await settled(handing);
    expect(outcome.transferred).toBe(false);
    // Nobody but the old leader (taking it back) was elected meanwhile.
    cluster.candidates.forEach((x, i) => {
      const added = x.elected.length - (electedBefore[i] ?? 0);
      expect(added, x.id).toBe(x === leader ? 1 : 0);
    });
    target.resume();
  });
});

describe('drain and standby', () => {
  it('a drained leader hands over to the first in line; a drained follower never leads', async () => {
    start(['a', 'b', 'c']);
    const leader = await leaderWithMembers();
    const outcome = await settled(leader.elector.drain());
    expect(outcome).toMatchObject({ drained: true, wasLeader: true, code: null });
    expect(outcome.transfer?.transferred).toBe(true);
    expect(leader.elector.status().steering.drained).toBe(true);
    const next = cluster.leaders()[0] as Candidate;
    expect(next).not.toBe(leader);
    // The new leader stops: the drained one does not take over, the third does.
    await settled(next.elector.stop());
    await advance(10_000);
    expect(cluster.leaders().map((x) => x.id)).not.toContain(leader.id);
    expect(cluster.leaders()).toHaveLength(1);
    const members = await settled(leader.elector.members());
    expect(members.find((m) => m.id === leader.id)).toMatchObject({ drained: true });
  });

  it('a standby never leads until undrained, even alone', async () => {
    const [a, b] = start(['a', 'b'], { steering: { standby: true } }) as [Candidate, Candidate];
    await advance(20_000);
    expect(cluster.leaders()).toEqual([]);
    expect(a.elector.status().observed).toBe(true);
    b.elector.undrain();
    await cluster.leader();
    expect(cluster.leaders()).toEqual([b]);
  });

  it('draining the only candidate keeps it leading and says so; force resigns', async () => {
    const [solo] = start(['solo']) as [Candidate];
    await leaderWithMembers();
    const kept = await settled(solo.elector.drain());
    expect(kept).toMatchObject({
      wasLeader: true,
      transfer: null,
      resigned: false,
      code: 'LEASEHOLD_E_TRANSFER_NO_CANDIDATE',
    });
    expect(solo.elector.isLeader()).toBe(true);
    const forced = await settled(solo.elector.drain({ force: true }));
    expect(forced).toMatchObject({ resigned: true, code: null });
    await advance(10_000);
    expect(cluster.leaders()).toEqual([]);
  });

  it('a drained leader hands over once an eligible candidate appears', async () => {
    const [solo] = start(['solo']) as [Candidate];
    await leaderWithMembers();
    await settled(solo.elector.drain());
    cluster.add('late').elector.start();
    await advanceUntil(() => cluster.leaders()[0]?.id === 'late', 30_000);
  });
});

describe('health gating', () => {
  const gated = { steering: { health: { failureThreshold: 2, successThreshold: 2 } } };

  it('does not campaign until the app has been healthy (success threshold)', async () => {
    const [a] = start(['a'], gated) as [Candidate];
    await advance(10_000);
    expect(cluster.leaders()).toEqual([]);
    a.elector.setAppHealth(true);
    await advance(5_000);
    expect(cluster.leaders()).toEqual([]);
    a.elector.setAppHealth(true);
    await cluster.leader();
    expect(a.elector.status().steering.health).toBe('healthy');
  });

  it('an unhealthy leader hands over to a healthy one after its minimum tenure', async () => {
    start(['a', 'b', 'c'], {
      steering: { health: { failureThreshold: 2, successThreshold: 1, minTenureMs: 8_000 } },
    });
    for (const x of cluster.candidates) x.elector.setAppHealth(true);
    const leader = await leaderWithMembers();
    const [sick, healthy] = cluster.candidates.filter((x) => x !== leader) as [
      Candidate,
      Candidate,
    ];
    sick.elector.setAppHealth(false);
    sick.elector.setAppHealth(false);
    const electedAt = cluster.clock.now();
    // One failure is below the threshold: nothing happens.
    leader.elector.setAppHealth(false);
    await advance(10_000);
    expect(cluster.leaders()).toEqual([leader]);
    leader.elector.setAppHealth(false);
    await advanceUntil(() => cluster.leaders()[0] === healthy, 20_000);
    expect(cluster.clock.now() - electedAt).toBeGreaterThanOrEqual(8_000);
    expect(leader.deposed.at(-1)?.reason).toBe('transferred');
  });

  it('keeps the leader when every app is unhealthy, and does not flap', async () => {
    start(['a', 'b', 'c'], gated);
    for (const x of cluster.candidates) {
      x.elector.setAppHealth(true);
      x.elector.setAppHealth(true);
    }
    const leader = await leaderWithMembers();
    for (const x of cluster.candidates) {
      x.elector.setAppHealth(false);
      x.elector.setAppHealth(false);
    }
    const term = leader.elector.currentTerm();
    await advance(60_000);
    expect(cluster.leaders()).toEqual([leader]);
    expect(leader.elector.currentTerm()).toBe(term);
    expect(leader.deposed).toEqual([]);
  });
});

describe('deploy-aware order', () => {
  /** Replace 5 replicas one by one (new one up, then old one stopped); count handoffs. */
  async function rollingUpdate(withVersions: boolean): Promise<number> {
    cluster = new Cluster();
    overlaps = [];
    const version = (v: string) => (withVersions ? { steering: { version: v } } : {});
    const live = Array.from({ length: 5 }, (_, i) => cluster.add(`old-${i}`, version('1.4.2')));
    cluster.start();
    await leaderWithMembers();
    let handoffs = 0;
    let leaderId = cluster.leaders()[0]?.id;
    const count = () => {
      checkOneLeader();
      const now = cluster.leaders()[0]?.id;
      if (now !== undefined && now !== leaderId) {
        handoffs += 1;
        leaderId = now;
      }
    };
    // The oldest first: today's order makes each the leader just before it is replaced.
    for (const [i, old] of live.entries()) {
      const next = cluster.add(`new-${i}`, version('1.10.0'));
      next.elector.start();
      await cluster.clock.advance(2_000, count);
      await settled(old.elector.stop());
      await cluster.clock.advance(8_000, count);
      expect(cluster.leaders()).toHaveLength(1);
    }
    return handoffs;
  }

  it('moves leadership once in a rolling update of 5, to a new version', async () => {
    expect(await rollingUpdate(true)).toBe(1);
    expect(cluster.leaders()[0]?.id).toMatch(/^new-/);
  });

  it('without versions the same update moves leadership up to 5 times (the baseline)', async () => {
    const handoffs = await rollingUpdate(false);
    expect(handoffs).toBeGreaterThan(1);
  });
});
