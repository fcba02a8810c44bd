import type {
  BatchStore,
  BeatAnswer,
  BeatRequest,
  LeaseStore,
  MemberStore,
  StoreOperation,
  TransferStore,
} from '@leasehold/core';

/**
 * The sidecar's store, timing every request it sends, once per request: the metrics'
 * `leasehold_store_request_duration_seconds` and `leasehold_store_errors_total`
 * (http/metrics.ts). Measured here rather than from each elector's `store-request` event
 * because the sidecar's elections share one store and one heartbeat: a batched renewal of
 * a thousand leases is ONE request, which the electors would report a thousand times, each
 * under its election's label (57,073 series at 1,000 elections; docs/design.md §3.8).
 * Operations keep the elector's names: a batched renewal is a `renew`, a batch of member
 * heartbeats a `member`, a batch of followers' reads a `read`, a hand-over a `release` and a
 * reservation's read a `read`; a tick's one request (`batch.beat`) once, as measuredBeat says.
 */

export interface StoreRequest {
  readonly op: StoreOperation;
  readonly durationMs: number;
  /** Null when answered; the rejection otherwise. */
  readonly error: unknown;
}

/** Whoever wants to see the requests subscribes; the metrics do. */
export interface StoreRequests {
  onRequest(listener: (request: StoreRequest) => void): void;
}

export type MeasuredStore = LeaseStore & { readonly requests: StoreRequests };

export function measureStore(store: LeaseStore): MeasuredStore {
  const listeners: ((request: StoreRequest) => void)[] = [];
  const timed =
    <A extends unknown[], T>(op: StoreOperation, call: (...args: A) => Promise<T>) =>
    async (...args: A): Promise<T> => {
      const startedAt = performance.now();
      const report = (error: unknown): void => {
        const request = { op, durationMs: performance.now() - startedAt, error };
        for (const listener of listeners) listener(request);
      };
      try {
        const answer = await call(...args);
        report(null);
        return answer;
      } catch (error) {
        report(error);
        throw error;
      }
    };
  return {
    backend: store.backend,
    tryAcquire: timed('acquire', (request) => store.tryAcquire(request)),
    renew: timed('renew', (lease) => store.renew(lease)),
    release: timed('release', (lease) => store.release(lease)),
    read: timed('read', (election) => store.read(election)),
    ...(store.watch === undefined ? {} : { watch: store.watch.bind(store) }),
    ...(store.watching === undefined ? {} : { watching: store.watching.bind(store) }),
    ...optional('members', store.members, (members) => measuredMembers(members, timed)),
    ...optional('transfer', store.transfer, (transfer) => measuredTransfer(transfer, timed)),
    ...optional('batch', store.batch, (batch) => measuredBatch(batch, timed)),
    close: () => store.close(),
    requests: { onRequest: (listener) => listeners.push(listener) },
  };
}

type Timed = <A extends unknown[], T>(
  op: StoreOperation,
  call: (...args: A) => Promise<T>,
) => (...args: A) => Promise<T>;

/** `{ [key]: wrap(part) }` when the store has the part, `{}` otherwise (exactOptionalPropertyTypes). */
function optional<K extends string, P, W>(
  key: K,
  part: P | undefined,
  wrap: (part: P) => W,
): Partial<Record<K, W>> {
  return part === undefined ? {} : ({ [key]: wrap(part) } as Record<K, W>);
}

function measuredMembers(members: MemberStore, timed: Timed): MemberStore {
  return {
    put: timed('member', (election, member, ttlMs) => members.put(election, member, ttlMs)),
    list: timed('member', (election) => members.list(election)),
    remove: timed('member', (election, id) => members.remove(election, id)),
  };
}

function measuredTransfer(transfer: TransferStore, timed: Timed): TransferStore {
  return {
    handOver: timed('release', (lease, successor, reservationMs) =>
      transfer.handOver(lease, successor, reservationMs),
    ),
    reservation: timed('read', (election) => transfer.reservation(election)),
  };
}

function measuredBatch(batch: BatchStore, timed: Timed): BatchStore {
  return {
    renewMany: timed('renew', (leases) => batch.renewMany(leases)),
    ...optional('putMembers', batch.putMembers, (put) => timed('member', put.bind(batch))),
    ...optional('readMany', batch.readMany, (read) => timed('read', read.bind(batch))),
    ...optional('claimMany', batch.claimMany, (claim) => timed('acquire', claim.bind(batch))),
    ...optional('beat', batch.beat, () => measuredBeat(batch, timed)),
    ...batchLimits(batch),
  };
}

const BATCH_LIMITS = ['maxLeases', 'maxReads', 'maxClaims', 'maxBeat'] as const;
type BatchLimits = Pick<BatchStore, (typeof BATCH_LIMITS)[number]>;

/** The store's own request-size limits, passed on unchanged: the heartbeat splits by them. */
function batchLimits(batch: BatchStore): BatchLimits {
  const limits: { -readonly [K in keyof BatchLimits]?: number } = {};
  for (const key of BATCH_LIMITS) {
    const limit = batch[key];
    if (limit !== undefined) limits[key] = limit;
  }
  return limits;
}

/**
 * A tick's one request (`batch.beat`), counted once under the operation of what it carries
 * first: a `renew` when it renews (a leader's tick), a `member` when it only writes records
 * and reads (a follower's), a `read` when it only reads.
 */
function measuredBeat(
  batch: BatchStore,
  timed: Timed,
): (request: BeatRequest) => Promise<BeatAnswer> {
  const send = (request: BeatRequest): Promise<BeatAnswer> =>
    batch.beat?.(request) ?? Promise.reject(new Error('the store no longer offers batch.beat'));
  const asRenew = timed('renew', send);
  const asMember = timed('member', send);
  const asRead = timed('read', send);
  return (request) =>
    request.renewals.length > 0
      ? asRenew(request)
      : request.puts.length > 0
        ? asMember(request)
        : asRead(request);
}
