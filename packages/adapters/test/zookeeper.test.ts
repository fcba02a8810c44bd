import { createStore } from '@leasehold/adapters';
import {
  Elector,
  LeaseholdConfigError,
  LeaseholdError,
  type AcquireRequest,
  type LeaseStore,
} from '@leasehold/core';
import { runConformanceSuite } from '@leasehold/conformance';
import zookeeper from 'node-zookeeper-client';
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectionInternals, dialWithTls } from '../src/zookeeper/client-internals.js';
import { freePort, trackTimers, until } from '@leasehold/testkit';
import { acquire, member } from './helpers/exercise-store.js';
import { ZooKeeperInspector } from './helpers/zookeeper-inspector.js';
import { ZooKeeperTestStores } from './helpers/zookeeper-stores.js';

/**
 * The ZooKeeper store on the shared standalone ZooKeeper (scripts/services.sh starts it on
 * 2181); every test uses a namespace of its own, removed afterwards. Nothing here stops or
 * reconfigures the server: that is zookeeper-failover.test.ts, on private ones.
 */
const HOSTS = '127.0.0.1:2181';
const ZK_URL = `zk://${HOSTS}`;

let inspector: ZooKeeperInspector;
beforeAll(async () => {
  inspector = await ZooKeeperInspector.connect(HOSTS);
});
afterAll(() => inspector?.close());

runConformanceSuite({
  name: 'zookeeper',
  createStore: ({ namespace }) => createStore(ZK_URL, { namespace, ttlMs: 1_000 }),
  cleanup: ({ namespace }) => inspector.removeTree(`/${namespace}`),
  // The session timeout follows the TTL; the shared server grants down to 200 ms.
  ttlMs: 1_000,
  transfer: true,
  memberSteering: true,
  batch: true,
  batchMembers: true,
});

