import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createRedisStore } from '../src/redis/index.js';
import { wakeUpsOfOneRelease } from './helpers/first-in-line.js';

/** The shared Redis; keys under a namespace of this test's own, deleted afterwards. */
const SHARED_URL = 'redis://127.0.0.1:6379';

describe('redis release wake-up', () => {
  it('wakes only the first in line, by priority, however many candidates watch', async () => {
    const namespace = `lhpf${randomUUID().slice(0, 8)}`;
    const stores = await Promise.all(
      Array.from({ length: 6 }, () => createRedisStore(new URL(SHARED_URL), { namespace })),
    );
    const admin = new Redis(SHARED_URL);
    try {
      // A message without names wakes every watcher.
      const wakes = await wakeUpsOfOneRelease(stores, async () => {
        await admin.publish(`${namespace}:{jobs}:released`, 'jobs');
      });
      expect(wakes).toEqual({ c0: 1, c1: 1, c2: 1, c3: 1, c4: 2, c5: 2 });
    } finally {
      await Promise.all(stores.map((store) => store.close()));
      const keys = await admin.keys(`${namespace}:*`);
      if (keys.length > 0) await admin.del(...keys);
      admin.disconnect();
    }
  });
});
