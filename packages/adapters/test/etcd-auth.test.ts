import { createStore } from '@leasehold/adapters';
import { LeaseholdError, type AcquireRequest, type LeaseStore } from '@leasehold/core';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EtcdCluster, TestCertificates, trackTimers, until } from '@leasehold/testkit';

/**
 * Password auth and TLS, each on a private etcd (auth and client certificates are
 * server-wide settings; the shared etcd on 2379 stays as it is).
 */

const opened: LeaseStore[] = [];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
});

async function open(...args: Parameters<typeof createStore>): Promise<LeaseStore> {
  const store = await createStore(...args);
  opened.push(store);
  return store;
}

function request(election: string, holder: string): AcquireRequest {
  return { election, holder, token: randomUUID(), ttlMs: 2_000 };
}

async function failureOf(promise: Promise<unknown>): Promise<LeaseholdError> {
  const outcome = await promise.then(
    () => null,
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(LeaseholdError);
  return outcome as LeaseholdError;
}

describe('etcd password authentication', () => {
  const namespace = 'guarded';
  const appPassword = 'app-secret-pw';
  let etcd: EtcdCluster;

  beforeAll(async () => {
    etcd = await EtcdCluster.start();
    await etcd.etcdctl('user', 'add', 'root:root-secret-pw');
    await etcd.etcdctl('user', 'add', `app:${appPassword}`);
    await etcd.etcdctl('user', 'add', 'stranger:stranger-pw');
    await etcd.etcdctl('role', 'add', 'leasehold');
    await etcd.etcdctl(
      'role',
      'grant-permission',
      'leasehold',
      '--prefix=true',
      'readwrite',
      `${namespace}/`,
    );
    await etcd.etcdctl('user', 'grant-role', 'app', 'leasehold');
    await etcd.etcdctl('auth', 'enable');
  }, 30_000);

  afterAll(async () => {
    await etcd?.close();
  });

  const url = (userinfo: string) => etcd.url.replace('://', `://${userinfo}@`);

  it('works with the right user and password', async () => {
    const store = await open(url(`app:${appPassword}`), { namespace });
    const result = await store.tryAcquire(request('jobs', 'alpha'));
    expect(result.acquired).toBe(true);
    if (!result.acquired) return;
    expect(await store.renew(result.lease)).toMatchObject({ renewed: true });
    const controller = new AbortController();
    let changes = 0;
    await store.watch?.('jobs', () => (changes += 1), controller.signal);
    await store.release(result.lease);
    await until('changes > 0', 5_000, () => changes > 0);
    controller.abort();
    expect(await store.read('jobs')).toBeNull();
  });

  it('fails at once with a fatal error naming the user, not the password, on a wrong password', async () => {
    const failure = await failureOf(open(url('app:wrong-password-123'), { namespace }));
    expect(failure.code).toBe('LEASEHOLD_E_STORE_AUTH');
    expect(failure.transient).toBe(false);
    expect(failure.message).toContain('"app"');
    expect(failure.message).not.toContain('wrong-password-123');
    expect(JSON.stringify(failure)).not.toContain('wrong-password-123');
  });

  it('says that etcd wants credentials when the URL has none', async () => {
    const failure = await failureOf(open(etcd.url, { namespace }));
    expect(failure.code).toBe('LEASEHOLD_E_STORE_AUTH');
    expect(failure.message).toMatch(/requires authentication/);
  });

  it('leaves no connection behind when etcd was down at start-up and restarts', async () => {
    await etcd.stop();
    const timers = trackTimers();
    // etcd3 opens a connection per authentication attempt; while etcd is down each call
    // makes one.
    const store = await createStore(url(`app:${appPassword}`), { namespace });
    try {
      for (let attempt = 0; attempt < 10; attempt += 1) {
        await expect(store.read('jobs')).rejects.toMatchObject({
          code: 'LEASEHOLD_E_STORE_UNAVAILABLE',
        });
      }
      await etcd.start();
      await until(
        `(await store.read('jobs').catch(() => 'down')) === null`,
        10_000,
        async () => (await store.read('jobs').catch(() => 'down')) === null,
      );
      // A restart invalidates etcd's auth tokens: the store authenticates again.
      await etcd.stop();
      await etcd.start();
      await until(
        `(await store.read('jobs').catch(() => 'down')) === null`,
        10_000,
        async () => (await store.read('jobs').catch(() => 'down')) === null,
      );
      expect(etcd.connectionsFromThisProcess()).toBeLessThanOrEqual(1);
    } finally {
      await store.close();
    }
    try {
      await until(
        'etcd.connectionsFromThisProcess() === 0',
        5_000,
        async () => etcd.connectionsFromThisProcess() === 0,
      );
      await until('timers.live() === 0', 5_000, async () => timers.live() === 0);
    } finally {
      timers.restore();
    }
  }, 60_000);

  it('reports a missing permission as a fatal error naming the prefix', async () => {
    const store = await open(url('stranger:stranger-pw'), { namespace });
    const failure = await failureOf(store.tryAcquire(request('jobs', 'alpha')));
    expect(failure.code).toBe('LEASEHOLD_E_STORE_AUTH');
    expect(failure.transient).toBe(false);
    expect(failure.message).toContain('"stranger"');
    expect(failure.message).toContain(`"${namespace}/"`);
    expect(failure.message).not.toContain('stranger-pw');
  });
});

describe('etcd over TLS (etcds://)', () => {
  let certificates: TestCertificates;
  /** An unrelated CA (and its certificates). */
  let other: TestCertificates;
  let etcd: EtcdCluster;
  let pem: { ca: string; cert: string; key: string; otherCa: string };

  beforeAll(async () => {
    certificates = TestCertificates.create();
    other = TestCertificates.create();
    pem = {
      ca: certificates.ca,
      cert: certificates.clientCert,
      key: certificates.clientKey,
      otherCa: other.ca,
    };
    const { caFile, serverCertFile, serverKeyFile, clientCertFile, clientKeyFile } = certificates;
    const tls = { caFile, serverCertFile, serverKeyFile, clientCertFile, clientKeyFile };
    etcd = await EtcdCluster.start(undefined, { tls: { ...tls, requireClientCert: true } });
  }, 30_000);

  afterAll(async () => {
    await etcd?.close();
    certificates?.dispose();
    other?.dispose();
  });

  it('acquires, renews, watches and releases with a CA and a client certificate', async () => {
    const namespace = `t${randomUUID().slice(0, 8)}`;
    const tls = { ca: pem.ca, cert: pem.cert, key: pem.key };
    const [a, b] = [
      await open(etcd.url, { namespace, tls }),
      await open(etcd.url, { namespace, tls }),
    ];
    const result = await a.tryAcquire(request('jobs', 'alpha'));
    expect(result.acquired).toBe(true);
    if (!result.acquired) return;
    expect(await a.renew(result.lease)).toMatchObject({ renewed: true });
    const controller = new AbortController();
    let changes = 0;
    await b.watch?.('jobs', () => (changes += 1), controller.signal);
    await a.release(result.lease);
    await until('changes > 0', 5_000, () => changes > 0);
    controller.abort();
    expect((await b.tryAcquire(request('jobs', 'beta'))).acquired).toBe(true);
  });

  it('refuses a server whose certificate the CA did not sign, naming TLS', async () => {
    const tls = { ca: pem.otherCa, cert: pem.cert, key: pem.key };
    const failure = await failureOf(open(etcd.url, { tls }));
    expect(failure.code).toBe('LEASEHOLD_E_STORE_AUTH');
    expect(failure.message).toMatch(/TLS/);
  });

  it('fails without the client certificate etcd requires, naming TLS', async () => {
    const failure = await failureOf(open(etcd.url, { tls: { ca: pem.ca } }));
    expect(failure.code).toBe('LEASEHOLD_E_STORE_AUTH');
    expect(failure.message).toMatch(/TLS/);
  });
});
