import { createStore } from '@leasehold/adapters';
import {
  Elector,
  LeaseholdConfigError,
  LeaseholdError,
  type AcquireRequest,
  type LeaseStore,
} from '@leasehold/core';
import { runConformanceSuite } from '@leasehold/conformance';
import { Etcd3 } from 'etcd3';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { normalizeHostListUrl } from '../src/store-url.js';
import { until } from '@leasehold/testkit';
import { acquire, member } from './helpers/exercise-store.js';

/** The shared etcd (scripts/services.sh starts it); nothing here stops or reconfigures it. */
const ETCD_URL = 'etcd://127.0.0.1:2379';

/** A plain client for looking at what the store wrote, and for cleaning up after a test. */
const inspector = new Etcd3({ hosts: 'http://127.0.0.1:2379' });
afterAll(() => inspector.close());

runConformanceSuite({
  name: 'etcd',
  wakesFirstInLine: true,
  transfer: true,
  memberSteering: true,
  batch: true,
  batchMembers: true,
  createStore: ({ namespace }) => createStore(ETCD_URL, { namespace }),
  cleanup: async ({ namespace }) => {
    await inspector.delete().prefix(`${namespace}/`);
  },
  // etcd grants whole seconds, at least 2 with its default election timeout.
  ttlMs: 2_000,
  // etcd looks for expired leases every 500 ms and revokes them through raft.
  expiryGraceMs: 1_500,
});

