// node-redlock (one Redis) in a renewal loop: take the lock every retry interval, extend it
// every TTL / 3 while held, unlock on a graceful stop (../lib/candidate-host.mjs lockLoop).
import { Redis } from 'ioredis';
import Redlock from 'redlock';
import { hostCandidates, lockLoop } from '../lib/candidate-host.mjs';

await hostCandidates(async ({ store: url, election, ttlMs, retryMs, say }) => {
  const client = new Redis(url);
  const redlock = new Redlock([client], { retryCount: 0 });
  redlock.on('clientError', () => {});
  const resource = `lhpf-bench-redlock:${election}`;
  let lock = null;
  const loop = lockLoop({
    ttlMs,
    retryMs,
    say,
    tryLock: async () => {
      lock = await redlock.lock(resource, ttlMs).catch(() => null);
      return lock !== null;
    },
    renew: async () => {
      lock = await lock.extend(ttlMs);
      return true;
    },
    unlock: async () => {
      await lock?.unlock().catch(() => {});
    },
  });
  return {
    isLeader: loop.isLeader,
    async stop() {
      await loop.stop();
      client.disconnect();
    },
  };
});
