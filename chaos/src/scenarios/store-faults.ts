import {
  EtcdCluster,
  type LabHost,
  pause,
  PgBouncerFront,
  PostgresServer,
  RedisClusterSet,
  RedisSentinelSet,
  RedisServer,
  SqliteFile,
  tool,
  until,
} from '@leasehold/testkit';
import type { Round } from '../round.js';
import {
  cutMemberOff,
  frozenAcrossFailover,
  killLeaderMember,
  leaderInLab,
  leaderSeenByFollowers,
  threePlaces,
  trioWithLeader,
  type Scenario,
} from './scenario.js';

/** Faults of the store itself: it crashes, forgets, fails over, loses a member. */

/** Run `work` as a fault during which nobody need lead; the bound grows by its length. */
export async function outage(round: Round, name: string, work: () => Promise<void>): Promise<void> {
  const start = round.recorder.time();
  await round.fault(name, null, work);
  round.allowOutage(round.recorder.time() - start);
}

export const storeRestart: Scenario = {
  name: 'store-restart',
  summary: 'the store crashes (SIGKILL / immediate stop) and restarts on its data',
  backends: ['redis', 'postgres', 'pgbouncer', 'etcd', 'zookeeper'],
  async run(round) {
    const { store } = round;
    if (store instanceof SqliteFile || store instanceof RedisClusterSet) {
      throw new Error('store-restart needs a single store server or ensemble');
    }
    const { leader } = await trioWithLeader(round);
    await round.renewed(leader);
    await outage(round, 'store restart', () => store.restart());
    await round.leader();
  },
};

/**
 * Redis restarts empty right after the leader renewed, while the leader's own path to it is
 * stalled: the others reconnect first and find no lease, the leader still believes in its
 * own. Whoever acquires now must wait out a TTL before it leads.
 */
export const redisEmpty: Scenario = {
  name: 'redis-empty',
  summary: 'Redis restarts empty (every lease and term lost) while the leader’s path is stalled',
  backends: ['redis'],
  async run(round) {
    const { store } = round;
    if (!(store instanceof RedisServer)) throw new Error('redis-empty needs Redis');
    const { leader, host } = await leaderInLab(round);
    // Right after a renew the leader believes in its lease longest: the worst moment.
    await round.renewed(leader);
    host.stallStore();
    round.mark('path stalled', leader.name);
    await outage(round, 'restart empty', () => store.restartEmpty());
    // The others are back on the empty server; the leader's renewals are still held.
    await pause(Math.floor(round.timing.ttlMs / 3));
    host.healStore();
    round.mark('healed');
    await round.leader();
  },
};

export const pgTerminate: Scenario = {
  name: 'pg-terminate',
  summary: 'the leader’s PostgreSQL session is ended with pg_terminate_backend',
  backends: ['postgres', 'pgbouncer'],
  async run(round) {
    const { store } = round;
    if (!(store instanceof PostgresServer || store instanceof PgBouncerFront)) {
      throw new Error('pg-terminate needs PostgreSQL');
    }
    const { leader } = await trioWithLeader(round);
    await round.renewed(leader);
    const ended = await round.fault('pg_terminate_backend', 'the advisory lock holder', () =>
      store.terminateLockHolders(),
    );
    // A candidate in the middle of a claim holds its own fresh lock for that moment too
    // (each claim draws a random lock id, docs/design.md), so more than one may be ended.
    round.check('the leader’s session was ended', ended >= 1, `${ended} sessions ended`);
    await round.leader();
  },
};

/** A Sentinel set of the round's own (a failover leaves it broken), and its replica's host. */
async function sentinelSet(round: Round): Promise<RedisSentinelSet> {
  const set = await RedisSentinelSet.start(
    round.lab.store,
    round.lab.storeAddress,
    round.host('rr'),
  );
  round.onCleanup(() => set.close());
  return set;
}

/** Kill the primary and wait until Sentinel has promoted the replica. */
async function failOver(round: Round, set: RedisSentinelSet): Promise<void> {
  await outage(round, 'primary killed, Sentinel fails over', async () => {
    await set.primary.kill();
    const replica = `${set.replicaHost.address}:`;
    await until(
      'Sentinel to promote the replica',
      30_000,
      async () => (await set.masterAddress()).startsWith(replica),
      100,
    );
  });
}

/**
 * Redis primary + replica + three Sentinels. The first leader hands over cleanly and the
 * replica gets that; then replication is cut, and the next candidate acquires on the
 * primary only: the write the replica never gets. That leader is frozen (a pause, a slow
 * VM) and the primary killed; Sentinel promotes the replica, where the election looks free.
 * The frozen leader wakes within its own deadline, still believing it leads: whoever
 * acquired on the promoted replica must not have led yet. The TTL is long enough for the
 * failover to finish inside it.
 */
