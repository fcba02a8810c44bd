/**
 * The store contract. Every backend (Redis, PostgreSQL, etcd, ZooKeeper, SQLite; the memory
 * store of `@leasehold/core/testing` for the elector's own tests) implements it and passes
 * the conformance suite in `@leasehold/conformance`. The adapters live in
 * `packages/adapters/src/<backend>/`, one file per part (docs/adding-a-store.md); the elector
 * is the only caller, through `store-calls.ts`, which bounds every call by the store timeout.
 *
 * Errors: a store throws `StoreUnavailableError` (or any error that is not a fatal
 * `LeaseholdError`) for transient trouble: the elector retries with backoff. It throws
 * `StoreAuthError` / `StoreProtocolError` / `StorePoolerError` / `LeaseholdConfigError` for
 * trouble that retrying cannot fix, and `StoreClosedError` for calls after `close()`.
 * Losing the lease is not an error: `renew` answers `{ renewed: false }`.
 */

/** Free-form, small, string-only metadata a holder publishes with its lease. */
export type LeaseMetadata = Readonly<Record<string, string>>;

export interface AcquireRequest {
  readonly election: string;
  /** Id of the candidate asking (the sidecar's `--id`). */
  readonly holder: string;
  /** Random per acquisition; every later write is conditional on it. */
  readonly token: string;
  /** Requested time to live. A store may grant a different one and says so in the lease. */
  readonly ttlMs: number;
  readonly metadata?: LeaseMetadata;
}

/** A lease this process holds. Treat it as opaque apart from the documented fields. */
export interface Lease {
  readonly election: string;
  readonly holder: string;
  readonly token: string;
  /**
   * Fencing term: strictly greater than the term of every earlier acquisition of this
   * election on this store, across releases, expiries and store restarts.
   */
  readonly term: number;
  /** TTL the store actually granted (etcd rounds up to whole seconds, for example). */
  readonly ttlMs: number;
  /**
   * How long after the acquire *answer arrived* the holder must wait before it reports
   * leadership, because the store may have forgotten a previous holder whose lease could
   * still be running (docs/design.md §3.3). 0 when the previous holder released cleanly or its
   * lease is known to have expired.
   */
  readonly notBeforeMs: number;
  /**
   * Store-private state the adapter needs to renew or release (an etcd lease id, say).
   * Never logged.
   */
  readonly handle?: unknown;
}

/** What a store knows about the current holder of an election. */
export interface LeaseRecord {
  readonly election: string;
  readonly holder: string;
  readonly term: number;
  readonly metadata: LeaseMetadata;
  /** Remaining time to live as the store saw it when answering, or null if unknown. */
  readonly remainingMs: number | null;
}

/**
 * A candidate's presence record (docs/design.md §3.5), heartbeated with the lease TTL so that
 * `GET /v1/members` lists live candidates and priorities can be honoured.
 */
export interface MemberRecord {
  readonly id: string;
  /** Higher wins when the lock is free. */
  readonly priority: number;
  /** Wall-clock ms when the candidate started. */
  readonly startedAt: number;
  /** Wall-clock ms of the writer when it sent this heartbeat. */
  readonly heartbeatAt: number;
  /** Whether the writer led when it sent this heartbeat (informational). */
  readonly isLeader: boolean;
  readonly metadata: LeaseMetadata;
  /**
   * An operator drained this candidate: it does not campaign and ranks last (docs/design.md
   * §3.6). The three steering fields are absent from a record an older version wrote, which
   * reads as: not drained, health unknown, no version.
   */
  readonly drained?: boolean;
  /** What its app's health checks say; 'unhealthy' ranks last. */
  readonly health?: MemberHealth;
  /** The app's version (free text, compared as semver when it parses); null: none given. */
  readonly version?: string | null;
}

/** A candidate's app health as its health gate decided it (docs/design.md §3.6). */
export type MemberHealth = 'healthy' | 'unhealthy' | 'unknown';

export type AcquireResult =
  | { readonly acquired: true; readonly lease: Lease }
  | {
      readonly acquired: false;
      /** Who holds it now, when the store could tell in the same round trip. */
      readonly current: LeaseRecord | null;
      /**
       * When it is worth trying again (the holder's remaining TTL), or null when the store
       * cannot say. The elector tries then even without a watch event. While a reservation
       * holds (`reservedFor`), the reservation's remaining time.
       */
      readonly retryAfterMs: number | null;
      /**
       * Set when the lock is free but reserved by a transfer for another candidate
       * (`TransferStore.handOver`): only that candidate, or the holder that handed over, may
       * claim until the reservation lapses. `current` is null then.
       */
      readonly reservedFor?: string;
    };

