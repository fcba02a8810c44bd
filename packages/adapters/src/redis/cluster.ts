import { LeaseholdConfigError } from '@leasehold/core';
import { Cluster, type ClusterNode, type RedisOptions } from 'ioredis';

/**
 * Redis Cluster: `redis://[user[:password]@]host:port?cluster=true[&clusterNodes=h:p,h:p]`.
 * The URL's host and any `clusterNodes` are seed nodes; the client (`ioredis.Cluster`) asks
 * them for the slot map and sends every script to the master that owns its election's slot.
 */
export interface ClusterSeed {
  readonly host: string;
  readonly port: number;
}

/** The seed nodes a `?cluster=true` URL names, or null for a single server or Sentinel. */
export function clusterSeedsFromUrl(url: URL): ClusterSeed[] | null {
  const cluster = url.searchParams.get('cluster');
  const extra = url.searchParams.get('clusterNodes');
  if (cluster === null || cluster === 'false') {
    if (extra !== null) refuse('clusterNodes', extra, 'clusterNodes needs cluster=true');
    return null;
  }
  if (cluster !== 'true') refuse('cluster', cluster, 'use cluster=true or cluster=false');
  if (url.searchParams.has('sentinels')) {
    refuse('cluster', cluster, 'use either cluster=true or sentinels=…, not both');
  }
  const db = url.pathname.replace(/^\//, '');
  if (db !== '' && db !== '0') {
    throw new LeaseholdConfigError(
      'store database',
      db,
      'a Redis Cluster has database 0 only: use /0 or none',
    );
  }
  const first = { host: url.hostname || '127.0.0.1', port: url.port === '' ? 6379 : +url.port };
  return [first, ...(extra === null ? [] : extra.split(',').map(parseSeed))];
}

function parseSeed(entry: string): ClusterSeed {
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(entry.trim());
  if (match?.[1] === undefined || match[2] === undefined) {
    refuse('clusterNodes', entry, 'use host:port pairs separated by commas');
  }
  return { host: match[1], port: Number(match[2]) };
}

function refuse(parameter: string, value: string, accepted: string): never {
  throw new LeaseholdConfigError(`store parameter ${parameter}`, value, accepted);
}

/**
 * A cluster client that never resends a command whose outcome it does not know, and never
 * waits to resend one a node refused for now. It follows MOVED and ASK (the node did not run
 * the script; the slot is elsewhere), but TRYAGAIN (a slot mid-migration, the script's keys
 * split between two nodes), CLUSTERDOWN and a closed connection fail the call at once: a
 * renewal then counts as failed and the elector's deadline rule decides, as on any outage.
 */
class FailFastCluster extends Cluster {
  override handleError(
    error: Error,
    ttl: { value?: number },
    handlers: Record<string, (...args: unknown[]) => void>,
  ): void {
    if (/^(MOVED|ASK) /.test(error.message)) {
      super.handleError(error, ttl, handlers);
      return;
    }
    handlers.defaults?.();
  }
}

/** The cluster client, with the same safety settings as the single-server one. */
export function openCluster(seeds: readonly ClusterSeed[], nodeOptions: RedisOptions): Cluster {
  return new FailFastCluster(seeds as ClusterNode[], {
    redisOptions: nodeOptions,
    enableOfflineQueue: false,
    lazyConnect: true,
    scaleReads: 'master',
    // MOVED is followed at once; the slot map is refreshed after it.
    retryDelayOnMoved: 0,
    retryDelayOnFailover: 0,
    retryDelayOnClusterDown: 0,
    retryDelayOnTryAgain: 0,
    clusterRetryStrategy: (attempt: number) => Math.min(attempt * 100, 2_000),
    slotsRefreshTimeout: 2_000,
    // A failover the client has not seen yet shows as refused connections to the old
    // master: refresh the slot map every few seconds so it finds the new one by itself.
    slotsRefreshInterval: 2_000,
  });
}

/** A subscriber for release messages: classic PUBLISH reaches every node of a cluster. */
export function clusterSubscriber(cluster: Cluster): Cluster {
  return cluster.duplicate(undefined, {
    enableOfflineQueue: true,
    redisOptions: {
      ...cluster.options.redisOptions,
      maxRetriesPerRequest: null,
      commandTimeout: undefined,
    },
    lazyConnect: false,
  });
}

/**
 * The hash tag of a key (what Redis Cluster hashes instead of the whole key), or the key.
 * Every key one script touches must have the same: a script whose keys span two slots would
 * be refused on a cluster (CROSSSLOT), and would split an election across masters.
 */
export function hashTag(key: string): string {
  const open = key.indexOf('{');
  const close = open < 0 ? -1 : key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

export function assertOneSlot(keys: readonly string[]): void {
  const tags = new Set(keys.map(hashTag));
  if (tags.size > 1) {
    throw new Error(`leasehold bug: one script's keys span hash tags ${[...tags].join(', ')}`);
  }
}
