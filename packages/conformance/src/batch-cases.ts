import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type { BatchStore, Lease, LeaseRecord, LeaseStore, MemberRecord } from '@leasehold/core';
import { delay, uniqueElection } from './support.js';
import type { TransferCaseTools as CaseTools } from './transfer-cases.js';

/**
 * Conformance cases for batched renewals (`LeaseStore.batch`, docs/design.md §3.8): many
 * elections' leases renewed in one call, each judged on its own.
 */

/** The suite's helpers (as the transfer cases get them), and its expiry grace. */
export interface BatchCaseTools extends CaseTools {
  readonly expiryGraceMs: number;
}

function batchOf(store: LeaseStore): BatchStore {
  expect(typeof store.batch?.renewMany).toBe('function');
  return store.batch as BatchStore;
}

/**
 * `count` fresh elections, each acquired by `holder` on `store`, side by side: one after
 * another, on a loaded machine the first lease's TTL (1 s in ZooKeeper's suite) ran out
 * before the batch first renewed it (Node 22 at load 30: `renewed: false`).
 */
function acquireMany(
  tools: BatchCaseTools,
  store: LeaseStore,
  holder: string,
  count: number,
): Promise<Lease[]> {
  return Promise.all(
    Array.from({ length: count }, () =>
      tools.acquireOrFail(store, tools.request(uniqueElection(), holder)),
    ),
  );
}

export function defineBatchCases(tools: BatchCaseTools): void {
  const { connect, conformanceCase, request, acquireWithin, expiryGraceMs } = tools;

  conformanceCase(
    'renews the leases of several elections in one call, terms unchanged',
    async () => {
      const [a, b] = [await connect(), await connect()];
      const leases = await acquireMany(tools, a, 'alpha', 5);
      expect(await batchOf(a).renewMany([])).toEqual([]);
      const until = performance.now() + 2 * (leases[0]?.ttlMs ?? 1_000);
      while (performance.now() < until) {
        const results = await batchOf(a).renewMany(leases);
        expect(results).toHaveLength(leases.length);
        for (const result of results) expect(result).toMatchObject({ renewed: true });
        await delay((leases[0]?.ttlMs ?? 1_000) / 5);
      }
      for (const lease of leases) {
        expect(await b.read(lease.election)).toMatchObject({ holder: 'alpha', term: lease.term });
        expect((await b.tryAcquire(request(lease.election, 'beta'))).acquired).toBe(false);
      }
    },
  );

  conformanceCase(
    'reports a lost lease alone, in its place, and refuses a foreign token',
    async () => {
      const [a, b] = [await connect(), await connect()];
      const [released, taken, other] = await acquireMany(tools, a, 'alpha', 3);
      if (!released || !taken || !other) throw new Error('acquireMany gave too few');
      await a.release(released);
      const first = taken;
      const second = await acquireWithin(
        b,
        request(first.election, 'beta'),
        first.ttlMs + expiryGraceMs + 1_000,
      );
      // Released, expired and taken by another, and one renewed with a token not its own.
      const foreign = { ...other, holder: 'gamma', token: randomUUID() };
      const results = await batchOf(a).renewMany([released, first, foreign]);
      expect(results).toEqual([{ renewed: false }, { renewed: false }, { renewed: false }]);
      expect(await b.read(first.election)).toMatchObject({ holder: 'beta', term: second.term });
      expect(await batchOf(b).renewMany([second])).toMatchObject([{ renewed: true }]);
    },
  );

  conformanceCase('renews the live leases of a batch that also holds lost ones', async () => {
    const store = await connect();
    const [live, gone, alsoLive] = await acquireMany(tools, store, 'alpha', 3);
    if (!live || !gone || !alsoLive) throw new Error('acquireMany gave too few');
    await store.release(gone);
    const results = await batchOf(store).renewMany([live, gone, alsoLive]);
    expect(results.map((result) => result.renewed)).toEqual([true, false, true]);
    expect(await store.read(live.election)).toMatchObject({ holder: 'alpha', term: live.term });
    expect(await store.read(gone.election)).toBeNull();
  });
}

function record(id: string, priority: number): MemberRecord {
  return { id, priority, startedAt: 1, heartbeatAt: Date.now(), isLeader: false, metadata: {} };
}

