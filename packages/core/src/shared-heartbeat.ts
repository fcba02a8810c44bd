import { setTimerAt, systemClock, type Clock, type TimerHandle } from './clock.js';
import { LeaseholdConfigError } from './errors.js';
import { CallTimeouts } from './store-calls.js';
import type {
  AcquireRequest,
  AcquireResult,
  BatchStore,
  BeatRequest,
  Lease,
  LeaseRecord,
  LeaseStore,
  MemberPut,
  MemberRecord,
  RenewResult,
} from './store.js';

/**
 * One heartbeat for the many electors of one store (docs/design.md §3.8): electors that
 * share it renew on a common grid of ticks, and the renewals handed over at one tick go to
 * the store together (`LeaseStore.batch.renewMany`), so a sidecar with a thousand elections
 * sends one request per renew interval rather than a thousand. Member records (§3.5) are
 * written the same way, when the store offers `batch.putMembers`.
 *
 * Safety does not depend on it. A renewal is only ever pulled EARLIER, to the last tick at
 * or before it is due; each elector still counts its deadline from the moment it handed its
 * renewal over (never after the batch is sent), and judges the batch's answer for its own
 * lease alone. A store without `batch` renews each lease on its own, as without a heartbeat.
 *
 * Its follower side: when the store offers `batch.readMany`, a follower that knows the
 * election held reads it here instead of claiming it every retry interval, at the first
 * tick at or after its poll (`readAt`), so that one request reads every election the
 * sidecar follows. Reads grant nothing; a follower claims when a read shows the lock free
 * or running out before its next read.
 *
 * One request per tick: when the store offers `batch.beat`, the renewals, member records
 * and reads of one tick share ONE gathering window and go out in one request (split only at
 * the store's `maxBeat`), so an idle sidecar sends one request per renew interval whether
 * it leads, follows, or both. Each item is still answered and judged alone.
 *
 * One timer per tick (`wakeAt`): the heartbeat owns the ticks. Electors waiting for a tick
 * (to renew, to write their member record, to read) do not each arm a timer of their own:
 * the tick's ONE timer wakes them all in one macrotask, and each hands its item over in
 * the microtasks that follow, before any other timer (the gathering window's) can run. So
 * however late a loaded machine fires that timer, the whole tick is in one window and one
 * request. With a timer each, a thousand timers fired spread over more than the window and
 * a tick became two or three requests. The wake changes when an item is handed over, not
 * how it is judged: a renewal still waits for the last tick at or before it is due (only
 * ever EARLIER), and its deadline still counts from that handover, before the send.
 */

export interface SharedHeartbeatOptions {
  /** The one store every elector sharing this heartbeat uses. */
  readonly store: LeaseStore;
  /**
   * Spacing of the ticks. Renewals due within one period are sent together at its start.
   * Use the shortest renew interval of the electors sharing it: with a longer period, a
   * renewal whose tick has passed goes out alone, on time.
   */
  readonly periodMs: number;
  readonly clock?: Clock;
  /**
   * How long a batch stays open after its first renewal, for the electors whose timers for
   * the same tick fire a moment later. Default 5 ms; it delays a renewal's send, never its
   * deadline's start.
   */
  readonly gatherMs?: number;
  /**
   * The same for followers' reads (`read`), default 50 ms: the reads of one tick are handed
   * over as a thousand timers fire, which took longer than 5 ms on a loaded machine (two
   * batches a tick at 1,000 elections, load 20). A read is not due at any instant.
   */
  readonly readGatherMs?: number;
}

const DEFAULT_GATHER_MS = 5;
const DEFAULT_READ_GATHER_MS = 50;
/** Larger batches are split: a request's size stays bounded on every backend. */
const DEFAULT_MAX_BATCH = 500;
/** Reads write nothing: a request may carry more of them (`BatchStore.maxReads`). */
const DEFAULT_MAX_READS = 1_000;
/**
 * A wait computed as `tick - now` and added back to a later `now` lands just past the tick
 * (time passes between the two readings of the clock; the elector passes its ticks
 * themselves where it can). Such a wait, up to 1 ms past a tick, wakes with it: at most
 * 1 ms early, which a renewal may be (only ever earlier) and a follower's claim at a
 * lease's expiry absorbs (it waits `remainingMs + 1`).
 */
