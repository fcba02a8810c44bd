import { RedisClusterSet } from '@leasehold/testkit';
import type { Round } from '../round.js';
import { frozenAcrossFailover, trioWithLeader, type Scenario } from './scenario.js';
import { outage } from './store-faults.js';

/**
 * Redis Cluster faults of the slot the election lives in, each on a cluster of the round's
 * own (three masters, a replica each): the slot moves to another master under a leader, its
 * replica takes over (`CLUSTER FAILOVER`), its master is killed after an acquire the replica
 * missed. A new master has another run id, so whoever acquires there waits out a TTL.
 */

async function ownCluster(round: Round): Promise<RedisClusterSet> {
  const set = await RedisClusterSet.start(round.lab.store, round.lab.storeAddress);
  round.onCleanup(() => set.close());
  return set;
}

/** A cluster of the round's own, three candidates, their leader just renewed, its slot. */
async function clusterWithLeader(round: Round) {
  const set = await ownCluster(round);
  const { leader } = await trioWithLeader(round, set.url);
  await round.renewed(leader);
  return { set, leader, slot: await set.slotOf(round.election) };
}

/** Between two keys of the slot moved: calls meet it half moved (TRYAGAIN) for a while. */
const PAUSE_PER_KEY_MS = 200;

export const clusterMigrate: Scenario = {
  name: 'cluster-migrate',
  summary: 'Redis Cluster: the election’s slot moves to another master, key by key, under a leader',
  backends: ['redis-cluster'],
  ttlMs: 6_000,
  // A leader whose renewals met the half-moved slot too long steps down; the next waits a TTL.
  extraFailoverMs: (timing) => timing.ttlMs,
  async run(round) {
    const { set, leader, slot } = await clusterWithLeader(round);
    const from = (await set.shardOf(slot)).master;
    const to = await set.otherMaster(slot);
    await round.fault('slot migrated', `slot ${slot}: ${from} → ${to}`, () =>
      set.migrate(slot, to, PAUSE_PER_KEY_MS),
    );
    await round.renewed(leader);
    await round.leader();
  },
};

export const clusterFailover: Scenario = {
  name: 'cluster-failover',
  summary: 'Redis Cluster: CLUSTER FAILOVER on the replica of the election’s slot’s master',
  backends: ['redis-cluster'],
  ttlMs: 6_000,
  extraFailoverMs: (timing) => timing.ttlMs,
  async run(round) {
    const { set, slot } = await clusterWithLeader(round);
    await set.waitUntilReplicated(slot);
    await outage(round, 'CLUSTER FAILOVER', async () => {
      await set.failover(slot);
    });
    await round.leader();
  },
};

/**
 * The master-kill twin of sentinel-failover: a clean handover reaches the replica; then the
 * replica is frozen and its link dropped (it misses what follows), the next candidate acquires on the master
 * only and is frozen right after a renewal; the master is killed, the replica thawed and
 * promoted by the cluster, where the election looks free. The old leader wakes inside its
 * deadline: whoever acquired on the promoted replica must not have led yet.
 */
export const clusterMasterKill: Scenario = {
  name: 'cluster-master-kill',
  summary: 'Redis Cluster: the slot’s master dies right after an acquire its replica missed',
  backends: ['redis-cluster'],
  ttlMs: 10_000,
  // cluster-node-timeout (1 s), the replica's election, the clients' next slot map.
  extraFailoverMs: () => 5_000,
  async run(round) {
    const set = await ownCluster(round);
    const store = { store: set.url };
    const slot = await set.slotOf(round.election);
    const first = await round.start('alpha', store);
    await round.leader({ after: 0 });
    await round.fault('SIGTERM', first.name, () => first.stop());
    await round.recorder.unwatch(first.name);
    await set.waitUntilReplicated(slot);
    const { master, replicas } = await set.shardOf(slot);
    const replica = set.node(replicas[0] ?? NaN);
    // Frozen, and its replication link dropped: what the kernel had buffered for it before
    // is all it will ever get from this master (a SIGSTOP alone would leave the link up).
    await round.fault('replication cut', `replica ${replica.port} frozen`, async () => {
      replica.pause();
      await set.node(master).cli('CLIENT', 'KILL', 'TYPE', 'replica');
    });
    const leader = await round.start('bravo', store);
    await round.leader({ except: [first] });
    await round.startAll(['charlie', 'delta'], store);
    await frozenAcrossFailover(round, leader, () =>
      outage(round, 'master killed, replica promoted', async () => {
        await set.node(master).kill();
        replica.resume();
        await set.waitForMaster(slot, replica.port);
      }),
    );
  },
};
