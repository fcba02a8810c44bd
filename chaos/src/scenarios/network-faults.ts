import { type LabHost, pause } from '@leasehold/testkit';
import type { Round } from '../round.js';
import type { Sidecar } from '../sidecars.js';
import { leaderInLab, type Scenario } from './scenario.js';

/**
 * The leader's own path to its store breaks while it stays alive and keeps answering its
 * app: it runs in a lab host of its own, the others in the root namespace.
 */

const SERVER_BACKENDS = ['redis', 'postgres', 'pgbouncer', 'etcd', 'zookeeper'] as const;

/**
 * The victim kept answering its app all through `from`..now (it is alive, only cut off). A
 * request that went unanswered while a request to another sidecar, not cut off, went
 * unanswered too does not count: the whole host stalled then, not the victim (seen in a CI
 * rehearsal on 2026-12-07: at the moment of the cut, a request to the victim and one to a
 * follower in the root namespace both timed out, 440 and 720 ms).
 */
function checkKeptAnswering(round: Round, leader: Sidecar, from: number): void {
  const { answers } = round.recorder.recorded();
  const failedAfter = answers.filter((a) => a.sentAt >= from && a.error !== null);
  const othersFailed = failedAfter.filter((a) => a.sidecar !== leader.name);
  const overlapsOther = (a: (typeof answers)[number]): boolean =>
    othersFailed.some((o) => o.sentAt <= a.receivedAt && a.sentAt <= o.receivedAt);
  const victimFailed = failedAfter.filter((a) => a.sidecar === leader.name);
  const failed = victimFailed.filter((a) => !overlapsOther(a));
  const excused = victimFailed.length - failed.length;
  const whileHostStalled = excused === 0 ? '' : `; ${excused} more while the host stalled`;
  round.check(
    'the cut-off leader kept answering',
    failed.length === 0,
    failed.length === 0
      ? `every request answered${whileHostStalled}`
      : `${failed.length} requests unanswered, first: ${failed[0]?.error ?? ''}${whileHostStalled}`,
  );
}

/** Break the path (`name`), wait until another leads and a TTL more, heal. */
async function breakUntilReplaced(
  round: Round,
  name: string,
  breakPath: (host: LabHost) => void,
): Promise<void> {
  const { leader, host } = await leaderInLab(round);
  const from = round.recorder.time();
  await round.fault(name, `${leader.name} ↔ store`, async () => {
    breakPath(host);
    await round.leader({ except: [leader] });
    await pause(round.timing.ttlMs);
  });
  host.healStore();
  round.mark('healed');
  checkKeptAnswering(round, leader, from);
  // Held packets arrive now, late: a stale renew must not give the old leader anything.
  await pause(round.timing.ttlMs);
}

export const cut: Scenario = {
  name: 'cut',
  summary: 'the leader’s path to the store is cut (nftables drop) while it stays alive',
  backends: SERVER_BACKENDS,
  run: (round) => breakUntilReplaced(round, 'path cut', (host) => host.cutStore()),
};

export const stall: Scenario = {
  name: 'stall',
  summary: 'the leader’s path to the store is stalled (tc holds packets, delivers them late)',
  backends: SERVER_BACKENDS,
  run: (round) => breakUntilReplaced(round, 'path stalled', (host) => host.stallStore()),
};

/**
 * A renew reaches the store, its answer is held for half a renew interval, then every
 * further request is dropped and the held answer delivered: the lease at the store runs
 * from the renew's arrival, so a leader that counted its deadline from the answer instead
 * of the request would lead past the store's expiry, into its successor's term.
 */
export const lateAnswers: Scenario = {
  name: 'late-answers',
  summary:
    'a renew’s answer arrives late, then the leader is cut off: its deadline must count from the send',
  backends: SERVER_BACKENDS,
  async run(round) {
    const { leader, host } = await leaderInLab(round);
    const renewMs = Math.floor(round.timing.ttlMs / 3);
    await round.renewed(leader);
    await round.fault('answers held', `store → ${leader.name}`, async () => {
      host.breakStore({ toStore: 'pass', fromStore: 'hold' });
      // The next renew goes out about one interval after the one just seen; hold its answer
      // for about half an interval (well inside the elector's wait for it).
      await pause(renewMs * 1.5);
    });
    await round.fault('requests dropped', `${leader.name} → store`, async () => {
      host.breakStore({ toStore: 'drop', fromStore: 'pass' });
      await round.leader({ except: [leader] });
      await pause(round.timing.ttlMs);
    });
    host.healStore();
    round.mark('healed');
  },
};