export type RenewResult =
  | { readonly renewed: true; /** TTL granted by this renewal. */ readonly ttlMs: number }
  /** Definitive: the lease is gone or belongs to someone else. */
  | { readonly renewed: false };

/** A store's member records: all three operations, or none (`LeaseStore.members`). */
export interface MemberStore {
  /** Write this candidate's record, live for `ttlMs` by the store's clock. */
  put(election: string, member: MemberRecord, ttlMs: number): Promise<void>;
  /** The records that have not expired. */
  list(election: string): Promise<MemberRecord[]>;
  /** Remove one record (on clean shutdown). */
  remove(election: string, id: string): Promise<void>;
}

/**
 * A reservation written by `TransferStore.handOver`: until it lapses, only `successor` (and
 * `from`, the holder that handed over, so that it can take back a failed transfer) may
 * claim the election.
 */
export interface Reservation {
  readonly successor: string;
  readonly from: string;
  /** Remaining time, by the store's clock, when it answered. */
  readonly remainingMs: number;
}

/**
 * Transfers (docs/design.md §3.6), optional: both operations, or none (`LeaseStore.transfer`).
 * A store without them answers a transfer with LEASEHOLD_E_TRANSFER_UNSUPPORTED.
 */
export interface TransferStore {
  /**
   * In ONE atomic step: if `lease.token` still holds the election, delete the lease (a clean
   * release, as `release` records it) and write a reservation for `successor` lasting
   * `reservationMs` by the store's clock from when it applies the step. Answers false, and
   * changes nothing, when the token no longer holds the election. While the reservation
   * holds, `tryAcquire` by any holder other than `successor` or `lease.holder` is refused
   * with `reservedFor`; a granted claim is an ordinary one (new token, higher term, no
   * `notBeforeMs`) and removes the reservation; a reservation that lapses changes nothing.
   * Wakes watchers as a release does, the successor at least.
   */
  handOver(lease: Lease, successor: string, reservationMs: number): Promise<boolean>;
  /** The election's live reservation, or null (none, lapsed, or consumed by a claim). */
  reservation(election: string): Promise<Reservation | null>;
}

/**
 * Renewals of many leases in one round trip (docs/design.md §3.8), optional
 * (`LeaseStore.batch`): the shared heartbeat of a sidecar that runs many elections on one
 * store sends every due renewal together.
 */
export interface BatchStore {
  /**
   * Renew every lease, each exactly as `renew` would (conditional on its own token, its own
   * TTL, terms unchanged), in one request where the backend allows. Answers one result per
   * lease, in the order given: one lease lost does not fail the others. A rejection (or a
   * timeout) fails the whole batch, which the elector counts as a failed renewal of each.
   * Leases of different elections only; an empty list answers [] without a request.
   */
  renewMany(leases: readonly Lease[]): Promise<RenewResult[]>;
  /** Most leases (or member records) one request may carry; more are split. */
  readonly maxLeases?: number;
  /**
   * Member heartbeats of many elections in one request, optional: write each record as
   * `members.put` would, then answer, for each put in the order given, its election's live
   * records (the one just written included) as `members.list` would. One record per
   * election; a rejection fails every put in it.
   */
  putMembers?(puts: readonly MemberPut[]): Promise<MemberRecord[][]>;
  /**
   * Reads of many elections in one request, optional (docs/design.md §3.8, "Followers read
   * in batches"): answers, for each election in the order given, what `read` would (the
   * current holder's record with its `remainingMs`, or null when the lock is free). A
   * rejection fails every read in it. Distinct elections only; an empty list answers []
   * without a request. Reads grant nothing: only a claim takes a lease.
   */
  readMany?(elections: readonly string[]): Promise<(LeaseRecord | null)[]>;
  /** Most elections one `readMany` request may carry (default 1,000); more are split. */
  readonly maxReads?: number;
  /**
   * One tick of the shared heartbeat in ONE request, optional (docs/design.md §3.8,
   * "One request per tick"): the renewals, member heartbeats and followers' reads gathered
   * at one tick, each done and answered exactly as `renewMany`, `putMembers` and `readMany`
   * would do and answer it (a store offering `beat` offers those three). A rejection fails
   * every item in it: each renewal counts as a failed renewal of its own lease. Each list
   * holds distinct elections; empty lists answer [] for their part.
   */
  beat?(request: BeatRequest): Promise<BeatAnswer>;
  /**
   * Claims of many elections in one request, optional (docs/design.md §3.8, "Claims in
   * batches"): a follower that must claim many elections at once (their leader's leases ran
   * out together) sends them together. Each claim is judged exactly as `tryAcquire` judges
   * it (free, expired or its holder's session gone; terms, fencing, the transfer
   * reservation, the wait for an unknown last holder) and answered as `tryAcquire` answers
   * it, in the order given; a refusal of one changes nothing for the others. A rejection
   * fails every claim in it (none of them is known to hold). Distinct elections only.
   */
  claimMany?(requests: readonly AcquireRequest[]): Promise<AcquireResult[]>;
  /** Most claims one `claimMany` request may carry (default 1,000); more are split. */
  readonly maxClaims?: number;
  /**
   * Most items (renewals, member records and reads together) one `beat` may carry, from
   * the backend's real limits; more go in further requests. Default: no limit.
   */
  readonly maxBeat?: number;
}

