import { systemClock, type Clock, type TimerHandle } from '../clock.js';
import { StoreClosedError, StoreUnavailableError } from '../errors.js';
import type {
  AcquireRequest,
  BatchStore,
  AcquireResult,
  Lease,
  LeaseMetadata,
  LeaseRecord,
  LeaseStore,
  MemberRecord,
  MemberStore,
  RenewResult,
  Reservation,
  TransferStore,
} from '../store.js';

/**
 * An in-memory store for the elector's unit and property tests, never for production: it is
 * not shared between processes. A `MemoryBackend` is the "server"; each `MemoryStore` is one
 * candidate's connection to it, with its own injectable faults (the network between them).
 */

interface StoredLease {
  readonly holder: string;
  readonly token: string;
  readonly term: number;
  readonly metadata: LeaseMetadata;
  expiresAt: number;
  expiryTimer: TimerHandle | null;
}

/** A transfer's reservation (docs/design.md §3.6), by the backend's clock. */
interface StoredReservation {
  readonly successor: string;
  readonly from: string;
  readonly expiresAt: number;
}

export interface MemoryBackendOptions {
  /** Store-side clock; share a `ManualClock` with the electors in simulations. */
  readonly clock?: Clock;
}

export class MemoryBackend {
  readonly clock: Clock;
  private readonly leases = new Map<string, StoredLease>();
  private readonly lastTerm = new Map<string, number>();
  private readonly reservations = new Map<string, StoredReservation>();
  private readonly watchers = new Map<string, Set<() => void>>();
  private readonly members = new Map<
    string,
    Map<string, { record: MemberRecord; expiresAt: number }>
  >();

  constructor(options: MemoryBackendOptions = {}) {
    this.clock = options.clock ?? systemClock;
  }

  /** A new connection to this backend. */
  connect(): MemoryStore {
    return new MemoryStore(this);
  }

  /**
   * Drop an election's lease as an admin's DEL or a store that lost its data would. The
   * term counter survives (unlike Redis restarting empty, which the Redis adapter handles).
   */
  forget(election: string): void {
    this.leases.get(election)?.expiryTimer?.cancel();
    if (this.leases.delete(election)) this.notify(election);
  }

  /** @internal Applied when the request "arrives" at the store. */
  acquire(request: AcquireRequest): AcquireResult {
    const now = this.clock.now();
    const current = this.live(request.election, now);
    if (current !== undefined) {
      return {
        acquired: false,
        current: this.toRecord(request.election, current, now),
        retryAfterMs: current.expiresAt - now,
      };
    }
    const reserved = this.liveReservation(request.election, now);
    if (reserved !== undefined && !admits(reserved, request.holder)) {
      return {
        acquired: false,
        current: null,
        retryAfterMs: reserved.expiresAt - now,
        reservedFor: reserved.successor,
      };
    }
    this.reservations.delete(request.election);
    const term = (this.lastTerm.get(request.election) ?? 0) + 1;
    this.lastTerm.set(request.election, term);
    const stored: StoredLease = {
      holder: request.holder,
      token: request.token,
      term,
      metadata: { ...request.metadata },
      expiresAt: now + request.ttlMs,
      expiryTimer: null,
    };
    this.leases.set(request.election, stored);
    this.armExpiry(request.election, stored);
    this.notify(request.election);
    return {
      acquired: true,
      lease: {
        election: request.election,
        holder: request.holder,
        token: request.token,
        term,
        ttlMs: request.ttlMs,
        notBeforeMs: 0,
      },
    };
  }

  /** @internal */
  renew(lease: Lease): RenewResult {
    const now = this.clock.now();
    const current = this.live(lease.election, now);
    if (current === undefined || current.token !== lease.token) return { renewed: false };
    current.expiresAt = now + lease.ttlMs;
    this.armExpiry(lease.election, current);
    return { renewed: true, ttlMs: lease.ttlMs };
  }

  /** @internal */
  release(lease: Lease): void {
    const current = this.leases.get(lease.election);
    if (current === undefined || current.token !== lease.token) return;
    current.expiryTimer?.cancel();
    this.leases.delete(lease.election);
    this.notify(lease.election);
  }

  /** @internal The release and the reservation in one step: nothing runs between them. */
  handOver(lease: Lease, successor: string, reservationMs: number): boolean {
    const now = this.clock.now();
    const current = this.live(lease.election, now);
    if (current === undefined || current.token !== lease.token) return false;
    current.expiryTimer?.cancel();
    this.leases.delete(lease.election);
    this.reservations.set(lease.election, {
      successor,
      from: lease.holder,
      expiresAt: now + reservationMs,
    });
    this.notify(lease.election);
    return true;
  }

