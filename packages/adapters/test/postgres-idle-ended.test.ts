import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { freezeThread } from '@leasehold/testkit';
import { createPostgresStore } from '../src/postgres/index.js';

/**
 * A holder that sat idle past its TTL: the server ended its session (idle_session_timeout =
 * TTL, 57P05), which freed its lock. When the holder wakes and renews before its client has
 * read that news, the server's FATAL comes back as the renew's answer (through PgBouncer it
 * always does: PgBouncer passes it on only when the client speaks). That is the lost lease it
 * is, not a store failure (the postgres-pooler conformance flake of stop 31).
 */
const SHARED_URL = 'postgres://postgres@127.0.0.1:5432/test';
const TTL_MS = 1_000;
const schema = `pgi${randomUUID().replaceAll('-', '').slice(0, 8)}`;

describe('postgres: a renew after the server ended an idle session', () => {
  afterAll(async () => {
    const admin = new pg.Client({ connectionString: SHARED_URL });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  it('answers lost (renewed: false), not an error', async () => {
    const store = await createPostgresStore(new URL(SHARED_URL), { namespace: schema });
    try {
      const election = `idle-${randomUUID().slice(0, 8)}`;
      const claim = await store.tryAcquire({
        election,
        holder: 'alpha',
        token: randomUUID(),
        ttlMs: TTL_MS,
        metadata: {},
      });
      expect(claim.acquired).toBe(true);
      if (!claim.acquired) return;
      // Past the idle timeout, with a generous margin for a loaded host's server.
      freezeThread(TTL_MS + 1_500);
      expect(await store.renew(claim.lease)).toEqual({ renewed: false });
      expect(await store.renew(claim.lease)).toEqual({ renewed: false });
    } finally {
      await store.close();
    }
  });
});