export function defineMemberBatchCases(tools: BatchCaseTools): void {
  const { connect, conformanceCase, request, expiryGraceMs } = tools;

  conformanceCase('writes member records of several elections in one call', async () => {
    const [a, b] = [await connect(), await connect()];
    const putMembers = batchOf(a).putMembers?.bind(batchOf(a));
    if (putMembers === undefined) throw new Error('batch.putMembers is missing');
    const [one, two] = [uniqueElection(), uniqueElection()];
    await b.members?.put(one, record('beta', 5), 60_000);
    const lists = await putMembers([
      { election: one, member: record('alpha', 1), ttlMs: 60_000 },
      { election: two, member: record('alpha', 2), ttlMs: 60_000 },
    ]);
    const ids = (records: readonly MemberRecord[] | undefined) =>
      (records ?? []).map((r) => `${r.id}:${r.priority}`).sort();
    expect(lists.map(ids)).toEqual([['alpha:1', 'beta:5'], ['alpha:2']]);
    expect(ids(await b.members?.list(one))).toEqual(['alpha:1', 'beta:5']);
    expect(ids(await b.members?.list(two))).toEqual(['alpha:2']);
    // Each record lives for its own TTL, as members.put's would: the suite's TTL, the
    // shortest every store grants (etcd: whole seconds, at least 2), not the 60 s above.
    const shortMs = request(two, 'alpha').ttlMs;
    await putMembers([{ election: two, member: record('alpha', 3), ttlMs: shortMs }]);
    const deadline = performance.now() + shortMs + expiryGraceMs + 1_000;
    let left = ['alpha:3'];
    while (left.length > 0 && performance.now() < deadline) {
      await delay(100);
      left = ids(await b.members?.list(two));
    }
    expect(left).toEqual([]);
  });
}

/** The store's `batch.readMany`, which the cases below require. */
function readManyOf(
  store: LeaseStore,
): (elections: readonly string[]) => Promise<(LeaseRecord | null)[]> {
  const readMany = store.batch?.readMany;
  if (readMany === undefined) throw new Error('batch.readMany is missing');
  return (elections) => readMany.call(store.batch, elections);
}

/**
 * Batched reads (`batch.readMany`, docs/design.md §3.8): the followers of a sidecar read
 * every election they follow in one call; each answer must be what `read` answers.
 */
export function defineReadBatchCases(tools: BatchCaseTools): void {
  const { connect, conformanceCase, request, acquireWithin, expiryGraceMs } = tools;

  conformanceCase('reads several elections in one call, each as read answers it', async () => {
    const [a, b] = [await connect(), await connect()];
    const [first, second] = await acquireMany(tools, a, 'alpha', 2);
    if (!first || !second) throw new Error('acquireMany gave too few');
    const free = uniqueElection();
    const readMany = readManyOf(b);
    expect(await readMany([])).toEqual([]);
    const records = await readMany([first.election, free, second.election]);
    expect(records).toHaveLength(3);
    expect(records[1]).toBeNull();
    for (const [record, lease] of [
      [records[0], first],
      [records[2], second],
    ] as const) {
      expect(record).toMatchObject({ election: lease.election, holder: 'alpha', term: lease.term });
      const single = await b.read(lease.election);
      expect(record?.metadata).toEqual(single?.metadata);
      // remainingMs as read reports it: within the TTL, or unknown where read cannot say.
      if (single?.remainingMs === null) expect(record?.remainingMs).toBeNull();
      else {
        expect(record?.remainingMs).toBeGreaterThan(0);
        expect(record?.remainingMs).toBeLessThanOrEqual(lease.ttlMs + expiryGraceMs);
      }
    }
  });

  conformanceCase(
    'reads a released lease as free, and a new holder with its new term',
    async () => {
      const [a, b] = [await connect(), await connect()];
      const [released, taken] = await acquireMany(tools, a, 'alpha', 2);
      if (!released || !taken) throw new Error('acquireMany gave too few');
      await a.release(released);
      await a.release(taken);
      const successor = await acquireWithin(
        b,
        request(taken.election, 'beta'),
        taken.ttlMs + expiryGraceMs + 1_000,
      );
      const records = await readManyOf(a)([released.election, taken.election]);
      expect(records[0]).toBeNull();
      expect(records[1]).toMatchObject({ holder: 'beta', term: successor.term });
      expect(successor.term).toBeGreaterThan(taken.term);
    },
  );

  conformanceCase('reads an expired lease as free', async () => {
    const [a, b] = [await connect(), await connect()];
    const [lease] = await acquireMany(tools, a, 'alpha', 1);
    if (!lease) throw new Error('acquireMany gave too few');
    const readMany = readManyOf(b);
    const deadline = performance.now() + lease.ttlMs + expiryGraceMs + 1_000;
    let record = (await readMany([lease.election]))[0];
    while (record !== null && performance.now() < deadline) {
      await delay(100);
      record = (await readMany([lease.election]))[0];
    }
    expect(record).toBeNull();
  });
}

