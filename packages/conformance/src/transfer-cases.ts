import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type { AcquireRequest, Lease, LeaseStore, TransferStore } from '@leasehold/core';
import { uniqueElection } from './support.js';

/**
 * Conformance cases for transfers (docs/design.md §3.6): a release that names its successor
 * and, in the same atomic step, reserves the election for it.
 */
export interface TransferCaseTools {
  connect(): Promise<LeaseStore>;
  conformanceCase(name: string, body: () => Promise<void>): void;
  request(election: string, holder: string, extra?: Partial<AcquireRequest>): AcquireRequest;
  acquireOrFail(store: LeaseStore, req: AcquireRequest): Promise<Lease>;
  acquireWithin(store: LeaseStore, req: AcquireRequest, withinMs: number): Promise<Lease>;
}

/** Long enough for a few round trips on a loaded machine; etcd may round it up to 2 s. */
const RESERVATION_MS = 1_500;

function transferOf(store: LeaseStore): TransferStore {
  expect(typeof store.transfer?.handOver).toBe('function');
  expect(typeof store.transfer?.reservation).toBe('function');
  return store.transfer as TransferStore;
}

export function defineTransferCases(tools: TransferCaseTools): void {
  const { connect, conformanceCase, request, acquireOrFail, acquireWithin } = tools;

  conformanceCase('hands over to the named successor only, terms rising', async () => {
    const [a, b, c] = [await connect(), await connect(), await connect()];
    const election = uniqueElection();
    const first = await acquireOrFail(a, request(election, 'alpha'));
    expect(await transferOf(a).handOver(first, 'beta', 60_000)).toBe(true);
    expect(await a.read(election)).toBeNull();
    expect(await c.transfer?.reservation(election)).toMatchObject({
      successor: 'beta',
      from: 'alpha',
    });
    const refused = await c.tryAcquire(request(election, 'gamma'));
    expect(refused).toMatchObject({ acquired: false, current: null, reservedFor: 'beta' });
    if (!refused.acquired && refused.retryAfterMs !== null) {
      expect(refused.retryAfterMs).toBeGreaterThan(0);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(60_000);
    }
    const second = await acquireOrFail(b, request(election, 'beta'));
    expect(second.term).toBeGreaterThan(first.term);
    expect(second.notBeforeMs).toBe(0);
    // The claim consumed the reservation: once beta releases, anyone may claim.
    expect(await c.transfer?.reservation(election)).toBeNull();
    await b.release(second);
    const third = await acquireOrFail(c, request(election, 'gamma'));
    expect(third.term).toBeGreaterThan(second.term);
  });

  conformanceCase('refuses others until the reservation lapses, then anyone', async () => {
    const [a, c] = [await connect(), await connect()];
    const election = uniqueElection();
    const first = await acquireOrFail(a, request(election, 'alpha'));
    const handedAt = performance.now();
    expect(await transferOf(a).handOver(first, 'beta', RESERVATION_MS)).toBe(true);
    expect((await c.tryAcquire(request(election, 'gamma'))).acquired).toBe(false);
    const after = await acquireWithin(c, request(election, 'gamma'), RESERVATION_MS + 3_000);
    // The store starts the reservation after it received the hand-over (after handedAt).
    expect(performance.now() - handedAt).toBeGreaterThanOrEqual(RESERVATION_MS - 2);
    expect(after.term).toBeGreaterThan(first.term);
    expect(after.notBeforeMs).toBe(0);
  });

  conformanceCase('lets the holder that handed over take it back meanwhile', async () => {
    const [a, c] = [await connect(), await connect()];
    const election = uniqueElection();
    const first = await acquireOrFail(a, request(election, 'alpha'));
    expect(await transferOf(a).handOver(first, 'beta', 60_000)).toBe(true);
    const back = await acquireOrFail(a, request(election, 'alpha'));
    expect(back.term).toBeGreaterThan(first.term);
    expect(await c.read(election)).toMatchObject({ holder: 'alpha', term: back.term });
    expect(await c.transfer?.reservation(election)).toBeNull();
  });

  conformanceCase('does not let a stale token hand over', async () => {
    const [a, b, c] = [await connect(), await connect(), await connect()];
    const election = uniqueElection();
    const first = await acquireOrFail(a, request(election, 'alpha'));
    await a.release(first);
    const second = await acquireOrFail(b, request(election, 'beta'));
    expect(await transferOf(a).handOver(first, 'gamma', 60_000)).toBe(false);
    const forged = { ...second, token: randomUUID() };
    expect(await transferOf(c).handOver(forged, 'gamma', 60_000)).toBe(false);
    expect(await c.read(election)).toMatchObject({ holder: 'beta', term: second.term });
    expect(await c.transfer?.reservation(election)).toBeNull();
    expect(await b.renew(second)).toMatchObject({ renewed: true });
  });

  conformanceCase('does not let a stale token reserve a free election', async () => {
    const [a, c] = [await connect(), await connect()];
    const election = uniqueElection();
    const first = await acquireOrFail(a, request(election, 'alpha'));
    await a.release(first);
    expect(await transferOf(a).handOver(first, 'beta', 60_000)).toBe(false);
    expect(await c.transfer?.reservation(election)).toBeNull();
    expect((await c.tryAcquire(request(election, 'gamma'))).acquired).toBe(true);
  });
}