  /** @internal */
  reservation(election: string): Reservation | null {
    const now = this.clock.now();
    const reserved = this.liveReservation(election, now);
    return reserved === undefined
      ? null
      : {
          successor: reserved.successor,
          from: reserved.from,
          remainingMs: reserved.expiresAt - now,
        };
  }

  /** @internal */
  read(election: string): LeaseRecord | null {
    const now = this.clock.now();
    const current = this.live(election, now);
    return current === undefined ? null : this.toRecord(election, current, now);
  }

  /** @internal */
  watch(election: string, onChange: () => void, signal: AbortSignal): void {
    if (signal.aborted) return;
    let set = this.watchers.get(election);
    if (set === undefined) {
      set = new Set();
      this.watchers.set(election, set);
    }
    const watchers = set;
    watchers.add(onChange);
    signal.addEventListener('abort', () => watchers.delete(onChange), { once: true });
  }

  /** @internal */
  putMember(election: string, member: MemberRecord, ttlMs: number): void {
    let byId = this.members.get(election);
    if (byId === undefined) {
      byId = new Map();
      this.members.set(election, byId);
    }
    byId.set(member.id, { record: member, expiresAt: this.clock.now() + ttlMs });
  }

  /** @internal */
  listMembers(election: string): MemberRecord[] {
    const now = this.clock.now();
    return [...(this.members.get(election)?.values() ?? [])]
      .filter((entry) => entry.expiresAt > now)
      .map((entry) => entry.record);
  }

  /** @internal */
  removeMember(election: string, id: string): void {
    this.members.get(election)?.delete(id);
  }

  private live(election: string, now: number): StoredLease | undefined {
    const current = this.leases.get(election);
    return current !== undefined && current.expiresAt > now ? current : undefined;
  }

  private liveReservation(election: string, now: number): StoredReservation | undefined {
    const reserved = this.reservations.get(election);
    return reserved !== undefined && reserved.expiresAt > now ? reserved : undefined;
  }

  private toRecord(election: string, stored: StoredLease, now: number): LeaseRecord {
    return {
      election,
      holder: stored.holder,
      term: stored.term,
      metadata: stored.metadata,
      remainingMs: stored.expiresAt - now,
    };
  }

  /** Expiry wakes watchers, as a Redis keyspace event or an etcd lease revocation would. */
  private armExpiry(election: string, stored: StoredLease): void {
    stored.expiryTimer?.cancel();
    stored.expiryTimer = this.clock.setTimer(stored.expiresAt - this.clock.now(), () => {
      if (this.leases.get(election) === stored && stored.expiresAt <= this.clock.now()) {
        this.leases.delete(election);
        this.notify(election);
      }
    });
  }

  private notify(election: string): void {
    for (const onChange of this.watchers.get(election) ?? []) {
      this.clock.setTimer(0, onChange);
    }
  }
}

/** Who may claim while a reservation holds: the successor, or the holder taking it back. */
function admits(reserved: StoredReservation, holder: string): boolean {
  return holder === reserved.successor || holder === reserved.from;
}

type Delay = number | (() => number);

/**
 * Faults on one connection. Each applies to calls started after it is set.
 * - `delay`: time for a request to reach the store and for its answer to come back.
 * - `fail`: the next `count` calls reject with `StoreUnavailableError` without reaching it.
 * - `drop`: the next `count` calls are lost, before (`request`) or after (`response`) the
 *   store applied them; the caller never hears back.
 * - `freeze`: nothing crosses in either direction until `thaw`, then everything does.
 */
export class MemoryFaults {
  requestDelay: Delay = 0;
  responseDelay: Delay = 0;
  failCount = 0;
  dropCount = 0;
  dropMode: 'request' | 'response' = 'request';
  frozen = false;
  private thawWaiters: (() => void)[] = [];

  delay(requestMs: Delay, responseMs: Delay = requestMs): this {
    this.requestDelay = requestMs;
    this.responseDelay = responseMs;
    return this;
  }

  fail(count = Number.POSITIVE_INFINITY): this {
    this.failCount = count;
    return this;
  }

  drop(mode: 'request' | 'response', count = Number.POSITIVE_INFINITY): this {
    this.dropMode = mode;
    this.dropCount = count;
    return this;
  }

  freeze(): this {
    this.frozen = true;
    return this;
  }

  thaw(): this {
    this.frozen = false;
    const waiters = this.thawWaiters;
    this.thawWaiters = [];
    for (const resume of waiters) resume();
    return this;
  }

  /** Remove every fault (and thaw). */
  clear(): this {
    this.delay(0);
    this.failCount = 0;
    this.dropCount = 0;
    return this.thaw();
  }