/** The store's `batch.beat`, which the cases below require. */
function beatOf(store: LeaseStore): NonNullable<BatchStore['beat']> {
  const beat = store.batch?.beat;
  if (beat === undefined) throw new Error('batch.beat is missing');
  return (request) => beat.call(store.batch, request);
}

/**
 * One tick in one call (`batch.beat`, docs/design.md §3.8): a sidecar's renewals, member
 * records and reads go together; each part must answer what `renewMany`, `putMembers`
 * and `readMany` answer, and a lost lease must not fail the rest.
 */
export function defineBeatCases(tools: BatchCaseTools): void {
  const { connect, conformanceCase } = tools;

  conformanceCase('answers an empty tick with empty parts', async () => {
    const a = await connect();
    expect(await beatOf(a)({ renewals: [], puts: [], reads: [] })).toEqual({
      renewals: [],
      members: [],
      reads: [],
    });
  });

  conformanceCase(
    'renews, writes member records and reads in one call, each judged alone',
    async () => {
      const [a, b] = [await connect(), await connect()];
      const [live, released, other] = await acquireMany(tools, a, 'alpha', 3);
      if (!live || !released || !other) throw new Error('acquireMany gave too few');
      await a.release(released);
      const free = uniqueElection();
      await b.members?.put(live.election, record('beta', 5), 60_000);
      const answer = await beatOf(a)({
        renewals: [live, released, other],
        puts: [
          { election: live.election, member: record('alpha', 1), ttlMs: 60_000 },
          { election: free, member: record('alpha', 2), ttlMs: 60_000 },
        ],
        reads: [free, other.election, released.election],
      });
      expect(answer.renewals).toMatchObject([
        { renewed: true },
        { renewed: false },
        { renewed: true },
      ]);
      const ids = (records: readonly MemberRecord[] | undefined) =>
        (records ?? []).map((r) => `${r.id}:${r.priority}`).sort();
      expect(answer.members.map(ids)).toEqual([['alpha:1', 'beta:5'], ['alpha:2']]);
      expect(ids(await b.members?.list(free))).toEqual(['alpha:2']);
      expect(answer.reads).toHaveLength(3);
      expect(answer.reads[0]).toBeNull();
      expect(answer.reads[1]).toMatchObject({
        election: other.election,
        holder: 'alpha',
        term: other.term,
      });
      expect(answer.reads[2]).toBeNull();
      // The renewals held: terms unchanged, nobody else may claim.
      for (const lease of [live, other]) {
        expect(await b.read(lease.election)).toMatchObject({ holder: 'alpha', term: lease.term });
        expect((await b.tryAcquire(tools.request(lease.election, 'beta'))).acquired).toBe(false);
      }
    },
  );

  conformanceCase(
    "reads another holder's elections in a follower's tick, as read answers",
    async () => {
      const [a, b] = [await connect(), await connect()];
      const [first, second] = await acquireMany(tools, a, 'alpha', 2);
      if (!first || !second) throw new Error('acquireMany gave too few');
      const answer = await beatOf(b)({
        renewals: [],
        puts: [{ election: first.election, member: record('beta', 1), ttlMs: 60_000 }],
        reads: [first.election, second.election],
      });
      expect(answer.renewals).toEqual([]);
      expect(answer.members[0]?.map((r) => r.id)).toEqual(['beta']);
      for (const [i, lease] of [first, second].entries()) {
        expect(answer.reads[i]).toMatchObject({
          election: lease.election,
          holder: 'alpha',
          term: lease.term,
        });
        const single = await b.read(lease.election);
        expect(answer.reads[i]?.metadata).toEqual(single?.metadata);
        if (single?.remainingMs === null) expect(answer.reads[i]?.remainingMs).toBeNull();
        else expect(answer.reads[i]?.remainingMs).toBeGreaterThan(0);
      }
    },
  );
}

