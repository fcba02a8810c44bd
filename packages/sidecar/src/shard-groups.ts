import { ShardGroup, type SharedHeartbeat, type LeaseStore } from '@leasehold/core';
import type { Logger } from 'pino';
import type { SidecarConfig } from './config/fields.js';
import { electionTimingOf } from './config/timing.js';
import { steeringOf } from './config/steering.js';

/**
 * The sidecar's shard groups (`shards:`, docs/shards.md): one ShardGroup (core) per entry,
 * on the sidecar's one store and its one heartbeat, with the top-level timing, priority and
 * steering. Each shard's elector is the unit of safety, as an election's is.
 */

export function makeShardGroups(
  store: LeaseStore,
  config: SidecarConfig,
  sharedHeartbeat: SharedHeartbeat | undefined,
  logger: Logger,
): ShardGroup[] {
  return (config.shards ?? []).map(({ name, count }) => {
    const group = new ShardGroup({
      ...(sharedHeartbeat === undefined ? {} : { sharedHeartbeat }),
      store,
      name,
      count,
      id: config.id,
      ...electionTimingOf(config),
      priority: config.priority,
      steering: steeringOf(config),
    });
    logShardGroup(group, logger.child({ shards: name, id: config.id }));
    return group;
  });
}

/** A line per shard won or lost and per move, naming the group and the shard. */
function logShardGroup(group: ShardGroup, log: Logger): void {
  group.on('elected', ({ shard, term }) =>
    log.info(
      { event: 'shard-elected', shard, term },
      `owns shard ${shard} of "${group.name}" (term ${term})`,
    ),
  );
  group.on('deposed', ({ shard, term, reason }) =>
    log.info(
      { event: 'shard-deposed', shard, term, reason },
      `no longer owns shard ${shard} of "${group.name}" (term ${term}): ${reason}`,
    ),
  );
  group.on('moved', ({ shard, to, outcome }) =>
    log.info(
      { event: 'shard-moved', shard, to, transferred: outcome.transferred },
      `handed shard ${shard} of "${group.name}" to ${to}: ${outcome.transferred ? 'transferred' : 'not transferred'}`,
    ),
  );
}