const TICK_SNAP_MS = 1;

export class SharedHeartbeat {
  readonly store: LeaseStore;
  readonly periodMs: number;
  private readonly clock: Clock;
  private readonly origin: number;
  private readonly renewals: Gatherer<Lease, RenewResult>;
  private readonly memberPuts: Gatherer<MemberPut, MemberRecord[]>;
  private readonly reads: Gatherer<string, LeaseRecord | null>;
  private readonly claims: Gatherer<AcquireRequest, AcquireResult>;
  /** All three in one request per tick, when the store offers `batch.beat`. */
  private readonly ticks: TickGatherer | null;
  /** Who waits for which tick: one timer per tick wakes them all. */
  private readonly waits: TickWaits;
  /** The time-outs of its electors' store calls, one set for all (store-calls.ts). */
  readonly callTimeouts: CallTimeouts;

  constructor(options: SharedHeartbeatOptions) {
    const store = options.store;
    this.store = store;
    this.periodMs = checkPositive('periodMs', options.periodMs);
    const gatherMs = checkPositive('gatherMs', options.gatherMs ?? DEFAULT_GATHER_MS);
    this.clock = options.clock ?? systemClock;
    this.origin = this.clock.now();
    this.waits = new TickWaits(this.clock);
    this.callTimeouts = new CallTimeouts(this.clock);
    const max = (): number => store.batch?.maxLeases ?? DEFAULT_MAX_BATCH;
    const alone = (lease: Lease): Promise<RenewResult> => store.renew(lease);
    const putAlone = async ({ election, member, ttlMs }: MemberPut): Promise<MemberRecord[]> => {
      await store.members?.put(election, member, ttlMs);
      return (await store.members?.list(election)) ?? [];
    };
    const readGatherMs = checkPositive(
      'readGatherMs',
      options.readGatherMs ?? DEFAULT_READ_GATHER_MS,
    );
    const readAlone = (election: string): Promise<LeaseRecord | null> => store.read(election);
    this.ticks =
      store.batch?.beat === undefined
        ? null
        : new TickGatherer(
            this.clock,
            store.batch,
            { gatherMs, readGatherMs },
            {
              renew: alone,
              put: putAlone,
              read: readAlone,
            },
          );
    const claimAlone = (request: AcquireRequest): Promise<AcquireResult> =>
      store.tryAcquire(request);
    this.claims = new Gatherer(this.clock, gatherMs, () => store.batch?.maxClaims ?? 1_000, {
      election: (request) => request.election,
      many: (requests) =>
        store.batch?.claimMany?.(requests) ?? Promise.all(requests.map(claimAlone)),
      alone: claimAlone,
    });
    this.renewals = new Gatherer(this.clock, gatherMs, max, {
      election: (lease) => lease.election,
      many: (leases) => store.batch?.renewMany(leases) ?? Promise.all(leases.map(alone)),
      alone,
    });
    this.memberPuts = new Gatherer(this.clock, gatherMs, max, {
      election: (put) => put.election,
      many: (puts) => store.batch?.putMembers?.(puts) ?? Promise.all(puts.map(putAlone)),
      alone: putAlone,
    });
    this.reads = new Gatherer(
      this.clock,
      readGatherMs,
      () => store.batch?.maxReads ?? DEFAULT_MAX_READS,
      {
        election: (election) => election,
        many: (elections) =>
          store.batch?.readMany?.(elections) ?? Promise.all(elections.map(readAlone)),
        alone: readAlone,
      },
    );
  }

  /**
   * When to send a renewal (or member heartbeat) due at `dueAt`: the last tick at or before
   * it, or `dueAt` itself when that tick has already passed. Never later than `dueAt`.
   */
  renewAt(dueAt: number): number {
    if (this.store.batch === undefined) return dueAt;
    const tick = this.origin + Math.floor((dueAt - this.origin) / this.periodMs) * this.periodMs;
    return tick > this.clock.now() ? tick : dueAt;
  }

