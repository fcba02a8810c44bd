export * from './clock.js';
export * from './errors.js';
export * from './store.js';
export * from './timing.js';
export * from './elector.js';
export type { TermHistorySnapshot, TermRegressionEvent } from './term-history.js';
export type { StoreHealth, StoreOperation, StoreRequestEvent } from './store-calls.js';
export type { MemberInfo } from './members.js';
export * from './names.js';
export { FOLLOWERS_WOKEN_ON_RELEASE, candidateOrder, type TurnFields } from './members.js';
export {
  candidateOrderKey,
  compareCandidates,
  isEligible,
  levelsAbove,
} from './candidate-order.js';
export { compareBytewise } from './key-fields.js';
export { compareVersions, parseSemVer, versionKey } from './version-order.js';
export type { DrainOutcome, SteeringOptions, SteeringState } from './steering.js';
export { handoffMs, transferReservationMs, type TransferOutcome } from './transfer.js';
export { HealthGate, type HealthGateOptions } from './health-gate.js';
export {
  MAX_SHARDS,
  ShardGroup,
  type OwnedShard,
  type ShardDeposedEvent,
  type ShardElectedEvent,
  type ShardGroupEvents,
  type ShardGroupOptions,
  type ShardGroupStatus,
  type ShardMoveEvent,
} from './shards.js';
export type { ShardBalanceOptions } from './shard-balancer.js';
export { fairShare, planMoves, surplus, type ShardMove, type ShardView } from './shard-plan.js';
export { SharedHeartbeat, type SharedHeartbeatOptions } from './shared-heartbeat.js';
