import { createStore } from '@leasehold/adapters';
import { Elector, SharedHeartbeat, type LeaseStore } from '@leasehold/core';
import { pause, until } from '@leasehold/testkit';
import { Etcd3 } from 'etcd3';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, expect, it } from 'vitest';

/**
 * Many elections on etcd, each candidate's electors sharing one heartbeat (docs/design.md
 * §3.8): renewals and member records go through batch.renewMany and batch.putMembers, and
 * candidates compete in the waiting line those member records feed. The shared etcd only,
 * a namespace of its own.
 */
const ETCD_URL = 'etcd://127.0.0.1:2379';
const inspector = new Etcd3({ hosts: 'http://127.0.0.1:2379' });
afterAll(() => inspector.close());

const ELECTIONS = 20;
const TTL_MS = 3_000;

interface Candidate {
  readonly store: LeaseStore;
  readonly electors: Elector[];
}

const namespace = `tmany${randomUUID().slice(0, 8)}`;
const candidates: Candidate[] = [];

afterEach(async () => {
  for (const { store, electors } of candidates.splice(0)) {
    await Promise.all(electors.map((elector) => elector.stop({ withinMs: 5_000 })));
    await store.close();
  }
  await inspector.delete().prefix(`${namespace}/`);
});

async function candidate(id: string): Promise<Candidate> {
  const store = await createStore(ETCD_URL, { namespace });
  const periodMs = new Elector({ store, election: 'probe', id, ttlMs: TTL_MS }).timing
    .renewIntervalMs;
  const sharedHeartbeat = new SharedHeartbeat({ store, periodMs });
  const electors = Array.from(
    { length: ELECTIONS },
    (_, i) => new Elector({ store, election: `e${i}`, id, ttlMs: TTL_MS, sharedHeartbeat }),
  );
  const made = { store, electors };
  candidates.push(made);
  return made;
}

/** Every 20 ms, the elections in which both candidates said they lead. */
function watchForTwoLeaders(a: Candidate, b: Candidate): { stop(): string[] } {
  const both = new Set<string>();
  const timer = setInterval(() => {
    a.electors.forEach((elector, i) => {
      if (elector.isLeader() && b.electors[i]?.isLeader() === true) both.add(`e${i}`);
    });
  }, 20);
  return {
    stop: () => {
      clearInterval(timer);
      return [...both];
    },
  };
}

it('two candidates, twenty elections, one heartbeat each: one leader each, then a handoff of all', async () => {
  const [a, b] = [await candidate('alpha'), await candidate('beta')];
  const checker = watchForTwoLeaders(a, b);
  for (const elector of [...a.electors, ...b.electors]) elector.start();
  const leaders = () =>
    a.electors.filter((elector, i) => elector.isLeader() || b.electors[i]?.isLeader()).length;
  await until('every election led', 4 * TTL_MS + 10_000, () => leaders() === ELECTIONS);
  // Both candidates' member records, written by batch.putMembers, are in every election.
  await until('every member record', 2 * TTL_MS + 10_000, async () => {
    const keys = await inspector.getAll().prefix(`${namespace}/`).keys();
    return keys.filter((key) => key.includes('/members/')).length === 2 * ELECTIONS;
  });
  // Two leases of leading: the batched renewals keep every leader (the duration observed
  // is the point here, not a wait for something).
  const ledByA = a.electors.map((elector) => elector.isLeader());
  await pause(2 * TTL_MS);
  expect(a.electors.map((elector) => elector.isLeader())).toEqual(ledByA);
  expect(leaders()).toBe(ELECTIONS);
  // Alpha goes; beta takes every election alpha led, within about a lease.
  await Promise.all(a.electors.map((elector) => elector.stop({ withinMs: 5_000 })));
  await until('beta leads all', 2 * TTL_MS + 10_000, () =>
    b.electors.every((elector) => elector.isLeader()),
  );
  expect(checker.stop()).toEqual([]);
}, 60_000);

it('followers wait on their watch, not polling, and take over a leader that died without releasing', async () => {
  // At 1,000 elections each follower sent ~2,000 claims per renew interval (one per election
  // every retry interval) although the waiting line's watch wakes it (docs/design.md §3.8).
  const a = await candidate('alpha');
  for (const elector of a.electors) elector.start();
  await until('alpha leads all', 4 * TTL_MS + 10_000, () =>
    a.electors.every((elector) => elector.isLeader()),
  );
  const b = await candidate('beta');
  let claims = 0;
  const tryAcquire = b.store.tryAcquire.bind(b.store);
  b.store.tryAcquire = (request) => {
    claims += 1;
    return tryAcquire(request);
  };
  const checker = watchForTwoLeaders(a, b);
  for (const elector of b.electors) elector.start();
  await until('beta follows alpha everywhere', 2 * TTL_MS + 10_000, () =>
    b.electors.every((elector) => elector.status().leader?.id === 'alpha'),
  );
  const settled = claims;
  // Two leases of following (the duration observed is the point): polling every retry
  // interval (1 s) would be 2 × 3 s × 20 = 120 claims; waiting on the watch, a claim a TTL.
  await pause(2 * TTL_MS);
  expect(claims - settled).toBeLessThanOrEqual(2.5 * ELECTIONS);
  // Alpha dies without a release: its leases expire in etcd, whose deletes wake beta.
  // Its connection closed first: no release or keep-alive gets out, as after a SIGKILL.
  const killedAt = performance.now();
  await a.store.close();
  await until('beta leads all', 2 * TTL_MS + 10_000, () =>
    b.electors.every((elector) => elector.isLeader()),
  );
  expect(performance.now() - killedAt).toBeLessThan(TTL_MS + 2_000);
  expect(checker.stop()).toEqual([]);
}, 60_000);

it('a follower behind the first in line names the new leader within a TTL of its election', async () => {
  // Its watch is of the candidate ahead in line, not of the leader: a takeover wakes only the
  // first in line. Waiting on the watch, the others still claim once a TTL, and learn of it.
  const [a, b, c] = [await candidate('alpha'), await candidate('beta'), await candidate('gamma')];
  const [ea, eb, ec] = [a, b, c].map((one) => one.electors[0] as Elector) as [
    Elector,
    Elector,
    Elector,
  ];
  ea.start();
  await until('alpha leads', 4 * TTL_MS + 10_000, () => ea.isLeader());
  eb.start();
  await until('beta follows', 2 * TTL_MS + 10_000, () => eb.status().leader?.id === 'alpha');
  ec.start();
  await until('gamma follows', 2 * TTL_MS + 10_000, () => ec.status().leader?.id === 'alpha');
  await a.store.close(); // alpha dies without a release, as after a SIGKILL
  const next = await until('a new leader', 2 * TTL_MS + 10_000, () =>
    eb.isLeader() ? eb : ec.isLeader() ? ec : undefined,
  );
  const electedAt = performance.now();
  const other = next === eb ? ec : eb;
  await until(`the other follower names ${next.id}`, 3 * TTL_MS, () =>
    other.status().leader?.id === next.id ? true : undefined,
  );
  expect(performance.now() - electedAt).toBeLessThan(TTL_MS + 2_000);
}, 60_000);
