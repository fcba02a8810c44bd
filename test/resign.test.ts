import { createStore } from '@leasehold/adapters';
import { Elector, type LeaseStore } from '@leasehold/core';
import { createLogger, createSidecarState, listen, type SidecarListener } from '@leasehold/sidecar';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer, until } from '@leasehold/testkit';

// POST /v1/resign says what became of the lease, and the resigning sidecar learns the new
// leader at once: on real Redis, with ACL users that make the release fail.

const TOKEN = 'resign-test-token-0123456789';
const REDIS = process.env.LEASEHOLD_TEST_REDIS ?? 'redis://127.0.0.1:6379';

interface Candidate {
  readonly elector: Elector;
  readonly store: LeaseStore;
  readonly app: SidecarListener;
}
const running: Candidate[] = [];

afterEach(async () => {
  for (const { elector, store, app } of running.splice(0)) {
    await elector.stop();
    await app.close();
    await store.close();
  }
});

async function candidate(url: string, namespace: string, election: string, id: string) {
  const store = await createStore(url, { namespace });
  const elector = new Elector({ store, election, id, ttlMs: 3_000, retryIntervalMs: 1_000 });
  // The listener the command uses, on port 0.
  const state = createSidecarState({
    elector,
    logger: createLogger({ logLevel: 'silent' }),
    adminToken: TOKEN,
  });
  const app = await listen(state, { host: '127.0.0.1', port: 0 });
  const started: Candidate = { elector, store, app };
  running.push(started);
  elector.start();
  return started;
}

async function resign(app: Candidate['app']) {
  const response = await fetch(`${app.url}/v1/resign`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

describe('POST /v1/resign on Redis', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start({
      args: [
        // May not DEL: the release fails before it changes anything.
        ...['--user', 'nodel', 'on', '>nodel-pass', '~nodel:*', '&nodel:*', '+@all', '-del'],
        // May not PUBLISH: the release deletes the lease, then fails to wake the others.
        ...['--user', 'nopub', 'on', '>nopub-pass', '~nopub:*', 'resetchannels', '+@all'],
      ],
    });
  });
  afterAll(() => server.close());

  it('says the lease was released after a release that worked', async () => {
    const election = `r-${randomUUID().slice(0, 8)}`;
    const one = await candidate(REDIS, 'resigntest', election, 'one');
    await until('one.elector.isLeader()', 5_000, () => one.elector.isLeader());
    expect(await resign(one.app)).toEqual({ resigned: true, lease: 'released' });
    expect(await resign(one.app)).toEqual({ resigned: false });
  });

  it('says the release failed, with its code, and until when the lease stays', async () => {
    const url = `redis://nodel:nodel-pass@127.0.0.1:${server.port}`;
    const one = await candidate(url, 'nodel', `r-${randomUUID().slice(0, 8)}`, 'one');
    await until('one.elector.isLeader()', 5_000, () => one.elector.isLeader());
    const before = Date.now();
    const answer = await resign(one.app);
    expect(answer).toMatchObject({
      resigned: true,
      lease: 'left-to-expire',
      releaseError: { code: 'LEASEHOLD_E_STORE_AUTH' },
    });
    expect(JSON.stringify(answer)).not.toContain('nodel-pass');
    const expiresBy = Date.parse(String(answer.expiresBy));
    expect(expiresBy).toBeGreaterThan(before);
    expect(expiresBy).toBeLessThanOrEqual(Date.now() + 3_000 * 1.01 + 1);
    expect(one.elector.isLeader()).toBe(false);
  });

  it('says the lease is gone when the release deleted it but failed to publish', async () => {
    const url = `redis://nopub:nopub-pass@127.0.0.1:${server.port}`;
    const one = await candidate(url, 'nopub', `r-${randomUUID().slice(0, 8)}`, 'one');
    await until('one.elector.isLeader()', 5_000, () => one.elector.isLeader());
    expect(await resign(one.app)).toMatchObject({
      resigned: true,
      lease: 'released',
      releaseError: { code: 'LEASEHOLD_E_STORE_AUTH' },
    });
  });

  it('lets the resigning sidecar see the new leader within milliseconds, not its hold-off', async () => {
    const election = `r-${randomUUID().slice(0, 8)}`;
    const one = await candidate(REDIS, 'resigntest', election, 'one');
    await until('one.elector.isLeader()', 5_000, () => one.elector.isLeader());
    const two = await candidate(REDIS, 'resigntest', election, 'two');
    await until(
      `two.elector.status().leader?.id === 'one'`,
      5_000,
      () => two.elector.status().leader?.id === 'one',
    );
    let electedAt = Number.NaN;
    let seenAt = Number.NaN;
    two.elector.once('elected', () => (electedAt = performance.now()));
    one.elector.on('leader', (leader) => {
      if (leader?.id === 'two' && Number.isNaN(seenAt)) seenAt = performance.now();
    });
    expect(await resign(one.app)).toMatchObject({ resigned: true });
    await until(
      '!Number.isNaN(electedAt) && !Number.isNaN(seenAt)',
      5_000,
      () => !Number.isNaN(electedAt) && !Number.isNaN(seenAt),
    );
    // The resigned candidate does not compete for two retry intervals (2 s), but it must not
    // take that long to learn who leads.
    expect(seenAt - electedAt).toBeLessThan(1_000);
    const leader = (await (await fetch(`${one.app.url}/v1/leader`)).json()) as {
      leader: string | null;
    };
    expect(leader.leader).toBe('two');
  });
});
