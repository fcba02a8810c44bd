import { badInput } from './bad-input.js';
import { clockJump } from './clock-jump.js';
import { clusterFailover, clusterMasterKill, clusterMigrate } from './cluster-faults.js';
import { freezeJob, killTree, killWatchdog } from './command-faults.js';
import { cut, lateAnswers, stall } from './network-faults.js';
import { multi } from './multi-elections.js';
import { pgFailover } from './postgres-faults.js';
import { freeze, kill, many } from './process-faults.js';
import type { Scenario } from './scenario.js';
import {
  drain,
  transferCut,
  transferFreeze,
  transferKill,
  transferScenario,
} from './steering-faults.js';
import {
  etcdLeaderKill,
  etcdMemberCut,
  pgTerminate,
  redisEmpty,
  sentinelFailover,
  sentinelStaleLease,
  storeRestart,
} from './store-faults.js';
import { zooKeeperLeaderKill, zooKeeperMemberCut } from './zookeeper-faults.js';

export type { Scenario } from './scenario.js';

/** Every scenario, in the order a full run goes through them. */
export const SCENARIOS: readonly Scenario[] = [
  kill,
  freeze,
  killWatchdog,
  killTree,
  freezeJob,
  multi,
  cut,
  stall,
  lateAnswers,
  storeRestart,
  redisEmpty,
  pgTerminate,
  pgFailover,
  sentinelFailover,
  sentinelStaleLease,
  clusterMigrate,
  clusterFailover,
  clusterMasterKill,
  etcdLeaderKill,
  etcdMemberCut,
  zooKeeperLeaderKill,
  zooKeeperMemberCut,
  clockJump,
  transferScenario,
  transferKill,
  transferFreeze,
  transferCut,
  drain,
  many,
  badInput,
];