  /**
   * Call `wake` at `at` (monotonic ms). When `at` is one of the ticks (`renewAt`, `readAt`,
   * or up to TICK_SNAP_MS past one still to come), every wait for that tick
   * shares the tick's one timer and is woken with the others in one macrotask, so that the
   * items they hand over go in one request however late the timer fires. Any other time,
   * and every time on a store without `batch` (nothing is aligned there), gets a timer of
   * its own, as before. Never calls `wake` more than TICK_SNAP_MS before `at`, nor
   * synchronously.
   */
  wakeAt(at: number, wake: () => void): TimerHandle {
    const tick = this.store.batch === undefined ? null : this.tickAt(at);
    if (tick === null) return this.clock.setTimer(Math.max(0, at - this.clock.now()), wake);
    return this.waits.add(tick, wake);
  }

  /**
   * The tick `at` stands for, or null when it is none: a tick still to come, at or less
   * than TICK_SNAP_MS before `at`. Only ever earlier: a wait is never woken after its time.
   */
  private tickAt(at: number): number | null {
    const tick = this.origin + Math.floor((at - this.origin) / this.periodMs) * this.periodMs;
    return at - tick <= TICK_SNAP_MS && tick > this.clock.now() ? tick : null;
  }

  /** Renew `lease` in the batch being gathered (alone on a store without `batch`). */
  renew(lease: Lease): Promise<RenewResult> {
    if (this.store.batch === undefined) return this.store.renew(lease);
    return this.ticks?.add('renew', lease) ?? this.renewals.add(lease);
  }

  /** Whether member heartbeats go through `putMember` (the store batches them). */
  get batchesMembers(): boolean {
    return this.store.batch?.putMembers !== undefined && this.store.members !== undefined;
  }

  /** Whether followers read through `read` (the store batches reads) rather than claim. */
  get batchesReads(): boolean {
    return this.store.batch?.readMany !== undefined;
  }

  /**
   * When to read for a poll due at `dueAt`: the first tick at or after it, so that the
   * polls of every follower land in one batch. Later, never earlier: a read only tells,
   * and a follower that must claim sooner (its leader's lease runs out first) claims then.
   */
  readAt(dueAt: number): number {
    return this.origin + Math.ceil((dueAt - this.origin) / this.periodMs) * this.periodMs;
  }

  /** Read `election` in the batch being gathered (alone on a store without `readMany`). */
  read(election: string): Promise<LeaseRecord | null> {
    if (!this.batchesReads) return this.store.read(election);
    return this.ticks?.add('read', election) ?? this.reads.add(election);
  }

  /**
   * Claim in the batch being gathered (`batch.claimMany`), so that the claims of many
   * elections at once (their leader's leases ran out together) go in one request; alone on
   * a store without it. The gathering delays the send, never the lease's deadline, which
   * the elector counts from before it handed the claim over.
   */
  claim(request: AcquireRequest): Promise<AcquireResult> {
    if (this.store.batch?.claimMany === undefined) return this.store.tryAcquire(request);
    return this.claims.add(request);
  }

  /** Write a member record in the batch being gathered; answers the election's live ones. */
  putMember(put: MemberPut): Promise<MemberRecord[]> {
    return this.ticks?.add('put', put) ?? this.memberPuts.add(put);
  }
}

/**
 * The waits for each tick, and the tick's one timer. A wait cancelled before its tick is
 * dropped (the timer too, once nobody waits); the timer wakes every wait left in turn, in
 * its one callback.
 */
class TickWaits {
  private readonly byTick = new Map<number, { waits: Set<TickWait>; timer: TimerHandle }>();

  constructor(private readonly clock: Clock) {}

  add(tick: number, wake: () => void): TimerHandle {
    let waiting = this.byTick.get(tick);
    if (waiting === undefined) {
      const waits = new Set<TickWait>();
      // setTimerAt: Node's timers may fire a fraction of a ms before the clock reaches it.
      waiting = { waits, timer: setTimerAt(this.clock, tick, () => this.fire(tick, waits)) };
      this.byTick.set(tick, waiting);
    }
    // A wait of its own, even when the same function waits twice: each cancels only itself.
    const wait = new TickWait(this, tick, waiting.waits, wake);
    waiting.waits.add(wait);
    return wait;
  }