export const sentinelFailover: Scenario = {
  name: 'sentinel-failover',
  summary: 'Redis + 3 Sentinels: the primary dies right after an acquire the replica missed',
  backends: ['redis'],
  ttlMs: 6_000,
  // Sentinel's down-after (1 s) and its vote.
  extraFailoverMs: () => 5_000,
  async run(round) {
    const set = await sentinelSet(round);
    const store = { store: set.url };
    const first = await round.start('alpha', store);
    await round.leader({ after: 0 });
    await round.fault('SIGTERM', first.name, () => first.stop());
    await round.recorder.unwatch(first.name);
    await set.waitUntilReplicated();
    await round.fault('replication cut', 'primary ↔ replica', () => set.replicaHost.cutStore());
    const leader = await round.start('bravo', store);
    await leaderSeenByFollowers(round, leader, first, store);
    await frozenAcrossFailover(round, leader, () => failOver(round, set));
  },
};

/**
 * The same set, but replication is cut before a clean handover: the promoted replica still
 * holds the first leader's lease, which the primary had deleted. That holder has stepped
 * down and never renews there, so followers must not report it (and its lower term) as
 * the leader again; the next acquisition waits and gets a higher term.
 */
export const sentinelStaleLease: Scenario = {
  name: 'sentinel-stale-lease',
  summary: 'Redis + 3 Sentinels: replication cut, a clean handover, the primary dies',
  backends: ['redis'],
  ttlMs: 6_000,
  extraFailoverMs: () => 5_000,
  async run(round) {
    const set = await sentinelSet(round);
    const { leader } = await trioWithLeader(round, set.url);
    await set.waitUntilReplicated();
    await round.fault('replication cut', 'primary ↔ replica', () => set.replicaHost.cutStore());
    await round.fault('SIGTERM', leader.name, () => leader.stop());
    await round.recorder.unwatch(leader.name);
    await round.leader({ except: [leader] });
    await failOver(round, set);
    await round.leader();
  },
};

/** Three etcd members in the store host, or the third in a lab host of its own. */
function threeMembers(round: Round, thirdHost?: LabHost): Promise<EtcdCluster> {
  const places = threePlaces(round, thirdHost);
  return EtcdCluster.start(places.map((place, index) => ({ name: `m${index + 1}`, ...place })));
}

export const etcdLeaderKill: Scenario = {
  name: 'etcd-leader-kill',
  summary: 'a 3-member etcd cluster loses its leader member (SIGKILL)',
  backends: ['etcd'],
  // etcd's own election (about a second) and the client moving to a live member.
  extraFailoverMs: () => 3_000,
  async run(round) {
    const cluster = await threeMembers(round);
    round.onCleanup(() => cluster.close());
    await trioWithLeader(round, cluster.url);
    const name = await cluster.leaderName();
    await killLeaderMember(round, 'etcd leader member SIGKILL', name, () =>
      cluster.member(name).process.kill(),
    );
  },
};

export const etcdMemberCut: Scenario = {
  name: 'etcd-member-cut',
  summary: 'a 3-member etcd cluster: its leader member is cut off; the election carries on',
  backends: ['etcd'],
  extraFailoverMs: () => 3_000,
  async run(round) {
    const host = round.host('e3');
    const cluster = await threeMembers(round, host);
    round.onCleanup(() => cluster.close());
    await trioWithLeader(round, cluster.url);
    await moveEtcdLeadership(cluster, 'm3');
    await cutMemberOff(round, host, 'etcd member cut', 'm3 (the leader member) ↔ m1, m2');
  },
};

/** Make `name` the cluster's leader member (etcdctl move-leader). */
async function moveEtcdLeadership(cluster: EtcdCluster, name: string): Promise<void> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', ETCDCTL_API: '3' };
  const current = cluster.member(await cluster.leaderName());
  if (current.placement.name === name) return;
  const members = await tool(
    'etcdctl',
    [`--endpoints=${current.clientUrl}`, 'member', 'list', '-w', 'simple'],
    { env },
  );
  const id = members
    .split('\n')
    .map((line) => line.split(',').map((field) => field.trim()))
    .find((fields) => fields[2] === name)?.[0];
  if (id === undefined) throw new Error(`etcd: no member named ${name}:\n${members}`);
  await tool('etcdctl', [`--endpoints=${current.clientUrl}`, 'move-leader', id], { env });
  await until(
    `${name} to lead the etcd cluster`,
    10_000,
    async () => (await cluster.leaderName()) === name,
    100,
  );
}
