import { createStore } from '@leasehold/adapters';
import { Elector, type LeaseStore } from '@leasehold/core';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ZooKeeperEnsemble } from '@leasehold/testkit';

/**
 * ZooKeeper over TLS (issue 25, item 7): a private server with a `secureClientPort` and
 * certificates made here; the adapter dials it with tls.connect in place of the client's
 * net.connect (zookeeper/client-internals.ts `dialWithTls`).
 */
const dir = mkdtempSync(join(tmpdir(), 'leasehold-zktls-'));
const file = (name: string): string => join(dir, name);
const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' });

/** A CA (`name`.pem, `name`.key) that signs nothing yet. */
function makeCa(name: string): void {
  openssl(
    ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
    ...['-days', '1', '-subj', `/CN=${name}`, '-keyout', file(`${name}.key`)],
    ...['-out', file(`${name}.pem`)],
  );
}

let zk: ZooKeeperEnsemble;
const stores: LeaseStore[] = [];
const electors: Elector[] = [];

beforeAll(async () => {
  makeCa('ca');
  makeCa('other-ca');
  openssl(
    ...['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
    ...['-subj', '/CN=localhost', '-keyout', file('server.key'), '-out', file('server.csr')],
  );
  writeFileSync(file('san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl(
    ...['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem')],
    ...['-CAkey', file('ca.key'), '-CAcreateserial', '-days', '1'],
    ...['-extfile', file('san.ext'), '-out', file('server.crt')],
  );
  openssl('pkcs8', '-topk8', '-nocrypt', '-in', file('server.key'), '-out', file('server.p8'));
  writeFileSync(
    file('server-store.pem'),
    readFileSync(file('server.p8'), 'utf8') + readFileSync(file('server.crt'), 'utf8'),
  );
  zk = await ZooKeeperEnsemble.start(undefined, {
    tls: { keyStore: file('server-store.pem'), trustStore: file('ca.pem') },
  });
}, 60_000);

afterEach(async () => {
  for (const elector of electors.splice(0)) await elector.stop();
  for (const store of stores.splice(0)) await store.close();
});

afterAll(async () => {
  await zk?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function elector(host: string, ca: string | undefined): Promise<Elector> {
  const [member] = zk.members;
  if (member === undefined) throw new Error('no ZooKeeper member');
  const store = await createStore(`zk://${host}:${member.securePort}`, {
    namespace: `lhzktls${randomUUID().slice(0, 8)}`,
    ttlMs: 2_000,
    ...(ca === undefined ? {} : { tls: { ca: readFileSync(file(ca), 'utf8') } }),
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
      expect(await leadsWithin(await elector(host, 'ca.pem'), 15_000)).toBe(true);
    },
    30_000,
  );

  it('does not reach a server whose certificate another CA signed', async () => {
    const candidate = await elector('localhost', 'other-ca.pem');
    expect(await leadsWithin(candidate, 5_000)).toBe(false);
    expect(candidate.status().store.healthy).toBe(false);
  }, 30_000);

  it('does not reach the TLS port without TLS', async () => {
    const candidate = await elector('localhost', undefined);
    expect(await leadsWithin(candidate, 5_000)).toBe(false);
  }, 30_000);
});