describe('zookeeper store', () => {
  const stores = new ZooKeeperTestStores(() => inspector, 'lhzk');
  afterEach(() => stores.cleanup());
  const namespace = (): string => stores.namespace();

  function open(ns: string, url = ZK_URL, ttlMs: number | undefined = 2_000): Promise<LeaseStore> {
    return stores.open(url, { namespace: ns, ...(ttlMs ? { ttlMs } : {}) });
  }

  function request(holder: string, extra: Partial<AcquireRequest> = {}): AcquireRequest {
    return { election: 'jobs', holder, token: randomUUID(), ttlMs: 2_000, ...extra };
  }

  it('queues one ephemeral sequential znode per candidate; the term is the leader’s czxid', async () => {
    const ns = namespace();
    const [a, b, c] = [await open(ns), await open(ns), await open(ns)];
    const first = await acquire(a, request('alpha', { metadata: { url: 'http://a' } }));
    for (const [store, holder] of [
      [b, 'beta'],
      [c, 'gamma'],
    ] as const) {
      const refused = await store.tryAcquire(request(holder));
      expect(refused).toEqual({
        acquired: false,
        current: expect.objectContaining({ holder: 'alpha', term: first.term }),
        retryAfterMs: null,
      });
    }
    const election = `/${ns}/elections/jobs`;
    const names = ((await inspector.children(election)) ?? []).sort(
      (x, y) => Number(x.slice(-10)) - Number(y.slice(-10)),
    );
    expect(names).toHaveLength(3);
    for (const name of names) expect(name).toMatch(/^[0-9a-f]{16}-\d{10}$/);
    const znodes = await Promise.all(names.map((name) => inspector.data(`${election}/${name}`)));
    expect(znodes.map((z) => JSON.parse(z?.data ?? '{}'))).toEqual([
      { holder: 'alpha', metadata: { url: 'http://a' } },
      { holder: 'beta', metadata: {} },
      { holder: 'gamma', metadata: {} },
    ]);
    for (const z of znodes) expect(z?.stat.ephemeralOwner.readBigUInt64BE()).not.toBe(0n);
    expect(znodes[0]?.stat.czxid.readBigUInt64BE()).toBe(BigInt(first.term));
    expect(first.ttlMs).toBe(2_000);
    // A renew is a round trip; the TTL it answers is the session timeout.
    expect(await a.renew(first)).toEqual({ renewed: true, ttlMs: 2_000 });

    await a.release(first);
    const second = await acquire(b, request('beta'));
    expect(second.term).toBe(Number(znodes[1]?.stat.czxid.readBigUInt64BE()));
    expect(await inspector.children(election)).toHaveLength(2);
  });

  it('wakes only the next in line when the leader leaves (no herd)', async () => {
    const ns = namespace();
    const stores = [await open(ns), await open(ns), await open(ns), await open(ns)];
    const woken = stores.map(() => 0);
    const controller = new AbortController();
    const results = [];
    for (const [i, store] of stores.entries()) {
      results.push(await store.tryAcquire(request(`c${i}`)));
      await store.watch?.('jobs', () => (woken[i] = (woken[i] ?? 0) + 1), controller.signal);
    }
    const [leader] = results;
    try {
      if (!leader?.acquired) throw new Error('the first candidate should lead');
      await stores[0]?.release(leader.lease);
      await until('the next in line woken', 2_000, () => (woken[1] ?? 0) > 0);
      // ZooKeeper sends a client its watch events before any answer that reflects the
      // change: once the others have read the election, an event for them would be here.
      await Promise.all(stores.slice(2).map((store) => store.read('jobs')));
      expect(woken.slice(2)).toEqual([0, 0]);
      expect((await stores[1]?.tryAcquire(request('c1')))?.acquired).toBe(true);
    } finally {
      controller.abort();
    }
  });

  it('hands over to the next in line within milliseconds when the leader stops', async () => {
    const ns = namespace();
    const [a, b] = [await open(ns, ZK_URL, 5_000), await open(ns, ZK_URL, 5_000)];
    // A poll every 5 s: only the watch can make the follower fast.
    const options = { election: 'handoff', ttlMs: 5_000, retryIntervalMs: 5_000 };
    const leader = new Elector({ ...options, store: a, id: 'leader' });
    const next = new Elector({ ...options, store: b, id: 'next' });
    leader.start();
    await until('leader elected', 10_000, () => leader.isLeader());
    next.start();
    await until('follower observed', 10_000, () => next.status().observed);
    const elected = new Promise<number>((resolve) =>
      next.once('elected', () => resolve(performance.now())),
    );
    const stoppedAt = performance.now();
    await leader.stop();
    expect((await elected) - stoppedAt).toBeLessThan(1_000);
    await next.stop();
  });

  it('reads a queue whose head has not asked yet as free to that head, held to the others', async () => {
    const ns = namespace();
    const [a, b] = [await open(ns), await open(ns)];
    const first = await acquire(a, request('alpha'));
    expect((await b.tryAcquire(request('beta'))).acquired).toBe(false);
    await a.release(first);
    // beta is first in line but has not acquired: to its own elector nobody leads (so a
    // priority wait, which reads, ends and beta asks), to everyone else beta does.
    expect(await b.read('jobs')).toBeNull();
    expect(await a.read('jobs')).toMatchObject({ holder: 'beta' });
    const second = await acquire(b, request('beta'));
    expect(await b.read('jobs')).toMatchObject({ holder: 'beta', term: second.term });
  });

  it('lets a later, higher version lead next: a queued candidate it outranks leaves the queue when it reads', async () => {
    const ns = namespace();
    const [a, b, c] = [await open(ns), await open(ns), await open(ns)];
    const first = await acquire(a, request('old0'));
    expect((await b.tryAcquire(request('old1'))).acquired).toBe(false);
    expect((await c.tryAcquire(request('new0'))).acquired).toBe(false);
    const records = [member('old0', { version: '1.4.2' }), member('old1', { version: '1.4.2' })];
    for (const record of [...records, member('new0', { version: '1.5.0' })]) {
      await a.members?.put('jobs', record, 60_000);
    }
    // old1's elector defers to new0 (its priority wait reads, and does not acquire): as its
    // heartbeat has listed the members, the read takes old1 out of the queue.
    await b.members?.list('jobs');
    expect(await b.read('jobs')).toMatchObject({ holder: 'old0', term: first.term });
    expect(await inspector.children(`/${ns}/elections/jobs`)).toHaveLength(2);

    await a.release(first);
    const second = await acquire(c, request('new0'));
    expect(second.term).toBeGreaterThan(first.term);
    // Once it has waited, old1 queues again, behind the new leader.
    expect(await b.tryAcquire(request('old1'))).toMatchObject({
      acquired: false,
      current: { holder: 'new0' },
    });
  });

  it('keeps an outranked candidate’s place while no listing of the members says so', async () => {
    const ns = namespace();
    const [a, b] = [await open(ns), await open(ns)];
    const first = await acquire(a, request('old0'));
    expect((await b.tryAcquire(request('old1'))).acquired).toBe(false);
    await a.members?.put('jobs', member('old1', { version: '1.0.0' }), 60_000);
    await a.members?.put('jobs', member('new0', { version: '2.0.0' }), 60_000);
    await b.read('jobs'); // b has not listed the members: nothing to go by
    await a.release(first);
    expect((await b.tryAcquire(request('old1'))).acquired).toBe(true);
  });

  it('follows the TTL: the session timeout is the TTL of the first acquire', async () => {
    const ns = namespace();
    const store = await open(ns, ZK_URL, undefined);
    const lease = await acquire(store, request('alpha', { ttlMs: 3_000 }));
    expect(lease.ttlMs).toBe(3_000);
    expect(await store.renew(lease)).toEqual({ renewed: true, ttlMs: 3_000 });
    // One store, one session: a shorter TTL gets the session's, a longer one is refused.
    const shorter = await acquire(store, request('alpha', { election: 'other', ttlMs: 1_500 }));
    expect(shorter.ttlMs).toBe(3_000);
    const longer = await store
      .tryAcquire(request('alpha', { election: 'third', ttlMs: 4_000 }))
      .catch((error: unknown) => error);
    expect(longer).toBeInstanceOf(LeaseholdConfigError);
    expect((longer as LeaseholdConfigError).field).toBe('ttl');
  });

  it('fails start-up with LEASEHOLD_E_CONFIG when the TTL exceeds maxSessionTimeout', async () => {
    const failure = await createStore(ZK_URL, { namespace: namespace(), ttlMs: 700_000 }).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(LeaseholdConfigError);
    expect((failure as Error).message).toMatch(/^invalid ttl: 700000; .*600000 ms/);
  });

  it('puts everything under the chroot, creating it', async () => {
    const root = `/lhzk${randomUUID().slice(0, 8)}`;
    stores.removeAfter(root);
    const store = await open('leasehold', `${ZK_URL}${root}/apps`);
    const lease = await acquire(store, request('alpha'));
    expect(await inspector.children(`${root}/apps/leasehold/elections/jobs`)).toHaveLength(1);
    await store.release(lease);
  });

  it('keeps working with a dead endpoint in a list of several', async () => {
    const ns = namespace();
    const store = await open(ns, `zk://127.0.0.1:${await freePort()},${HOSTS}`);
    for (let round = 0; round < 5; round += 1) {
      const lease = await acquire(store, request('alpha'));
      expect(await store.renew(lease)).toMatchObject({ renewed: true });
      await store.release(lease);
    }
  });

  it('fails fast while ZooKeeper cannot be reached, without failing createStore', async () => {
    const store = await open(namespace(), `zk://127.0.0.1:${await freePort()}`, 1_000);
    const startedAt = performance.now();
    for (const call of [
      () => store.read('jobs'),
      () => store.tryAcquire(request('alpha', { ttlMs: 1_000 })),
      () => store.members?.list('jobs') ?? Promise.resolve(),
    ]) {
      const failure = await call().catch((error: unknown) => error);
      expect(failure).toMatchObject({ code: 'LEASEHOLD_E_STORE_UNAVAILABLE', transient: true });
    }
    // A watch cannot be set, but its promise still resolves: the elector falls back to polling.
    await store.watch?.('jobs', () => undefined, new AbortController().signal);
    expect(performance.now() - startedAt).toBeLessThan(1_000);
  });

  it('leaves no sockets or timers behind after close', async () => {
    const ns = namespace();
    const baseline = sockets();
    const timers = trackTimers();
    try {
      const store = await createStore(ZK_URL, { namespace: ns, ttlMs: 1_000 });
      const controller = new AbortController();
      await store.watch?.('jobs', () => undefined, controller.signal);
      const lease = await acquire(store, request('alpha', { ttlMs: 1_000 }));
      await store.members?.put('jobs', member('alpha'), 1_000);
      await store.renew(lease);
      await store.close();
      controller.abort();
      await until('timers cleared', 5_000, () => timers.live() === 0);
      await until('sockets to ZooKeeper closed', 5_000, () => sockets() <= baseline);
    } finally {
      timers.restore();
    }
  });

  it('relies on client internals that still exist (pinned node-zookeeper-client)', async () => {
    const client = zookeeper.createClient(HOSTS);
    const internals = connectionInternals(client);
    expect(internals).not.toBeNull();
    const connected = new Promise<void>((resolve) => client.once('connected', () => resolve()));
    client.connect();
    await connected;
    expect(internals?.socket?.remotePort).toBe(2181);
    expect(typeof (zookeeper.Exception as unknown as { create: unknown }).create).toBe('function');
    client.close();
    // TLS wraps the connection manager's findNextServer (zookeeper-tls.test.ts dials with it).
    expect(dialWithTls(zookeeper.createClient(HOSTS), {})).toBe(true);
  });

  it.each([
    ['zk://', 'at least one host'],
    ['zk://127.0.0.1:2181?timeout=5', 'takes no parameters'],
    ['zk://[::1]:2181', 'IPv6'],
    ['zk://127.0.0.1:2181/zookeeper/x', 'not under /zookeeper'],
    ['zk://127.0.0.1:2181/a%2Fb', 'expected /name'],
    ['zk://admin@127.0.0.1:2181', 'needs both'],
    ['zk://127.0.0.1:2181,127.0.0.1:99999', 'port number'],
    ['zk://127.0.0.1:2181#x', 'expected zk://'],
  ])('refuses %s with a clear message', async (url, message) => {
    const failure = await createStore(url).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(LeaseholdConfigError);
    expect((failure as Error).message).toContain(message);
  });

  it('refuses a namespace ZooKeeper reserves', async () => {
    const reserved = await createStore(ZK_URL, { namespace: 'zookeeper' }).catch(
      (error: unknown) => error,
    );
    expect(reserved).toMatchObject({ code: 'LEASEHOLD_E_CONFIG', field: 'namespace' });
  });
});

