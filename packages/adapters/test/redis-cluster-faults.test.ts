import { StoreUnavailableError } from '@leasehold/core';
import { RedisClusterSet } from '@leasehold/testkit';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore } from '../src/redis/index.js';
import { acquire } from './helpers/exercise-store.js';

// A slot moved between masters under a holder, on a private cluster (the chaos scenarios
// cluster-migrate, cluster-failover and cluster-master-kill fault it under live sidecars).
describe('redis cluster: a slot moved under a holder', () => {
  let cluster: RedisClusterSet;
  beforeAll(async () => {
    cluster = await RedisClusterSet.start();
  }, 60_000);
  afterAll(async () => {
    await cluster.close();
    expect(await cluster.anyAnswers()).toBe(false);
  });

  it('fails a renewal that meets the slot half moved at once, then renews on the new master', async () => {
    const store = await createRedisStore(new URL(cluster.url), { namespace: 'moving' });
    try {
      const election = 'jobs';
      const lease = await acquire(store, {
        election,
        holder: 'a',
        token: randomUUID(),
        ttlMs: 20_000,
      });
      const slot = await cluster.slotOf(election);
      const [from = 0, to = 0, third = 0] = await cluster.masters(slot);
      await cluster.openMove(slot, from, to);
      await cluster.moveKeys(from, to, [`moving:{${election}}:lease`]);
      // The lease key is on the new master, the rest on the old one: TRYAGAIN, not resent
      // (ioredis's cluster client would send it again and again until its redirections ran out).
      const started = performance.now();
      const renewal = store.renew(lease);
      await expect(renewal).rejects.toThrow(StoreUnavailableError);
      await expect(renewal).rejects.toThrow(/renew at .* failed: TRYAGAIN/);
      expect(performance.now() - started).toBeLessThan(1_000);
      await cluster.finishMove(slot, from, to);
      // The lease moved with its TTL: the holder renews there (MOVED is followed).
      expect(await store.renew(lease)).toEqual({ renewed: true, ttlMs: 20_000 });
      expect(await store.read(election)).toMatchObject({ holder: 'a', term: lease.term });
      await store.release(lease);

      // Moved again, to a master that never served it: the next holder waits a whole TTL.
      await cluster.openMove(slot, to, third);
      await cluster.finishMove(slot, to, third);
      const next = await acquire(store, {
        election,
        holder: 'b',
        token: randomUUID(),
        ttlMs: 20_000,
      });
      expect(next.term).toBeGreaterThan(lease.term);
      expect(next.notBeforeMs).toBe(20_000);
    } finally {
      await store.close();
    }
  }, 60_000);
});
