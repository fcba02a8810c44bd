// A pg_try_advisory_lock polling loop, as a user would write it: try every retry interval on
// a session of its own; while it holds the lock, check the session every TTL / 3 (a query
// with a TTL timeout), and believe it leads until that check fails. The lock lives as long
// as the server keeps the session (../lib/candidate-host.mjs lockLoop).
import pg from 'pg';
import { createHash } from 'node:crypto';
import { hostCandidates, lockLoop } from '../lib/candidate-host.mjs';

await hostCandidates(async ({ store: url, election, ttlMs, retryMs, say }) => {
  const key = createHash('sha256').update(`lhpf-bench:${election}`).digest().readBigInt64BE();
  let client = null;
  const session = async () => {
    if (client === null) {
      const fresh = new pg.Client({ connectionString: url, query_timeout: ttlMs, keepAlive: true });
      fresh.on('error', () => {});
      await fresh.connect();
      client = fresh;
    }
    return client;
  };
  const dropSession = () => {
    client?.end().catch(() => {});
    client = null;
  };
  const loop = lockLoop({
    ttlMs,
    retryMs,
    say,
    tryLock: async () => {
      try {
        const { rows } = await (
          await session()
        ).query('SELECT pg_try_advisory_lock($1) AS ok', [key.toString()]);
        return rows[0].ok === true;
      } catch (error) {
        dropSession();
        throw error;
      }
    },
    renew: async () => {
      try {
        await (await session()).query('SELECT 1');
        return true;
      } catch {
        dropSession();
        return false;
      }
    },
    unlock: async () => {
      await client?.query('SELECT pg_advisory_unlock($1)', [key.toString()]).catch(() => {});
    },
  });
  return {
    isLeader: loop.isLeader,
    async stop() {
      await loop.stop();
      await client?.end().catch(() => {});
    },
  };
});
