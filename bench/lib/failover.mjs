// Failover scenarios on a pool of candidates (./pool.mjs). Each returns its samples in ms;
// a sample is null when nobody took over within the scenario's bound.
import { pause } from '@leasehold/testkit';
import { now } from './pool.mjs';

/** How long a scenario waits for a takeover before it records "none". */
export const takeoverBound = (ttlMs) => 3 * ttlMs + 5_000;

async function orNull(promise) {
  try {
    return await promise;
  } catch {
    return null;
  }
}

/**
 * Start a candidate again, as a follower, once its old process has exited; then let a retry
 * interval or two pass (at random), so that the next round neither meets the newcomer's first
 * attempt in flight nor falls in step with the followers' polls.
 */
async function respawn(pool, id) {
  await pool.exited(id);
  await pool.start(id);
  await pause(pool.options.retryMs * (1 + Math.random()));
}

/** Kill (or stop) a leader's process and start its candidate again. */
async function restart(pool, id) {
  pool.signal(id, 'SIGCONT');
  pool.signal(id, 'SIGKILL');
  await respawn(pool, id);
}

/** SIGTERM the leader: time from its stop starting to another candidate's `elected`. */
export async function gracefulHandoff(pool, rounds, ttlMs) {
  const samples = [];
  for (let round = 0; round < rounds; round += 1) {
    const leader = await pool.currentLeader(takeoverBound(ttlMs));
    const next = orNull(
      pool.waitFor((e) => e.event === 'elected' && e.id !== leader, takeoverBound(ttlMs)),
    );
    const stopping = pool.waitFor((e) => e.event === 'stopping' && e.id === leader, 10_000);
    pool.signal(leader, 'SIGTERM');
    const [stop, elected] = await Promise.all([stopping, next]);
    samples.push(elected === null ? null : elected.at - stop.at);
    await respawn(pool, leader);
  }
  return { samples };
}

/**
 * SIGKILL the leader: time from the kill to another candidate's `elected`. With `observer`
 * (a leasehold store on the same namespace), also from the lease's expiry as the store
 * reports it right after the kill (`afterExpiryMs`; etcd reports whole seconds only).
 */
export async function crashTakeover(pool, rounds, ttlMs, observer = null) {
  const samples = [];
  const afterExpiry = [];
  for (let round = 0; round < rounds; round += 1) {
    const leader = await pool.currentLeader(takeoverBound(ttlMs));
    const next = orNull(
      pool.waitFor((e) => e.event === 'elected' && e.id !== leader, takeoverBound(ttlMs)),
    );
    const killedAt = now();
    pool.signal(leader, 'SIGKILL');
    const readAt = now();
    const record = observer === null ? null : await observer.read(pool.options.election);
    const elected = await next;
    samples.push(elected === null ? null : elected.at - killedAt);
    if (record?.remainingMs != null && elected !== null) {
      afterExpiry.push(elected.at - (readAt + record.remainingMs));
    }
    await respawn(pool, leader);
  }
  return { samples, afterExpiryMs: afterExpiry };
}

/**
 * SIGSTOP the leader past its TTL: time to another candidate's `elected`; then SIGCONT and
 * ask the resumed process, again and again, whether it leads: `staleMs` is how long after
 * SIGCONT it still answered yes (0: its first answer was no; null: it still did after 5 s).
 */
export async function freezeTakeover(pool, rounds, ttlMs) {
  const samples = [];
  const stale = [];
  for (let round = 0; round < rounds; round += 1) {
    const leader = await pool.currentLeader(takeoverBound(ttlMs));
    const next = orNull(
      pool.waitFor((e) => e.event === 'elected' && e.id !== leader, takeoverBound(ttlMs)),
    );
    const stoppedAt = now();
    pool.signal(leader, 'SIGSTOP');
    const elected = await next;
    samples.push(elected === null ? null : elected.at - stoppedAt);
    const resumeAt = Math.max(now(), stoppedAt + ttlMs + 500);
    await pause(resumeAt - now());
    pool.signal(leader, 'SIGCONT');
    const resumedAt = now();
    let lastYes = null;
    let staleMs = null;
    while (now() - resumedAt < 5_000) {
      const answer = await pool.isLeader(leader);
      if (answer === null) continue;
      if (!answer.isLeader) {
        staleMs = lastYes === null ? 0 : lastYes - resumedAt;
        break;
      }
      lastYes = answer.at;
      await pause(2);
    }
    stale.push(staleMs);
    await restart(pool, leader);
  }
  return { samples, staleMs: stale };
}

/**
 * 50 candidates in a few processes: stop the leader gracefully (by message, one candidate
 * of its process) and time the handoff; count the acquire attempts made between the stop and
 * the new leader's election, where the implementation reports them (polls included).
 */
export async function crowdHandoff(pool, rounds, ttlMs) {
  const samples = [];
  const attempts = [];
  for (let round = 0; round < rounds; round += 1) {
    const leader = await pool.currentLeader(takeoverBound(ttlMs));
    // Let the line settle after the last handoff (heartbeats list the members).
    await pause(ttlMs / 2 + Math.random() * pool.options.retryMs);
    const next = orNull(
      pool.waitFor((e) => e.event === 'elected' && e.id !== leader, takeoverBound(ttlMs)),
    );
    const stopping = pool.waitFor((e) => e.event === 'stopping' && e.id === leader, 10_000);
    const from = pool.events.length;
    pool.stop(leader);
    const [stop, elected] = await Promise.all([stopping, next]);
    samples.push(elected === null ? null : elected.at - stop.at);
    if (elected !== null) {
      const window = pool.events
        .slice(from)
        .filter((e) => e.event === 'attempt' && e.at >= stop.at && e.at <= elected.at);
      attempts.push(window.length);
    }
  }
  // Only implementations that report their attempts have a count.
  return { samples, attempts: pool.events.some((e) => e.event === 'attempt') ? attempts : [] };
}
