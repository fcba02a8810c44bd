import { Elector } from '@leasehold/core';
import { until } from '@leasehold/testkit';
import { Etcd3 } from 'etcd3';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, expect, it } from 'vitest';
import { createEtcdClient } from '../src/etcd/client.js';
import { HostQuarantine } from '../src/etcd/host-quarantine.js';
import { EtcdStore } from '../src/etcd/store.js';
import { parseEtcdUrl } from '../src/etcd/url.js';

/**
 * What an idle etcd candidate costs per renew interval, in gRPC calls (issue 28): every call
 * is a new HTTP/2 stream, which grpc-js, http2 and etcd's pings after it make the bulk of an
 * idle sidecar's CPU. Counted where every call and stream starts (etcd3's connection pool),
 * not at etcd's metrics endpoint: the shared etcd serves other tests at the same time.
 */
const ETCD_URL = new URL('etcd://127.0.0.1:2379');
const TTL_MS = 3_000;
const CYCLES = 4;
const inspector = new Etcd3({ hosts: 'http://127.0.0.1:2379' });
afterAll(() => inspector.close());

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Counted {
  readonly store: EtcdStore;
  /** Calls and streams opened so far, by service and method ("KV.txn", "Lease.stream"). */
  readonly calls: Map<string, number>;
}

/** A store whose client counts each gRPC call and stream it opens. */
function countedStore(namespace: string): Counted {
  const config = parseEtcdUrl(ETCD_URL, { namespace });
  const quarantine = new HostQuarantine(config.endpoints);
  const client = createEtcdClient(config, quarantine);
  const calls = new Map<string, number>();
  const count = (name: string) => calls.set(name, (calls.get(name) ?? 0) + 1);
  const pool = (client as unknown as { pool: PoolLike }).pool;
  const exec = pool.exec.bind(pool);
  const withConnection = pool.withConnection.bind(pool);
  let inExec = 0;
  pool.exec = async (service, method, ...rest) => {
    count(`${service}.${method}`);
    inExec += 1;
    try {
      return await exec(service, method, ...rest);
    } finally {
      inExec -= 1;
    }
  };
  // Streams open through withConnection directly; a unary call goes through exec first.
  pool.withConnection = (service, ...rest) => {
    if (inExec === 0) count(`${service}.stream`);
    return withConnection(service, ...rest);
  };
  return { store: new EtcdStore(client, config, quarantine), calls };
}

interface PoolLike {
  exec(service: string, method: string, ...rest: unknown[]): Promise<unknown>;
  withConnection(service: string, ...rest: unknown[]): Promise<unknown>;
}

/** Calls made from now until `elector` has renewed CYCLES more times, by name. */
async function callsOver(elector: Elector, counted: readonly Counted[]) {
  let renewals = 0;
  elector.on('store-request', ({ op }) => {
    if (op === 'renew') renewals += 1;
  });
  await until('leading, renewed twice', 10_000, () => elector.isLeader() && renewals >= 2);
  const before = counted.map(({ calls }) => new Map(calls));
  const from = renewals;
  await until(`${CYCLES} more renewals`, 10_000, () => renewals >= from + CYCLES);
  expect(elector.isLeader()).toBe(true);
  return counted.map(({ calls }, index) =>
    Object.fromEntries(
      [...calls]
        .map(([name, n]) => [name, n - (before[index]?.get(name) ?? 0)] as const)
        .filter(([, n]) => n > 0),
    ),
  );
}

async function candidate(namespace: string, id: string) {
  const counted = countedStore(namespace);
  await counted.store.start();
  const elector = new Elector({ store: counted.store, election: 'idle', id, ttlMs: TTL_MS });
  cleanups.push(async () => {
    await elector.stop({ withinMs: 5_000 });
    await counted.store.close();
  });
  return { ...counted, elector };
}

const sum = (made: Record<string, number>) => Object.values(made).reduce((a, b) => a + b, 0);

it('an idle leader makes two gRPC calls per renew interval, a follower one, no new streams', async () => {
  const namespace = `tcalls${randomUUID().slice(0, 8)}`;
  cleanups.push(() =>
    inspector
      .delete()
      .prefix(`${namespace}/`)
      .then(() => undefined),
  );
  const leader = await candidate(namespace, 'leader');
  leader.elector.start();
  await until('leader leads', 10_000, () => leader.elector.isLeader());
  const follower = await candidate(namespace, 'follower');
  follower.elector.start();
  await until('follower knows the leader', 10_000, () => follower.elector.status().observed);
  const [byLeader = {}, byFollower = {}] = await callsOver(leader.elector, [leader, follower]);
  const seen = JSON.stringify({ byLeader, byFollower });
  // Per renew interval the leader makes the renewal's check (a txn) and the member record's
  // put and list (one txn); every keep-alive goes on one stream kept open, and the member
  // heartbeat sends none while the renewals keep its lease alive. A follower makes the
  // member txn. Each member heartbeat runs on its own timer, so a window of CYCLES renewals
  // holds CYCLES member beats, give or take one.
  expect(byLeader['Lease.stream'] ?? 0, seen).toBe(0);
  expect(byFollower['Lease.stream'] ?? 0, seen).toBe(0);
  expect(sum(byLeader), seen).toBeLessThanOrEqual(2 * CYCLES + 1);
  expect(byFollower['KV.txn'] ?? 0, seen).toBeLessThanOrEqual(CYCLES + 1);
  expect(byFollower['KV.put'] ?? 0, seen).toBe(0);
});
