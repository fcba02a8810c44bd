import { createStore } from '@leasehold/adapters';
import { Elector, type LeaseStore } from '@leasehold/core';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TestCertificates, ZooKeeperEnsemble } from '@leasehold/testkit';

/**
 * ZooKeeper over TLS (issue 25, item 7): a private server with a `secureClientPort` and the
 * test kit's certificates (another CA's too); the adapter dials it with tls.connect in place
 * of the client's net.connect (zookeeper/client-internals.ts `dialWithTls`).
 */

let zk: ZooKeeperEnsemble;
let certs: TestCertificates;
/** An unrelated CA, which signed nothing the server shows. */
let otherCa: TestCertificates;
const stores: LeaseStore[] = [];
const electors: Elector[] = [];

beforeAll(async () => {
  certs = TestCertificates.create();
  otherCa = TestCertificates.create();
  zk = await ZooKeeperEnsemble.start(undefined, { tls: certs });
}, 60_000);

afterEach(async () => {
  for (const elector of electors.splice(0)) await elector.stop();
  for (const store of stores.splice(0)) await store.close();
});

afterAll(async () => {
  await zk?.close();
  certs?.dispose();
  otherCa?.dispose();
});

/** A candidate dialling the TLS port of `host`, trusting the CA `ca` (PEM) or plain TCP. */
async function elector(host: string, ca: string | undefined): Promise<Elector> {
  const [member] = zk.members;
  if (member === undefined) throw new Error('no ZooKeeper member');
  const store = await createStore(`zk://${host}:${member.securePort}`, {
    namespace: `lhzktls${randomUUID().slice(0, 8)}`,
    ttlMs: 2_000,
    ...(ca === undefined ? {} : { tls: { ca } }),
  });
  stores.push(store);
  const candidate = new Elector({ store, election: 'tls', id: 'alpha', ttlMs: 2_000 });
  electors.push(candidate);
  candidate.start();
  return candidate;
}

async function leadsWithin(candidate: Elector, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    if (candidate.isLeader()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

describe('ZooKeeper over TLS (secureClientPort)', () => {
  it.each(['localhost', '127.0.0.1'])(
    'elects through the TLS port with the CA that signed the server (%s)',
    async (host) => {
      expect(await leadsWithin(await elector(host, certs.ca), 15_000)).toBe(true);
    },
    30_000,
  );

  it('does not reach a server whose certificate another CA signed', async () => {
    const candidate = await elector('localhost', otherCa.ca);
    expect(await leadsWithin(candidate, 5_000)).toBe(false);
    expect(candidate.status().store.healthy).toBe(false);
  }, 30_000);

  it('does not reach the TLS port without TLS', async () => {
    const candidate = await elector('localhost', undefined);
    expect(await leadsWithin(candidate, 5_000)).toBe(false);
  }, 30_000);
});
