import { type LabHost, ZooKeeperEnsemble } from '@leasehold/testkit';
import type { Round } from '../round.js';
import {
  cutMemberOff,
  killLeaderMember,
  threePlaces,
  trioWithLeader,
  type Scenario,
} from './scenario.js';

/** A three-member ZooKeeper ensemble of the round's own, the third member in `thirdHost`. */
async function ensemble(round: Round, thirdHost?: LabHost): Promise<ZooKeeperEnsemble> {
  const started = await ZooKeeperEnsemble.start(threePlaces(round, thirdHost));
  round.onCleanup(() => started.close());
  return started;
}

export const zooKeeperLeaderKill: Scenario = {
  name: 'zk-leader-kill',
  summary: 'a 3-member ZooKeeper ensemble loses its leader member (SIGKILL)',
  backends: ['zookeeper'],
  // The ensemble's own election, and clients moving their sessions to a live member.
  extraFailoverMs: () => 3_000,
  async run(round) {
    const zk = await ensemble(round);
    await trioWithLeader(round, zk.url);
    const member = await zk.leader();
    await killLeaderMember(round, 'ZooKeeper leader member SIGKILL', member.name, () =>
      member.process.kill(),
    );
  },
};

export const zooKeeperMemberCut: Scenario = {
  name: 'zk-member-cut',
  summary:
    'a 3-member ZooKeeper ensemble: one member (usually its leader) is cut off from the other two',
  backends: ['zookeeper'],
  extraFailoverMs: () => 3_000,
  async run(round) {
    const host = round.host('z3');
    const zk = await ensemble(round, host);
    await trioWithLeader(round, zk.url);
    // With equal data, ZooKeeper's first election picks the highest id: z3, the one we cut.
    const third = zk.members[2];
    if (third === undefined) throw new Error('an ensemble of three has a third member');
    const role = (await third.mode()) ?? 'unknown';
    await cutMemberOff(round, host, 'ZooKeeper member cut', `${third.name} (${role}) ↔ z1, z2`);
  },
};
