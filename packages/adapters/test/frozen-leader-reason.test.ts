import { Elector, type DeposeReason } from '@leasehold/core';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createStore } from '../src/index.js';
import { freezeThread, until } from '@leasehold/testkit';

// A leader frozen past its deadline (SIGSTOP, a stalled VM: here the event loop blocked) is
// deposed for the same reason on every backend: its lease expired. Whether its late renewal
// is answered before its deadline timer runs (at once on SQLite, a round trip later on
// Redis) must not change the reason.

const dir = mkdtempSync(join(tmpdir(), 'leasehold-frozen-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const STORES = {
  sqlite: () => `sqlite://${join(dir, `${randomUUID()}.db`)}`,
  redis: () => process.env.LEASEHOLD_TEST_REDIS ?? 'redis://127.0.0.1:6379',
};

describe.each(Object.keys(STORES) as (keyof typeof STORES)[])('a frozen leader on %s', (name) => {
  it('is deposed with lease-expired', { timeout: 30_000 }, async () => {
    const store = await createStore(STORES[name](), {
      namespace: `frozen${randomUUID().slice(0, 8)}`,
    });
    const elector = new Elector({
      store,
      election: `frozen-${randomUUID().slice(0, 8)}`,
      id: 'a',
      ttlMs: 1_000,
      retryIntervalMs: 100,
    });
    const reasons: DeposeReason[] = [];
    elector.on('deposed', ({ reason }) => reasons.push(reason));
    try {
      elector.start();
      await until('elector.isLeader()', 10_000, () => elector.isLeader());
      freezeThread(2_500);
      await until('reasons.length > 0', 5_000, () => reasons.length > 0);
      expect(reasons[0]).toBe('lease-expired');
    } finally {
      await elector.stop();
      await store.close();
    }
  });
});