describe('zookeeper digest authentication', () => {
  const ns = `lhzk${randomUUID().slice(0, 8)}`;
  const password = 'app-secret-pw';
  const url = (userinfo: string) => ZK_URL.replace('://', `://${userinfo}@`);
  let owner: LeaseStore;
  let privileged: ZooKeeperInspector;

  beforeAll(async () => {
    owner = await createStore(url(`app:${password}`), { namespace: ns, ttlMs: 2_000 });
    privileged = await ZooKeeperInspector.connect(HOSTS, { username: 'app', password });
  });

  afterAll(async () => {
    await owner?.close();
    await privileged?.removeTree(`/${ns}`);
    privileged?.close();
  });

  it('creates its znodes readable and writable by the user alone, and works through them', async () => {
    const lease = await owner.tryAcquire({
      election: 'jobs',
      holder: 'alpha',
      token: randomUUID(),
      ttlMs: 2_000,
    });
    expect(lease.acquired).toBe(true);
    const digest = createHash('sha1').update(`app:${password}`).digest('base64');
    const [candidate] = (await privileged.children(`/${ns}/elections/jobs`)) ?? [];
    for (const path of [`/${ns}`, `/${ns}/elections`, `/${ns}/elections/jobs/${candidate}`]) {
      expect(await privileged.acl(path)).toEqual([
        expect.objectContaining({
          id: expect.objectContaining({ scheme: 'digest', id: `app:${digest}` }),
        }),
      ]);
    }
    // Without the credentials even reading is refused.
    await expect(inspector.children(`/${ns}/elections`)).rejects.toMatchObject({ code: -102 });
  });

  it('fails at start-up with a fatal error naming the user, not the password', async () => {
    for (const userinfo of ['app:wrong-password-123', 'other:wrong-password-123']) {
      const failure = await createStore(url(userinfo), { namespace: ns }).catch(
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(LeaseholdError);
      expect((failure as LeaseholdError).code).toBe('LEASEHOLD_E_STORE_AUTH');
      expect((failure as LeaseholdError).transient).toBe(false);
      expect((failure as Error).message).toContain(`user "${userinfo.split(':')[0] ?? ''}"`);
      expect((failure as Error).message).not.toContain('wrong-password-123');
      expect(JSON.stringify(failure)).not.toContain('wrong-password-123');
    }
  });

  it('says that the znodes need credentials when the URL has none', async () => {
    const failure = await createStore(ZK_URL, { namespace: ns }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 'LEASEHOLD_E_STORE_AUTH' });
    expect((failure as Error).message).toContain('zk://user:password@');
  });
});

/** This process's open TCP sockets. */
function sockets(): number {
  return process.getActiveResourcesInfo().filter((type) => type === 'TCPSocketWrap').length;
}