/** The store's `batch.claimMany`, which the cases below require. */
function claimManyOf(store: LeaseStore): NonNullable<BatchStore['claimMany']> {
  const claimMany = store.batch?.claimMany;
  if (claimMany === undefined) throw new Error('batch.claimMany is missing');
  return (requests) => claimMany.call(store.batch, requests);
}

/**
 * Claims in batches (`batch.claimMany`, docs/design.md §3.8): a follower claims the
 * elections whose leases ran out together in one call; each claim must be judged and
 * answered exactly as `tryAcquire` judges and answers it.
 */
export function defineClaimBatchCases(tools: BatchCaseTools): void {
  const { connect, conformanceCase, request, acquireOrFail, expiryGraceMs } = tools;

  conformanceCase('claims several elections in one call, each judged as tryAcquire', async () => {
    const [a, b] = [await connect(), await connect()];
    const fresh = uniqueElection();
    const [held, released, handed] = await acquireMany(tools, b, 'beta', 3);
    if (!held || !released || !handed) throw new Error('acquireMany gave too few');
    await b.release(released);
    const reserved =
      b.transfer !== undefined && (await b.transfer.handOver(handed, 'gamma', 60_000));
    const claimMany = claimManyOf(a);
    expect(await claimMany([])).toEqual([]);
    const answers = await claimMany([
      request(fresh, 'alpha'),
      request(held.election, 'alpha'),
      request(released.election, 'alpha'),
      ...(reserved ? [request(handed.election, 'alpha')] : []),
    ]);
    const [first, refused, after, kept] = answers;
    expect(first).toMatchObject({ acquired: true, lease: { election: fresh, holder: 'alpha' } });
    expect(refused).toMatchObject({
      acquired: false,
      current: { holder: 'beta', term: held.term },
    });
    if (refused?.acquired === false) expect(refused.retryAfterMs).toBeGreaterThan(0);
    // A clean release: a higher term, no wait.
    expect(after).toMatchObject({ acquired: true, lease: { notBeforeMs: 0 } });
    if (after?.acquired === true) expect(after.lease.term).toBeGreaterThan(released.term);
    if (reserved)
      expect(kept).toMatchObject({ acquired: false, current: null, reservedFor: 'gamma' });
    // What it took is held as a single claim's lease: renewable, nobody else may claim it.
    for (const answer of [first, after]) {
      if (answer?.acquired !== true) throw new Error('expected a lease');
      expect(await a.renew(answer.lease)).toMatchObject({ renewed: true });
      expect((await b.tryAcquire(request(answer.lease.election, 'beta'))).acquired).toBe(false);
      expect(await b.read(answer.lease.election)).toMatchObject({
        holder: 'alpha',
        term: answer.lease.term,
      });
    }
    // The refused claim holds nothing: once beta releases, a single claim takes it.
    await b.release(held);
    const taken = await acquireOrFail(a, request(held.election, 'alpha'));
    expect(taken.term).toBeGreaterThan(held.term);
  });

  conformanceCase('claims an expired lease in a batch with the next term', async () => {
    const [a, b] = [await connect(), await connect()];
    const [gone] = await acquireMany(tools, b, 'beta', 1);
    if (!gone) throw new Error('acquireMany gave too few');
    const claimMany = claimManyOf(a);
    const deadline = performance.now() + gone.ttlMs + expiryGraceMs + 2_000;
    let answer = (await claimMany([request(gone.election, 'alpha')]))[0];
    while (answer?.acquired !== true && performance.now() < deadline) {
      await delay(100);
      answer = (await claimMany([request(gone.election, 'alpha')]))[0];
    }
    expect(answer).toMatchObject({ acquired: true, lease: { holder: 'alpha' } });
    if (answer?.acquired === true) expect(answer.lease.term).toBeGreaterThan(gone.term);
    expect(await b.renew(gone)).toEqual({ renewed: false });
  });
}

