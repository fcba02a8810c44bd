import type { AcquireRequest, Lease, LeaseStore, MemberRecord } from '@leasehold/core';
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { until } from '@leasehold/testkit';

/** The lease `req` asks for, or the test fails. */
export async function acquire(store: LeaseStore, req: AcquireRequest): Promise<Lease> {
  const result = await store.tryAcquire(req);
  if (!result.acquired) throw new Error(`${req.holder} could not acquire ${req.election}`);
  return result.lease;
}

/** A live member record of priority 0, started and heartbeated now. */
export function member(id: string, extra: Partial<MemberRecord> = {}): MemberRecord {
  return {
    id,
    priority: 0,
    startedAt: Date.now(),
    heartbeatAt: Date.now(),
    isLeader: false,
    metadata: {},
    ...extra,
  };
}

/**
 * Every store operation once (acquire, renew, read, member records, release), with a
 * watcher that the release must wake: what a store needs to serve an elector at all.
 */
export async function exerciseStore(
  store: LeaseStore,
  election = `e${randomUUID().slice(0, 6)}`,
): Promise<Lease> {
  let woken = 0;
  const controller = new AbortController();
  await store.watch?.(election, () => (woken += 1), controller.signal);
  const result = await store.tryAcquire({
    election,
    holder: 'a',
    token: randomUUID(),
    ttlMs: 5_000,
  });
  if (!result.acquired) throw new Error('should acquire');
  expect(await store.renew(result.lease)).toMatchObject({ renewed: true });
  expect(await store.read(election)).toMatchObject({ holder: 'a', term: result.lease.term });
  const member = {
    id: 'a',
    priority: 1,
    startedAt: Date.now(),
    heartbeatAt: Date.now(),
    isLeader: true,
    metadata: {},
  };
  await store.members?.put(election, member, 5_000);
  expect((await store.members?.list(election))?.map((m) => m.id)).toEqual(['a']);
  await store.members?.remove(election, 'a');
  expect(await store.members?.list(election)).toEqual([]);
  await store.release(result.lease);
  await until('watcher woken by the release', 2_000, () => woken > 0);
  controller.abort();
  return result.lease;
}

/**
 * A transfer once (docs/design.md §3.6): hand over, read the reservation, a refused claim
 * by another, the successor's claim: the scripts or statements a transfer runs, on a store
 * whose set-up (ACLs, topology) the conformance suite does not cover.
 */
export async function exerciseTransfer(
  store: LeaseStore,
  election = `t${randomUUID().slice(0, 6)}`,
): Promise<Lease> {
  const ask = (holder: string) => ({ election, holder, token: randomUUID(), ttlMs: 5_000 });
  const first = await acquire(store, ask('a'));
  expect(await store.transfer?.handOver(first, 'b', 60_000)).toBe(true);
  expect(await store.transfer?.reservation(election)).toMatchObject({ successor: 'b', from: 'a' });
  expect(await store.tryAcquire(ask('c'))).toMatchObject({ acquired: false, reservedFor: 'b' });
  const second = await acquire(store, ask('b'));
  expect(second.term).toBeGreaterThan(first.term);
  await store.release(second);
  return second;
}
