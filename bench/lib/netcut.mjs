// The leader's path to its store cut while it stays alive: the leader runs in a network
// namespace of its own (@leasehold/testkit's netlab), a private store in the lab's store host,
// the followers in the root namespace; nftables drops every packet between the leader's
// host and the store. Needs root, ip, nft; uses the prefix `lhpf`.
import { createNetLab, startLabStore, pause } from '@leasehold/testkit';
import { Pool, now } from './pool.mjs';
import { takeoverBound } from './failover.mjs';

/** A private store of `backend` in the lab's store host; resolves to its URL and a stop(). */
async function startStore(lab, backend) {
  const store = await startLabStore(lab, backend, { persistentRedis: false });
  return { url: store.url, stop: () => store.close() };
}

/**
 * One round per implementation: the leader's store path cut. `takeoverMs`: cut → another
 * candidate elected; `stepDownMs`: cut → the cut leader's own code stops answering that it
 * leads; `overlapMs`: how long both answered yes (0 when the old one stepped down first).
 */
export async function storePathCut({ backend, implementations, rounds, ttlMs, retryMs, log }) {
  const lab = createNetLab('lhpf');
  const results = {};
  let store = null;
  try {
    const host = lab.addHost('c1');
    store = await startStore(lab, backend);
    for (const implementation of implementations) {
      const samples = [];
      for (let round = 0; round < rounds; round += 1) {
        log(`  ${backend} ${implementation}: store path cut, round ${round + 1}/${rounds}`);
        const election = `cut-${Date.now().toString(36)}-${round}`;
        const pool = new Pool({ implementation, store: store.url, election, ttlMs, retryMs });
        try {
          samples.push(await cutRound(pool, host, ttlMs));
        } finally {
          host.healStore();
          await pool.destroy();
        }
      }
      results[implementation] = samples;
    }
  } finally {
    await store?.stop();
    lab.destroy();
  }
  return results;
}

async function cutRound(pool, host, ttlMs) {
  await pool.start('cut-leader', { wrap: host.wrap });
  const leader = await pool.currentLeader(takeoverBound(ttlMs));
  await pool.start('cut-f1');
  await pool.start('cut-f2');
  await pause(1_500);
  const next = pool
    .waitFor((e) => e.event === 'elected' && e.id !== leader, takeoverBound(ttlMs))
    .catch(() => null);
  const cutAt = now();
  host.cutStore();
  let stepDownAt = null;
  const watching = (async () => {
    while (now() - cutAt < takeoverBound(ttlMs)) {
      const answer = await pool.isLeader(leader);
      if (answer !== null && !answer.isLeader) {
        stepDownAt = answer.at;
        return;
      }
      await pause(5);
    }
  })();
  const elected = await next;
  await watching;
  const newAt = elected?.at ?? null;
  return {
    takeoverMs: newAt === null ? null : newAt - cutAt,
    stepDownMs: stepDownAt === null ? null : stepDownAt - cutAt,
    overlapMs: newAt === null ? 0 : stepDownAt === null ? null : Math.max(0, stepDownAt - newAt),
  };
}