describe('etcd store', () => {
  const opened: LeaseStore[] = [];
  const namespaces: string[] = [];

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
    await Promise.all(
      namespaces.splice(0).map((namespace) => inspector.delete().prefix(`${namespace}/`)),
    );
  });

  async function open(url = ETCD_URL): Promise<{ store: LeaseStore; namespace: string }> {
    const namespace = `t${randomUUID().slice(0, 8)}`;
    namespaces.push(namespace);
    const store = await createStore(url, { namespace });
    opened.push(store);
    return { store, namespace };
  }

  function request(holder: string, extra: Partial<AcquireRequest> = {}): AcquireRequest {
    return { election: 'jobs', holder, token: randomUUID(), ttlMs: 2_000, ...extra };
  }

  it('reports the TTL etcd granted: whole seconds, at least its minimum', async () => {
    const { store, namespace } = await open();
    for (const [asked, granted] of [
      [1_000, 2_000],
      [2_500, 3_000],
      [4_000, 4_000],
    ] as const) {
      const election = `ttl-${asked}`;
      const lease = await acquire(store, request('alpha', { election, ttlMs: asked }));
      expect(lease.ttlMs).toBe(granted);
      expect(await store.renew(lease)).toEqual({ renewed: true, ttlMs: granted });
      const key = await inspector.get(`${namespace}/elections/${election}/leader`).exec();
      const leaseId = key.kvs[0]?.lease ?? '0';
      const { grantedTTL } = await inspector.leaseClient.leaseTimeToLive({ ID: leaseId });
      expect(Number(grantedTTL) * 1_000).toBe(granted);
    }
  });

  it('writes the leader key on its own lease, with the create revision as the term', async () => {
    const { store, namespace } = await open();
    const key = `${namespace}/elections/jobs/leader`;
    const first = await acquire(store, request('alpha', { metadata: { url: 'http://a' } }));
    const written = (await inspector.get(key).exec()).kvs[0];
    expect(JSON.parse(written?.value.toString() ?? '{}')).toEqual({
      holder: 'alpha',
      token: first.token,
      metadata: { url: 'http://a' },
    });
    expect(Number(written?.create_revision)).toBe(first.term);
    expect(written?.lease).not.toBe('0');
    await store.release(first);
    // Releasing revokes the lease, which deletes the key with it.
    expect((await inspector.get(key).exec()).kvs).toHaveLength(0);
    const second = await acquire(store, request('beta'));
    const rewritten = (await inspector.get(key).exec()).kvs[0];
    expect(Number(rewritten?.create_revision)).toBe(second.term);
    expect(second.term).toBeGreaterThan(first.term);
    expect(rewritten?.lease).not.toBe(written?.lease);
  });

  it('keeps a reservation on an etcd lease of its own, rounded up, gone with its claim', async () => {
    const { store, namespace } = await open();
    const key = `${namespace}/elections/jobs/reservation`;
    const first = await acquire(store, request('alpha'));
    expect(await store.transfer?.handOver(first, 'beta', 1_500)).toBe(true);
    const written = (await inspector.get(key).exec()).kvs[0];
    expect(JSON.parse(written?.value.toString() ?? '{}')).toEqual({
      successor: 'beta',
      from: 'alpha',
    });
    const reservationLease = written?.lease ?? '0';
    expect(reservationLease).not.toBe('0');
    const { grantedTTL } = await inspector.leaseClient.leaseTimeToLive({ ID: reservationLease });
    expect(Number(grantedTTL)).toBe(2); // 1.5 s rounded up: etcd never lets it lapse early
    // The hand-over's own acquisition lease held only the leader key: revoked with it.
    const old = (first.handle as { leaseId: string }).leaseId;
    await until(
      'the old lease is revoked',
      5_000,
      async () => Number((await inspector.leaseClient.leaseTimeToLive({ ID: old })).TTL) < 0,
    );
    const second = await acquire(store, request('beta'));
    expect(second.term).toBeGreaterThan(first.term);
    expect((await inspector.get(key).exec()).kvs).toHaveLength(0);
    await until(
      'the reservation lease is revoked',
      5_000,
      async () =>
        Number((await inspector.leaseClient.leaseTimeToLive({ ID: reservationLease })).TTL) < 0,
    );
  });

  it('wakes a successor that is not first in line', async () => {
    const { store: leader, namespace } = await open();
    const [waiter, follower] = [
      await createStore(ETCD_URL, { namespace }),
      await createStore(ETCD_URL, { namespace }),
    ];
    opened.push(waiter, follower);
    const lease = await acquire(leader, request('alpha'));
    for (const [id, priority] of [
      ['beta', 0],
      ['gamma', 5],
      ['delta', 9],
    ] as const) {
      await waiter.members?.put('jobs', member(id, { priority }), 60_000);
    }
    await waiter.members?.list('jobs'); // beta is third in line: only a release's watch misses it
    const woken = new Set<string>();
    const controller = new AbortController();
    try {
      await waiter.watch?.('jobs', () => woken.add('beta'), controller.signal, 'beta');
      expect(await leader.transfer?.handOver(lease, 'beta', 60_000)).toBe(true);
      await until('beta wakes', 5_000, () => woken.has('beta'));
      expect(await follower.transfer?.reservation('jobs')).toMatchObject({ successor: 'beta' });
    } finally {
      controller.abort();
    }
  });

  it('refuses to work on a leader key it did not write', async () => {
    const { store, namespace } = await open();
    await inspector.put(`${namespace}/elections/jobs/leader`).value('not json');
    for (const call of [() => store.read('jobs'), () => store.tryAcquire(request('alpha'))]) {
      const failure = await call().catch((error: unknown) => error);
      expect(failure).toMatchObject({ code: 'LEASEHOLD_E_STORE_PROTOCOL' });
    }
  });

  it('tells a watcher about the release soon enough for a follower to take over at once', async () => {
    const { store: a, namespace } = await open();
    const follower = await createStore(ETCD_URL, { namespace });
    opened.push(follower);
    const election = 'handoff';
    // A poll every 5 s: only the watch can make the follower fast.
    const options = { election, ttlMs: 5_000, retryIntervalMs: 5_000 };
    const leader = new Elector({ ...options, store: a, id: 'leader' });
    const next = new Elector({ ...options, store: follower, id: 'next' });
    leader.start();
    await until('leader.isLeader()', 10_000, () => leader.isLeader());
    next.start();
    await until('next.status().observed', 10_000, () => next.status().observed);
    const elected = new Promise<number>((resolve) =>
      next.once('elected', () => resolve(performance.now())),
    );
    const stoppedAt = performance.now();
    await leader.stop();
    const handoffMs = (await elected) - stoppedAt;
    expect(handoffMs).toBeLessThan(1_000);
    await next.stop();
  });

  it('keeps working with a dead endpoint in a list of several', async () => {
    const deadPort = await freePort();
    const url = normalizeHostListUrl(`etcd://127.0.0.1:${deadPort},127.0.0.1:2379`);
    const { store } = await open(url);
    const controller = new AbortController();
    let changes = 0;
    await store.watch?.('jobs', () => (changes += 1), controller.signal);
    for (let round = 0; round < 10; round += 1) {
      const lease = await acquire(store, request('alpha'));
      expect(await store.renew(lease)).toMatchObject({ renewed: true });
      expect(await store.read('jobs')).toMatchObject({ holder: 'alpha', term: lease.term });
      await store.release(lease);
    }
    await until('changes > 0', 5_000, () => changes > 0);
    controller.abort();
  });

  it('writes batched member records on a new lease where the old one is gone', async () => {
    const { store, namespace } = await open();
    const putMembers = store.batch?.putMembers?.bind(store.batch);
    if (putMembers === undefined) throw new Error('etcd has no batch.putMembers');
    const puts = ['one', 'two'].map((election) => ({
      election,
      member: member('alpha'),
      ttlMs: 2_000,
    }));
    await putMembers(puts);
    const leaseOf = async (election: string) =>
      (await inspector.get(`${namespace}/elections/${election}/members/alpha`).exec()).kvs[0]
        ?.lease;
    const [first, other] = [await leaseOf('one'), await leaseOf('two')];
    // Revoked behind the store's back: its keep-alive now answers TTL 0.
    await inspector.leaseClient.leaseRevoke({ ID: first ?? '0' });
    const lists = await putMembers(puts);
    expect(lists.map((records) => records.map((r) => r.id))).toEqual([['alpha'], ['alpha']]);
    expect(await leaseOf('one')).not.toBe(first);
    expect(await leaseOf('two')).toBe(other);
    // The record is claimed on: the candidate claims the leader key on its new lease.
    const lease = await acquire(store, request('alpha', { election: 'one' }));
    expect(lease.handle).toMatchObject({ leaseId: await leaseOf('one'), shared: true });
  });

  it('fails fast while etcd cannot be reached, without failing createStore', async () => {
    const url = `etcd://127.0.0.1:${await freePort()}?timeout=1000`;
    const startedAt = performance.now();
    const { store } = await open(url);
    for (const call of [
      () => store.read('jobs'),
      () => store.tryAcquire(request('alpha')),
      () => store.members?.put('jobs', member('alpha'), 2_000) ?? Promise.resolve(),
    ]) {
      const failure = await call().catch((error: unknown) => error);
      expect(failure).toMatchObject({ code: 'LEASEHOLD_E_STORE_UNAVAILABLE', transient: true });
    }
    // A watch cannot start, but its promise still resolves: the elector falls back to polling.
    await store.watch?.('jobs', () => undefined, new AbortController().signal);
    expect(performance.now() - startedAt).toBeLessThan(5_000);
  });

  it.each([
    ['etcd://', 'at least one host'],
    ['etcd://127.0.0.1:2379/prefix', 'has no path'],
    ['etcd://127.0.0.1:2379?dialTimeout=5', 'accepts timeout'],
    ['etcd://127.0.0.1:2379?timeout=5', 'from 100 to 60000'],
    ['etcd://bad_host!:2379', 'expected host:port'],
    ['etcd://admin@127.0.0.1:2379', 'needs both'],
    [normalizeHostListUrl('etcd://127.0.0.1:2379,127.0.0.1:99999'), 'port number'],
  ])('refuses %s with a clear message', async (url, message) => {
    const failure = await createStore(url).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(LeaseholdConfigError);
    expect((failure as Error).message).toContain(message);
  });

  it('never puts a password in an error', async () => {
    const failures = await Promise.all([
      createStore('etcd://admin:s3cret-pw@127.0.0.1:2379/path').catch((error: unknown) => error),
      createStore('etcd://admin:s3cret-pw@127.0.0.1:2379?x=1').catch((error: unknown) => error),
      createStore('etcd://admin:s3cret-pw@127.0.0.1:2379', {
        tls: { ca: '-----BEGIN CERTIFICATE-----' },
      }).catch((error: unknown) => error),
    ]);
    for (const failure of failures) {
      expect(failure).toBeInstanceOf(LeaseholdError);
      expect(String((failure as Error).message)).not.toContain('s3cret-pw');
    }
  });

  it('wants TLS material in PEM form and only with etcds://', async () => {
    await expect(
      createStore('etcd://127.0.0.1:2379', { tls: { ca: '-----BEGIN CERTIFICATE-----' } }),
    ).rejects.toThrow(/etcds:\/\//);
    await expect(
      createStore('etcds://127.0.0.1:2379', { tls: { ca: '/etc/ca.pem' } }),
    ).rejects.toThrow(/PEM contents/);
    await expect(
      createStore('etcds://127.0.0.1:2379', { tls: { cert: '-----BEGIN CERTIFICATE-----' } }),
    ).rejects.toThrow(/both tls.cert and tls.key/);
  });
});

describe('normalizeHostListUrl', () => {
  it('makes a list of hosts acceptable to URL parsing, and leaves other URLs alone', () => {
    expect(normalizeHostListUrl('etcd://a:2379,b:2380')).toBe('etcd://a%3A2379%2Cb%3A2380');
    expect(normalizeHostListUrl('etcds://u:p@a:2379,[::1]:2380/?timeout=500')).toBe(
      'etcds://u:p@a%3A2379%2C%5B%3A%3A1%5D%3A2380/?timeout=500',
    );
    expect(normalizeHostListUrl('etcd://a:2379')).toBe('etcd://a:2379');
    expect(normalizeHostListUrl('redis://a:1,b:2')).toBe('redis://a:1,b:2');
  });
});

/** A loopback port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address !== null ? address.port : 1;
}
