import { createStore } from '@leasehold/adapters';
import { Elector, type LeaseStore } from '@leasehold/core';
import { leaderBody } from '@leasehold/sidecar';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { until } from '@leasehold/testkit';
import { storeUrls } from './helpers/sidecar-processes.js';
import { removeZooKeeperTree } from './helpers/zookeeper-tree.js';

/**
 * "since" in GET /v1/leader is the leader's tenure start, read from the lease, so that every
 * sidecar of an election reports one value for one leader, whenever each first saw it.
 */
const sqliteDir = mkdtempSync(join(tmpdir(), 'leasehold-since-'));
const zkChroot = `/lhsince-${randomUUID().slice(0, 8)}`;
afterAll(async () => {
  rmSync(sqliteDir, { recursive: true, force: true });
  await removeZooKeeperTree('127.0.0.1:2181', zkChroot);
});

const TTL_MS = 2_000;
const open: { elector: Elector; store: LeaseStore }[] = [];
afterEach(async () => {
  for (const { elector, store } of open.splice(0)) {
    await elector.stop();
    await store.close();
  }
});

async function candidate(url: string, election: string, id: string) {
  const store = await createStore(url, { namespace: 'leasehold', ttlMs: TTL_MS });
  const elector = new Elector({ store, election, id, ttlMs: TTL_MS, retryIntervalMs: 100 });
  open.push({ elector, store });
  return elector;
}

/** Each candidate's "since" once all of them know `leader` leads. */
async function sinceSeenBy(electors: readonly Elector[], leader: string): Promise<string[]> {
  await until('electors.every((e) => e.status().leader?.id === leader)', 10_000, () =>
    electors.every((e) => e.status().leader?.id === leader),
  );
  return electors.map((e) => leaderBody(e).since ?? 'none');
}

describe.each(storeUrls(sqliteDir, zkChroot))('since on %s', (_backend, url) => {
  it('is the same on every candidate, and moves with a new leader', async () => {
    const election = `since-${randomUUID().slice(0, 8)}`;
    const first = await candidate(url, election, 'first');
    first.start();
    await until('first.isLeader()', 10_000, () => first.isLeader());
    // The followers come later: when each first saw the leader is not when it began to lead.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const others = [
      await candidate(url, election, 'second'),
      await candidate(url, election, 'third'),
    ];
    for (const elector of others) elector.start();

    const firstTenure = await sinceSeenBy([first, ...others], 'first');
    expect(new Set(firstTenure).size).toBe(1);
    expect(Date.parse(firstTenure[0] ?? '')).toBeLessThan(Date.now() - 250);

    await first.stop();
    await until('others.some((e) => e.isLeader())', 10_000, () => others.some((e) => e.isLeader()));
    const next = others.find((e) => e.isLeader())?.id ?? '';
    const nextTenure = await sinceSeenBy(others, next);
    expect(new Set(nextTenure).size).toBe(1);
    expect(Date.parse(nextTenure[0] ?? '')).toBeGreaterThan(Date.parse(firstTenure[0] ?? ''));
  });
});