/** What one tick of the shared heartbeat sends (`BatchStore.beat`). */
export interface BeatRequest {
  readonly renewals: readonly Lease[];
  readonly puts: readonly MemberPut[];
  readonly reads: readonly string[];
}

/** `BatchStore.beat`'s answer: each part in the order of its request's list. */
export interface BeatAnswer {
  readonly renewals: RenewResult[];
  readonly members: MemberRecord[][];
  readonly reads: (LeaseRecord | null)[];
}

/** One election's member record to write with its TTL (`BatchStore.putMembers`). */
export interface MemberPut {
  readonly election: string;
  readonly member: MemberRecord;
  readonly ttlMs: number;
}

export interface LeaseStore {
  /** "redis" | "postgres" | "etcd" | "zookeeper" | "sqlite" | "memory" */
  readonly backend: string;
  tryAcquire(request: AcquireRequest): Promise<AcquireResult>;
  renew(lease: Lease): Promise<RenewResult>;
  /**
   * Compare-and-delete: removes the lease only if `lease.token` still holds it, and records
   * that it was released cleanly so the next holder need not wait (no `notBeforeMs`).
   * Releasing a lease that is already gone is not an error.
   */
  release(lease: Lease): Promise<void>;
  read(election: string): Promise<LeaseRecord | null>;
  /**
   * Call `onChange` soon after the election's lease is released, expires or changes holder,
   * until `signal` aborts. Best effort: the elector still polls, so a missed event costs
   * latency, never safety. The promise resolves once the subscription is in place (or has
   * failed: it never rejects), so callers that care can wait for it.
   *
   * `candidate` is the id of the candidate watching. A store that keeps member records may
   * wake, on a release, only the first candidates in line (highest priority first) rather
   * than every follower, so that one release costs a bounded amount of store work however
   * many candidates wait; the others still try at the lease's expiry or their poll.
   */
  watch?(
    election: string,
    onChange: () => void,
    signal: AbortSignal,
    candidate?: string,
  ): Promise<void>;
  /**
   * Whether `candidate`'s watch of `election` is in place at this moment and wakes it on
   * every change that may let it claim: a release, an expiry, a reservation. While it says
   * so, a follower that knows the election held does not poll (docs/design.md §3.8): it
   * waits for the watch, and claims once a TTL (WATCHED_POLL_TTLS) all the same. Asked
   * before every poll it skips, so a lost watch is noticed within one retry interval.
   * Optional: without it followers poll every retry interval, as before.
   */
  watching?(election: string, candidate: string): boolean;
  /**
   * Member records (docs/design.md §3.5), optional. A store without them still elects
   * correctly; it just cannot rank candidates by priority, list them, or wake only the
   * first in line.
   */
  readonly members?: MemberStore;
  /** Transfers to a named successor (docs/design.md §3.6), optional. */
  readonly transfer?: TransferStore;
  /** Many renewals in one request (docs/design.md §3.8), optional. */
  readonly batch?: BatchStore;
  /** Release client resources. Calls after close reject with `StoreClosedError`. */
  close(): Promise<void>;
}