  cancel(wait: TickWait): void {
    if (!wait.waits.delete(wait) || wait.waits.size > 0) return;
    const waiting = this.byTick.get(wait.tick);
    if (waiting?.waits !== wait.waits) return;
    waiting.timer.cancel();
    this.byTick.delete(wait.tick);
  }

  /** Wake them all; one that throws does not keep the others asleep (rethrown after). */
  private fire(tick: number, waits: Set<TickWait>): void {
    if (this.byTick.get(tick)?.waits === waits) this.byTick.delete(tick);
    const woken = [...waits];
    waits.clear();
    let failure: { readonly error: unknown } | null = null;
    for (const wait of woken) {
      try {
        wait.wake();
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure !== null) throw failure.error;
  }
}

/** One wait for a tick, its own handle: one object, no closure (a thousand a tick). */
class TickWait implements TimerHandle {
  constructor(
    private readonly owner: TickWaits,
    readonly tick: number,
    readonly waits: Set<TickWait>,
    readonly wake: () => void,
  ) {}

  cancel(): void {
    this.owner.cancel(this);
  }
}

/** The three kinds of item a tick carries, each with its answer. */
interface TickItems {
  renew: [Lease, RenewResult];
  put: [MemberPut, MemberRecord[]];
  read: [string, LeaseRecord | null];
}
type Kind = keyof TickItems;

interface TickPending<K extends Kind> {
  readonly item: TickItems[K][0];
  readonly resolve: (result: TickItems[K][1]) => void;
  readonly reject: (error: unknown) => void;
}

type TickLists = { [K in Kind]: TickPending<K>[] };

/**
 * The items of one tick, every kind together, in `batch.beat` requests. The window opens at
 * the first item and lasts the longest gathering time of the kinds handed over (a renewal's
 * 5 ms, a read's 50 ms), so the reads of a tick do not miss its renewals' request; the
 * window delays a renewal's send, never its deadline's start (counted from the handover).
 */
class TickGatherer {
  private pending: TickLists = { renew: [], put: [], read: [] };
  private timer: TimerHandle | null = null;
  private openedAt = 0;
  private closesAt = 0;

  constructor(
    private readonly clock: Clock,
    private readonly batch: BatchStore,
    private readonly windows: { readonly gatherMs: number; readonly readGatherMs: number },
    private readonly alone: { [K in Kind]: (item: TickItems[K][0]) => Promise<TickItems[K][1]> },
  ) {}

  add<K extends Kind>(kind: K, item: TickItems[K][0]): Promise<TickItems[K][1]> {
    return new Promise<TickItems[K][1]>((resolve, reject) => {
      (this.pending[kind] as TickPending<K>[]).push({ item, resolve, reject });
      const now = this.clock.now();
      if (this.timer === null) this.openedAt = now;
      const window = kind === 'read' ? this.windows.readGatherMs : this.windows.gatherMs;
      const closesAt = this.openedAt + window;
      if (this.timer !== null && closesAt <= this.closesAt) return;
      this.timer?.cancel();
      this.closesAt = closesAt;
      this.timer = this.clock.setTimer(Math.max(0, closesAt - now), () => this.flush());
    });
  }

