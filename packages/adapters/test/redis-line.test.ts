import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createRedisStore } from '../src/redis/index.js';
import { waitUntil } from './helpers/free-port.js';

/** The shared Redis; keys under a namespace of this test's own, deleted afterwards. */
const SHARED_URL = 'redis://127.0.0.1:6379';

describe('redis release wake-up', () => {
  it('wakes only the first in line, by priority, however many candidates watch', async () => {
    const namespace = `lhpf${randomUUID().slice(0, 8)}`;
    const ids = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5'];
    const stores = await Promise.all(
      ids.map(() => createRedisStore(new URL(SHARED_URL), { namespace })),
    );
    const admin = new Redis(SHARED_URL);
    const controller = new AbortController();
    const wakes = new Map(ids.map((id) => [id, 0]));
    try {
      const leader = stores[0];
      if (leader === undefined) throw new Error('no store');
      const held = await leader.tryAcquire({
        election: 'jobs',
        holder: 'c0',
        token: 't0',
        ttlMs: 60_000,
      });
      if (!held.acquired) throw new Error('c0 should acquire');
      await Promise.all(
        ids.map(async (id, i) => {
          // c5 and c4 rank first (priority), then the others by start time.
          const record = {
            id,
            priority: i >= 4 ? 1 : 0,
            startedAt: 1000 + i,
            heartbeatAt: 0,
            isLeader: i === 0,
            metadata: {},
          };
          await stores[i]?.putMember?.('jobs', record, 60_000);
          const woke = () => wakes.set(id, (wakes.get(id) ?? 0) + 1);
          await stores[i]?.watch?.('jobs', woke, controller.signal, id);
        }),
      );
      await leader.release(held.lease);
      // A message without ids wakes everyone; each store's subscriber delivers in order, so
      // once all have it, every store has also handled the release's.
      await admin.publish(`${namespace}:{jobs}:released`, 'jobs');
      await waitUntil(() => ids.every((id) => (wakes.get(id) ?? 0) >= 1), 5_000, 'every wake');
      await waitUntil(() => (wakes.get('c5') ?? 0) + (wakes.get('c4') ?? 0) === 4, 5_000, 'c4, c5');
      expect(Object.fromEntries(wakes)).toEqual({ c0: 1, c1: 1, c2: 1, c3: 1, c4: 2, c5: 2 });
    } finally {
      controller.abort();
      await Promise.all(stores.map((store) => store.close()));
      const keys = await admin.keys(`${namespace}:*`);
      if (keys.length > 0) await admin.del(...keys);
      admin.disconnect();
    }
  });
});