/** Poll `read` until the election's lease has run out; fail after `withinMs`. */
async function expiredWithin(store: LeaseStore, election: string, withinMs: number) {
  const deadline = performance.now() + withinMs;
  while ((await store.read(election)) !== null) {
    if (performance.now() > deadline) throw new Error(`${election} did not expire`);
    await delay(50);
  }
}

/**
 * More claim batch cases: a batch mixing the three states a follower meets after its
 * leader died (expired, still held by a live candidate, never used), and batches racing
 * single claims for the same elections (each granted to exactly one claimant).
 */
export function defineClaimBatchMixCases(tools: BatchCaseTools): void {
  const { connect, conformanceCase, request, acquireOrFail, expiryGraceMs } = tools;

  conformanceCase('claims an expired, a held and a free election in one call', async () => {
    const [a, b] = [await connect(), await connect()];
    const [gone] = await acquireMany(tools, b, 'beta', 1);
    if (!gone) throw new Error('acquireMany gave too few');
    await expiredWithin(b, gone.election, gone.ttlMs + expiryGraceMs + 2_000);
    // Held for long enough that no pause of a loaded machine lets it run out meanwhile.
    const held = await acquireOrFail(
      b,
      request(uniqueElection(), 'beta', { ttlMs: 30_000, metadata: { zone: 'b' } }),
    );
    const free = uniqueElection();
    const [expired, refused, fresh] = await claimManyOf(a)([
      request(gone.election, 'alpha', { metadata: { zone: 'a' } }),
      request(held.election, 'alpha'),
      request(free, 'alpha', { metadata: { zone: 'a' } }),
    ]);
    expect(expired).toMatchObject({ acquired: true, lease: { holder: 'alpha' } });
    if (expired?.acquired === true) expect(expired.lease.term).toBeGreaterThan(gone.term);
    expect(await b.renew(gone)).toEqual({ renewed: false });
    // The refusal is tryAcquire's: the live holder, its term and metadata, its time left.
    const alone = await a.tryAcquire(request(held.election, 'alpha'));
    for (const answer of [refused, alone]) {
      expect(answer).toMatchObject({
        acquired: false,
        current: { holder: 'beta', term: held.term, metadata: { zone: 'b' } },
      });
      if (answer?.acquired === false && answer.retryAfterMs !== null) {
        expect(answer.retryAfterMs).toBeGreaterThan(0);
        expect(answer.retryAfterMs).toBeLessThanOrEqual(held.ttlMs);
      }
    }
    expect(fresh).toMatchObject({ acquired: true, lease: { election: free, holder: 'alpha' } });
    for (const answer of [expired, fresh]) {
      if (answer?.acquired !== true) throw new Error('expected a lease');
      expect(await b.read(answer.lease.election)).toMatchObject({
        holder: 'alpha',
        term: answer.lease.term,
        metadata: { zone: 'a' },
      });
    }
    expect(await b.renew(held)).toMatchObject({ renewed: true });
  });

  conformanceCase('grants each election to one claimant when batches race claims', async () => {
    const [a, b, c] = [await connect(), await connect(), await connect()];
    const elections = Array.from({ length: 20 }, () => uniqueElection());
    // Opposite orders, and single claims beside them, so that they meet mid-batch.
    const [byAlpha, reversed, byGamma] = await Promise.all([
      claimManyOf(a)(elections.map((election) => request(election, 'alpha'))),
      claimManyOf(b)([...elections].reverse().map((election) => request(election, 'beta'))),
      Promise.all(elections.map((election) => c.tryAcquire(request(election, 'gamma')))),
    ]);
    const byBeta = [...reversed].reverse();
    for (const [i, election] of elections.entries()) {
      const answers = [byAlpha[i], byBeta[i], byGamma[i]];
      const granted = answers.filter((answer) => answer?.acquired === true);
      expect(granted).toHaveLength(1);
      const winner = granted[0];
      if (winner?.acquired !== true) throw new Error('expected a lease');
      const { holder, term } = winner.lease;
      expect(await c.read(election)).toMatchObject({ holder, term });
      for (const answer of answers) {
        if (answer?.acquired === false && answer.current !== null) {
          expect(answer.current).toMatchObject({ holder, term });
        }
      }
    }
  });
}