  /** @internal */
  untilThawed(): Promise<void> {
    if (!this.frozen) return Promise.resolve();
    return new Promise((resolve) => this.thawWaiters.push(resolve));
  }
}

export class MemoryStore implements LeaseStore {
  readonly backend = 'memory';
  readonly faults = new MemoryFaults();
  private closed = false;
  /** Rejecters of calls that will never be answered, so close() can end them. */
  private readonly hanging = new Set<(error: Error) => void>();
  private readonly watchController = new AbortController();

  constructor(private readonly server: MemoryBackend) {}

  tryAcquire(request: AcquireRequest): Promise<AcquireResult> {
    return this.roundTrip(() => this.server.acquire(request));
  }

  renew(lease: Lease): Promise<RenewResult> {
    return this.roundTrip(() => this.server.renew(lease));
  }

  release(lease: Lease): Promise<void> {
    return this.roundTrip(() => this.server.release(lease));
  }

  read(election: string): Promise<LeaseRecord | null> {
    return this.roundTrip(() => this.server.read(election));
  }

  readonly members: MemberStore = {
    put: (election, member, ttlMs) =>
      this.roundTrip(() => this.server.putMember(election, member, ttlMs)),
    list: (election) => this.roundTrip(() => this.server.listMembers(election)),
    remove: (election, id) => this.roundTrip(() => this.server.removeMember(election, id)),
  };

  readonly transfer: TransferStore = {
    handOver: (lease, successor, reservationMs) =>
      this.roundTrip(() => this.server.handOver(lease, successor, reservationMs)),
    reservation: (election) => this.roundTrip(() => this.server.reservation(election)),
  };

  /** One round trip for every lease: one fault (failure, drop, delay) hits them all. */
  readonly batch: BatchStore = {
    renewMany: (leases) => this.roundTrip(() => leases.map((lease) => this.server.renew(lease))),
    putMembers: (puts) =>
      this.roundTrip(() =>
        puts.map(({ election, member, ttlMs }) => {
          this.server.putMember(election, member, ttlMs);
          return this.server.listMembers(election);
        }),
      ),
    readMany: (elections) =>
      this.roundTrip(() => elections.map((election) => this.server.read(election))),
    claimMany: (requests) =>
      this.roundTrip(() => requests.map((request) => this.server.acquire(request))),
    // A tick's renewals, member records and reads in one round trip, each as above.
    beat: ({ renewals, puts, reads }) =>
      this.roundTrip(() => ({
        renewals: renewals.map((lease) => this.server.renew(lease)),
        members: puts.map(({ election, member, ttlMs }) => {
          this.server.putMember(election, member, ttlMs);
          return this.server.listMembers(election);
        }),
        reads: reads.map((election) => this.server.read(election)),
      })),
  };

  watch(election: string, onChange: () => void, signal: AbortSignal): Promise<void> {
    if (!this.closed) {
      this.server.watch(election, onChange, AbortSignal.any([signal, this.watchController.signal]));
    }
    return Promise.resolve();
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.watchController.abort();
      for (const reject of this.hanging) reject(new StoreClosedError(this.backend));
      this.hanging.clear();
    }
    return Promise.resolve();
  }

  private async roundTrip<T>(apply: () => T): Promise<T> {
    if (this.closed) throw new StoreClosedError(this.backend);
    const faults = this.faults;
    if (faults.failCount > 0) {
      faults.failCount -= 1;
      await this.transit(faults.requestDelay);
      throw new StoreUnavailableError('memory store: injected failure');
    }
    const dropped = faults.dropCount > 0 ? faults.dropMode : null;
    if (dropped !== null) faults.dropCount -= 1;
    if (dropped === 'request') return this.hang();
    await this.transit(faults.requestDelay);
    if (this.closed) throw new StoreClosedError(this.backend);
    const result = apply();
    if (dropped === 'response') return this.hang();
    await this.transit(faults.responseDelay);
    return result;
  }

  private async transit(delay: Delay): Promise<void> {
    const ms = typeof delay === 'function' ? delay() : delay;
    if (ms > 0) {
      await new Promise<void>((resolve) => this.server.clock.setTimer(ms, resolve));
    }
    await this.faults.untilThawed();
  }

  private hang<T>(): Promise<T> {
    return new Promise<T>((_resolve, reject) => {
      this.hanging.add(reject);
    });
  }
}

/** A backend and one connection to it, for tests that need only one candidate. */
export function createMemoryStore(options: MemoryBackendOptions = {}): MemoryStore {
  return new MemoryBackend(options).connect();
}
