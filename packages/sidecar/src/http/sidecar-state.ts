import type { Elector, ResignOutcome, ShardGroup } from '@leasehold/core';
import type { Logger } from 'pino';
import type { CommandStatus } from '../run/command-backoff.js';
import { LeadershipHistory } from './history.js';
import { DEFAULT_LIMITS, type ListenerLimits } from './limits.js';
import type { StoreRequests } from '../measured-store.js';
import { createMetrics, type Metrics } from './metrics.js';
import { Subscribers } from './subscribers.js';

/**
 * The HTTP API's composition root: everything its routes read that lives as long as the
 * process, made once, before the elector starts, and passed to both the fast path and the
 * Fastify routes. Nothing the routes show may be created where they are built: Fastify
 * loads on the first request that needs it (listener.ts), and state made there would miss
 * every change before it (the empty /v1/history of issue 21).
 */
export interface SidecarState {
  /** The election these fields are of: the first one, in the state the listener is given. */
  readonly elector: Elector;
  readonly logger: Logger;
  /** Every election's series, each with its `election` label. */
  readonly metrics: Metrics;
  /** The changes GET /v1/history and the status page show, since the elector was made. */
  readonly history: LeadershipHistory;
  /** Long-polls of GET /v1/leader, behind one listener per elector event and capped. */
  readonly longPolls: Subscribers;
  /** Event streams of GET /v1/events, likewise. */
  readonly eventStreams: Subscribers;
  /**
   * `leasehold run`: this election's command's status (GET /v1/command); absent in a plain
   * sidecar and for an election without a job.
   */
  readonly command: (() => CommandStatus) | undefined;
  readonly admin: AdminPolicy;
  readonly limits: ListenerLimits;
  /** Longest `?wait=` a long-poll may ask for. */
  readonly maxWaitMs: number;
  /**
   * Every election of the sidecar by name, in configuration order, the first included: each
   * a state like this one whose election fields (elector, history, subscribers, resign) are
   * that election's, and whose sidecar-wide fields are shared. The routes under
   * /v1/elections/{name} read it (route-table.ts).
   */
  readonly elections: ReadonlyMap<string, SidecarState>;
  /** The sidecar's shard groups by name (GET /v1/shards), in configuration order. */
  readonly shards: ReadonlyMap<string, ShardGroup>;
  /** Event streams of GET /v1/shards/{name}/events, by group, each capped as eventStreams. */
  readonly shardStreams: ReadonlyMap<string, Subscribers<'owned'>>;
}

/** Who may call the admin routes (POST /v1/resign) and what resign does. */
export interface AdminPolicy {
  /** Bearer token of the admin routes; they are disabled without one. */
  readonly token: string | undefined;
  /** Why the admin routes are off although a token is set (the 403's message). */
  readonly disabledReason: string | undefined;
  /** `elector.resign()`, unless `leasehold run` stops its command first. */
  readonly resign: () => Promise<ResignOutcome>;
}

export interface SidecarStateOptions {
  /** The first election's: the one the unprefixed routes answer for. */
  readonly elector: Elector;
  /**
   * Every election's elector, in configuration order (`elector` first; it is added when
   * missing). One election by default.
   */
  readonly electors?: readonly Elector[] | undefined;
  readonly logger: Logger;
  readonly adminToken: string | undefined;
  /** What POST /v1/resign does for the first election; `elector.resignWithOutcome()` by default. */
  readonly resign?: (() => Promise<ResignOutcome>) | undefined;
  /** Why resign is off although a token is set (a non-loopback bind without TLS: sidecar.ts). */
  readonly resignDisabledReason?: string | undefined;
  readonly command?: (() => CommandStatus) | undefined;
  /**
   * `leasehold run` with several jobs: each job's resign and status, by its election's name
   * (the first election's may come as `resign` and `command` instead).
   */
  readonly jobs?: ReadonlyMap<string, JobControls> | undefined;
  /** Connection, stream and long-poll limits (limits.ts); defaults otherwise. */
  readonly limits?: Partial<ListenerLimits>;
  readonly maxWaitMs?: number;
  /** The shard groups (`shards:`), none by default. */
  readonly shardGroups?: readonly ShardGroup[];
  /** The sidecar's store requests, for the metrics (measured-store.ts); none by default. */
  readonly storeRequests?: StoreRequests;
}

/** What a job of `leasehold run` adds to its election's routes. */
export interface JobControls {
  /** POST /v1/resign: stop the job first, then resign. */
  readonly resign?: (() => Promise<ResignOutcome>) | undefined;
  readonly status?: (() => CommandStatus) | undefined;
}

const MAX_WAIT_MS = 5 * 60_000;

/** Make the state; call it once, before any elector starts. */
export function createSidecarState(options: SidecarStateOptions): SidecarState {
  const { elector } = options;
  const electors = [elector, ...(options.electors ?? []).filter((e) => e !== elector)];
  const limits: ListenerLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const elections = new Map<string, SidecarState>();
  const jobs = jobsByElection(options, elector);
  const commands = new Map(
    [...jobs].flatMap(([name, job]) => (job.status === undefined ? [] : [[name, job.status]])),
  );
  const groups = options.shardGroups ?? [];
  const shared = {
    logger: options.logger,
    metrics: createMetrics(electors, commands, groups, options.storeRequests),
    limits,
    maxWaitMs: options.maxWaitMs ?? MAX_WAIT_MS,
    elections,
    shards: new Map(groups.map((group) => [group.name, group])),
    shardStreams: new Map(
      groups.map((group) => [
        group.name,
        new Subscribers(group, ['owned'] as const, limits.maxEventStreams),
      ]),
    ),
  };
  const admin = (resign: () => Promise<ResignOutcome>): AdminPolicy => ({
    token: options.adminToken,
    disabledReason: options.resignDisabledReason,
    resign,
  });
  for (const each of electors) {
    const job = jobs.get(each.election);
    elections.set(each.election, {
      ...shared,
      ...electionParts(each, limits),
      command: job?.status,
      admin: admin(job?.resign ?? (() => each.resignWithOutcome())),
    });
  }
  const first = elections.get(elector.election);
  if (first === undefined) throw new Error('the first election has no state');
  return first;
}

/** Each job's controls by election, the first election's `resign` and `command` among them. */
function jobsByElection(
  options: SidecarStateOptions,
  first: Elector,
): ReadonlyMap<string, JobControls> {
  const jobs = new Map(options.jobs ?? []);
  if (options.resign !== undefined || options.command !== undefined) {
    jobs.set(first.election, {
      resign: options.resign ?? jobs.get(first.election)?.resign,
      status: options.command ?? jobs.get(first.election)?.status,
    });
  }
  return jobs;
}

/** What one election's routes read and nothing else does. */
function electionParts(elector: Elector, limits: ListenerLimits) {
  return {
    elector,
    history: new LeadershipHistory(elector),
    longPolls: new Subscribers(elector, ['leader', 'elected', 'deposed'], limits.maxLongPolls),
    eventStreams: new Subscribers(
      elector,
      ['leader', 'elected', 'deposed', 'store-health'],
      limits.maxEventStreams,
    ),
  };
}
