import { WATCHED_POLL_TTLS, type LeaseStore } from '@leasehold/core';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, variantOf } from './harness.js';

/**
 * A follower whose store's watch is live does not poll (docs/design.md §3.8): at 1,000
 * elections a sidecar's followers sent 2,000 claims per renew interval on etcd. Safety is
 * the elector's as before; what these check is that nothing is missed: an expiry still
 * wakes it, a lost watch brings its polls back within one retry interval, and it claims
 * once a TTL at most (WATCHED_POLL_TTLS, spread over its second half) all the same.
 */
const TTL_MS = 3_000;
const RETRY_MS = 500;
let cluster: Cluster;

afterEach(() => cluster.stopAll());

/** Leader a; follower b on a store whose watch the test can lose, counting b's claims. */
async function watchedFollower() {
  cluster = new Cluster({ ttlMs: TTL_MS, retryIntervalMs: RETRY_MS });
  const a = cluster.add('a');
  a.elector.start();
  await cluster.leader();
  const memory = cluster.backend.connect();
  const watch = { live: true, claims: 0 };
  const store: LeaseStore = variantOf(memory, {
    tryAcquire: (request) => {
      watch.claims += 1;
      return memory.tryAcquire(request);
    },
    // A lost watch delivers nothing, and says so.
    watch: (election, onChange, signal) =>
      memory.watch(election, () => (watch.live ? onChange() : undefined), signal),
    watching: () => watch.live,
  });
  const b = cluster.add('b', { store });
  b.elector.start();
  await cluster.clock.advanceUntil(() => b.elector.status().leader?.id === 'a', 5_000);
  return { a, b, watch };
}

describe('a follower on a live watch', () => {
  it('does not poll while the leader holds, and claims once in WATCHED_POLL_TTLS TTLs', async () => {
    const { watch } = await watchedFollower();
    const claimsBefore = watch.claims;
    // Polling, that would be 2 claims (one a retry interval); on the watch, none yet: the
    // next claim comes half a TTL to a TTL after the last (WATCHED_POLL_TTLS, spread).
    await cluster.clock.advance(2 * RETRY_MS);
    expect(watch.claims - claimsBefore).toBe(0);
    await cluster.clock.advance(WATCHED_POLL_TTLS * TTL_MS);
    expect(watch.claims - claimsBefore).toBeGreaterThanOrEqual(1);
    expect(watch.claims - claimsBefore).toBeLessThanOrEqual(2);
  });

  it('is woken by the expiry of a dead leader and takes over within the TTL', async () => {
    const { a, b } = await watchedFollower();
    await cluster.clock.advance(10 * RETRY_MS);
    a.freeze();
    const frozenAt = cluster.clock.now();
    await cluster.clock.advanceUntil(() => b.elector.isLeader(), 2 * TTL_MS);
    expect(cluster.clock.now() - frozenAt).toBeLessThanOrEqual(TTL_MS + 100);
    expect(a.elector.isLeader()).toBe(false);
  });

  it('polls again within a retry interval once the watch is lost', async () => {
    const { a, b, watch } = await watchedFollower();
    await cluster.clock.advance(10 * RETRY_MS);
    watch.live = false;
    const claimsBefore = watch.claims;
    await cluster.clock.advance(2 * RETRY_MS + 200);
    expect(watch.claims - claimsBefore).toBeGreaterThanOrEqual(1);
    a.freeze();
    const frozenAt = cluster.clock.now();
    await cluster.clock.advanceUntil(() => b.elector.isLeader(), 2 * TTL_MS);
    expect(cluster.clock.now() - frozenAt).toBeLessThanOrEqual(TTL_MS + RETRY_MS + 200);
  });
});