  /** One `beat` per `maxBeat` items; a second item of an election (per kind) goes alone. */
  private flush(): void {
    this.timer = null;
    const pending = this.pending;
    this.pending = { renew: [], put: [], read: [] };
    const renew = splitByElection(pending.renew, (p) => p.item.election);
    const put = splitByElection(pending.put, (p) => p.item.election);
    const read = splitByElection(pending.read, (p) => p.item);
    const max = this.batch.maxBeat ?? Number.POSITIVE_INFINITY;
    let lists: TickLists = { renew: [], put: [], read: [] };
    let size = 0;
    const send = (): void => {
      if (size > 0) this.send(lists);
      lists = { renew: [], put: [], read: [] };
      size = 0;
    };
    const fill = <K extends Kind>(kind: K, items: TickPending<K>[]): void => {
      for (const entry of items) {
        if (size >= max) send();
        (lists[kind] as TickPending<K>[]).push(entry);
        size += 1;
      }
    };
    fill('renew', renew.batched);
    fill('put', put.batched);
    fill('read', read.batched);
    send();
    this.sendAlone('renew', renew.alone);
    this.sendAlone('put', put.alone);
    this.sendAlone('read', read.alone);
  }

  private send(lists: TickLists): void {
    const request: BeatRequest = {
      renewals: lists.renew.map((p) => p.item),
      puts: lists.put.map((p) => p.item),
      reads: lists.read.map((p) => p.item),
    };
    const answer = started(() => {
      const beat = this.batch.beat;
      if (beat === undefined) throw new Error('the store no longer offers batch.beat');
      return beat.call(this.batch, request);
    });
    settleEach(
      lists.renew,
      answer.then((a) => a.renewals),
    );
    settleEach(
      lists.put,
      answer.then((a) => a.members),
    );
    settleEach(
      lists.read,
      answer.then((a) => a.reads),
    );
  }

  private sendAlone<K extends Kind>(kind: K, items: readonly TickPending<K>[]): void {
    const alone = this.alone[kind];
    for (const one of items) started(() => alone(one.item)).then(one.resolve, one.reject);
  }
}

interface GathererSend<I, O> {
  /** Items of one election go one to a batch. */
  election(item: I): string;
  many(items: readonly I[]): Promise<O[]>;
  alone(item: I): Promise<O>;
}

interface Pending<I, O> {
  readonly item: I;
  readonly resolve: (result: O) => void;
  readonly reject: (error: unknown) => void;
}

/** Items handed over within `gatherMs` of the first go out together. */
class Gatherer<I, O> {
  private pending: Pending<I, O>[] = [];
  private timer: TimerHandle | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly gatherMs: number,
    private readonly maxBatch: () => number,
    private readonly send: GathererSend<I, O>,
  ) {}

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.timer ??= this.clock.setTimer(this.gatherMs, () => this.flush());
    });
  }

  /** Send what was gathered: one request per chunk, a second item of an election alone. */
  private flush(): void {
    this.timer = null;
    const { batched, alone } = splitByElection(this.pending, (p) => this.send.election(p.item));
    this.pending = [];
    const max = this.maxBatch();
    for (let start = 0; start < batched.length; start += max) {
      const chunk = batched.slice(start, start + max);
      settleEach(
        chunk,
        started(() => this.send.many(chunk.map((entry) => entry.item))),
      );
    }
    for (const one of alone) started(() => this.send.alone(one.item)).then(one.resolve, one.reject);
  }
}

/** A store whose method throws synchronously fails the batch, not the process's timer. */
function started<T>(work: () => Promise<T>): Promise<T> {
  try {
    return work();
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Each item gets its own answer; a failed batch fails every item in it. */
function settleEach<I, O>(chunk: readonly Pending<I, O>[], answer: Promise<O[]>): void {
  answer.then(
    (results) => {
      chunk.forEach((entry, index) => {
        if (index < results.length) entry.resolve(results[index] as O);
        else entry.reject(new Error('a batch answered fewer results than it was sent'));
      });
    },
    (error: unknown) => {
      for (const entry of chunk) entry.reject(error);
    },
  );
}

/** A batch holds one item per election (the contract); a second one goes alone. */
function splitByElection<T>(items: readonly T[], election: (item: T) => string) {
  const seen = new Set<string>();
  const batched: T[] = [];
  const alone: T[] = [];
  for (const item of items) {
    const name = election(item);
    if (seen.has(name)) alone.push(item);
    else {
      seen.add(name);
      batched.push(item);
    }
  }
  return { batched, alone };
}

function checkPositive(field: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new LeaseholdConfigError(field, value, 'a number of milliseconds greater than 0');
  }
  return value;
}
