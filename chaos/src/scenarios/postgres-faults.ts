import { pause, PostgresServer, tool } from '@leasehold/testkit';
import type { Round } from '../round.js';
import { freezeAfterRenewal, leaderSeenByFollowers, type Scenario } from './scenario.js';
import { outage } from './store-faults.js';

/**
 * PostgreSQL primary + streaming standby, both in the store host; the sidecars' URL is the
 * primary's address, which "moves" to the standby when it is promoted (a redirect in the
 * store host, as a virtual IP or a DNS name would move). The first leader hands over
 * cleanly and the standby replays that; then replication stops, and the next candidate
 * claims on the primary only. That leader is frozen right after a renewal and the primary's
 * machine lost (the server killed, the leader's path to it cut, so no reset tells it); the
 * standby is promoted, where the election looks released. The frozen leader
 * wakes within its own deadline, still believing it leads: whoever claims on the promoted
 * server must not have led yet (the claim finds a row of another WAL timeline and waits a
 * TTL). The TTL is long enough for the failover to finish inside it.
 */
export const pgFailover: Scenario = {
  name: 'pg-failover',
  summary: 'PostgreSQL + standby: the primary dies after a claim the standby missed',
  backends: ['postgres'],
  ttlMs: 6_000,
  async run(round) {
    const { primary, standby } = await primaryAndStandby(round);
    const store = { store: primary.url };
    const first = await round.start('alpha', store);
    await round.leader({ after: 0 });
    await round.fault('SIGTERM', first.name, () => first.stop());
    await round.recorder.unwatch(first.name);
    await standby.caughtUpWith(primary);
    await round.fault('replication stopped', 'primary → standby', () => standby.stopReplication());
    // In a lab host of its own: when the primary's machine goes, its connections go silent.
    const host = round.host('v');
    const leader = await round.start('bravo', { ...store, host });
    await leaderSeenByFollowers(round, leader, first, store);
    const frozenAt = await freezeAfterRenewal(round, leader);
    await outage(round, 'primary killed, standby promoted', async () => {
      // The primary's machine vanishes: no reset reaches the frozen leader's connections.
      host.cutStore();
      await primary.crash();
      await standby.promote();
      await redirect(round, primary.port, standby.port);
    });
    // Time for the others to reconnect and claim; then wake the old leader well inside its
    // deadline.
    const wakeAt = Math.min(round.recorder.time() + 1_500, frozenAt + round.timing.ttlMs * 0.75);
    await pause(wakeAt - round.recorder.time());
    leader.thaw();
    round.mark('SIGCONT', leader.name);
    await round.leader();
  },
};

/** A primary and its standby of the round's own (a failover leaves them changed). */
async function primaryAndStandby(
  round: Round,
): Promise<{ primary: PostgresServer; standby: PostgresServer }> {
  const { store, storeAddress } = round.lab;
  const primary = await PostgresServer.start({
    wrap: store.wrap,
    address: storeAddress,
    open: true,
  });
  round.onCleanup(() => primary.close());
  const standby = await primary.startStandby();
  round.onCleanup(() => standby.close());
  return { primary, standby };
}

/**
 * Connections to the store host's port `from` reach port `to` from now on: the primary's
 * address moves to the promoted standby. Removed when the round ends.
 */
async function redirect(round: Round, from: number, to: number): Promise<void> {
  const table = `lhmove${from}`;
  const nft = (commands: string): Promise<string> =>
    tool('ip', ['netns', 'exec', round.lab.store.namespace, 'nft', commands]);
  round.onCleanup(async () => {
    await nft(`delete table ip ${table}`);
  });
  await nft(
    `add table ip ${table}; ` +
      `add chain ip ${table} moved { type nat hook prerouting priority -100 ; }; ` +
      `add rule ip ${table} moved tcp dport ${from} redirect to :${to}`,
  );
}
