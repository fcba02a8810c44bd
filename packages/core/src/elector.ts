import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { setTimerAt, systemClock, waitAtMost, type Clock, type TimerHandle } from './clock.js';
import { ElectorStateError, LeaseholdConfigError } from './errors.js';
import { MemberHeartbeat, type MemberInfo } from './members.js';
import {
  Steering,
  type DrainOutcome,
  type SteeringHost,
  type SteeringOptions,
  type SteeringState,
} from './steering.js';
import type { TransferOutcome } from './transfer.js';
import { CANDIDATE_ID, checkName, checkPriority, ELECTION_NAME } from './names.js';
import type {
  AcquireResult,
  Lease,
  LeaseMetadata,
  LeaseRecord,
  LeaseStore,
  RenewResult,
} from './store.js';
import { checkStore } from './store-check.js';
import type { SharedHeartbeat } from './shared-heartbeat.js';
import {
  describeError,
  StoreCalls,
  type StoreHealth,
  type StoreRequestEvent,
} from './store-calls.js';
import { TermHistory, type TermHistorySnapshot, type TermRegressionEvent } from './term-history.js';
import {
  Backoff,
  holdOffMs,
  leaseValidityMs,
  resolveTiming,
  storeCallTimeoutMs,
  storeTtlBoundMs,
  type ElectionTiming,
  type ElectionTimingOptions,
} from './timing.js';

/**
 * The election state machine: follower → leading → follower, and stopped.
 *
 * Leadership is a deadline, not a flag (docs/design.md §3.1). `validUntil` is computed from the
 * moment a renew was *sent*; `isLeader()` compares the clock against it at the moment it is
 * asked, so a process that was frozen answers "not leader" the instant it wakes, before any
 * timer or event of ours has run.
 */

export type DeposeReason =
  /** Renewals kept failing until the deadline passed. */
  | 'lease-expired'
  /** The store said the lease is gone or belongs to someone else. */
  | 'lost'
  /** `resign()` was called. */
  | 'resigned'
  /** A transfer handed leadership over (docs/design.md §3.6). */
  | 'transferred'
  /** `stop()` was called. */
  | 'stopped';

export type ElectorState = 'idle' | 'following' | 'pending' | 'leading' | 'stopped';

export interface LeaderInfo {
  readonly id: string;
  readonly term: number;
  readonly self: boolean;
}

export interface ElectedEvent {
  readonly election: string;
  readonly id: string;
  readonly term: number;
  /** Aborts (with the depose reason) when this term's leadership ends. */
  readonly signal: AbortSignal;
}

export interface DeposedEvent {
  readonly election: string;
  readonly id: string;
  readonly term: number;
  readonly reason: DeposeReason;
}

/**
 * This candidate's own deadline was set (the lock was acquired) or renewed (a renewal
 * succeeded; the deadline never moves earlier). Work that must be over before leadership
 * can pass elsewhere (a command that needs time to exit after its stop signal) plans
 * against `validUntil`. Emitted for a lease still held off by `notBeforeMs` too:
 * leadership starts with `elected`.
 */
export interface LeaseEvent {
  readonly election: string;
  readonly id: string;
  readonly term: number;
  /**
   * Monotonic time on the elector's clock (`performance.now()` with the default clock) at
   * and after which this candidate no longer reports leadership unless it renews again.
   */
  readonly validUntil: number;
  /**
   * Monotonic time from which this lease counts as leadership: later than the acquisition
   * when the store may have forgotten an earlier holder (`Lease.notBeforeMs`).
   */
  readonly leadsFrom: number;
}

/** What `resignWithOutcome()` did, and what became of the lease in the store. */
export interface ResignOutcome {
  /** False when this candidate held no lease: nothing was done. */
  readonly resigned: boolean;
  /**
   * The lease is known to be gone from the store: the release succeeded, or it failed but a
   * read afterwards found the lease no longer ours.
   */
  readonly released: boolean;
  /** The release's failure, when it failed (even if the lease turned out to be gone). */
  readonly releaseError: { readonly code: string; readonly message: string } | null;
  /**
   * When the lease could not be seen gone: wall-clock ms by which the store lets it expire at
   * the latest (another candidate can take over then). Null otherwise.
   */
  readonly leaseExpiresBy: number | null;
}

export interface ElectorEvents {
  elected: [ElectedEvent];
  deposed: [DeposedEvent];
  /** This candidate's own lease deadline was set or renewed. */
  lease: [LeaseEvent];
  /** The leader this candidate knows of changed (null: none known). */
  leader: [LeaderInfo | null];
  'store-health': [StoreHealth];
  'term-regression': [TermRegressionEvent];
  /** Every store round trip, for metrics. */
  'store-request': [StoreRequestEvent];
  /** Drained, health, version or a transfer in progress changed (docs/design.md §3.6). */
  steering: [SteeringState];
}

export interface ElectorStatus extends TermHistorySnapshot {
  readonly election: string;
  readonly id: string;
  readonly backend: string;
  readonly state: ElectorState;
  readonly isLeader: boolean;
  /** This candidate's term when `isLeader`, otherwise null: read at the same instant. */
  readonly term: number | null;
  readonly leader: LeaderInfo | null;
  /**
   * Wall-clock ms at which `leader`'s tenure began: when it sent the acquire that won, by its
   * own clock, as written in the lease (`TENURE_START_KEY`), so every candidate reports the
   * same value. When the lease does not carry it (written by an older version): when this
   * candidate first saw that leader. Null without a leader.
   */
  readonly leaderSince: number | null;
  /** While leading: ms until this candidate's own deadline. Otherwise 0. */
  readonly leaseRemainingMs: number;
  /**
   * While this candidate holds the lock but may not lead yet (state `pending`: the store may
   * have forgotten an earlier holder, e.g. the first election on a never-used Redis
   * namespace waits one TTL), the wall-clock ms from which it leads if it keeps the lock.
   * Otherwise null.
   */
  readonly leadsFrom: number | null;
  /** True once the election has been observed through the store at least once. */
  readonly observed: boolean;
  readonly store: StoreHealth;
  /** Drained, app health, version and a transfer in progress (docs/design.md §3.6). */
  readonly steering: SteeringState;
}

export interface ElectorOptions extends ElectionTimingOptions {
  readonly store: LeaseStore;
  readonly election: string;
  /** This candidate's id; unique among candidates. */
  readonly id: string;
  readonly metadata?: LeaseMetadata;
  /**
   * Higher wins when the lock is free (docs/design.md §3.5): a candidate waits one retry interval
   * per priority level of live members above its own. Default 0.
   */
  readonly priority?: number;
  readonly clock?: Clock;
  /** Source of jitter; tests pass a seeded one. */
  readonly random?: () => number;
  /** Start drained (`--standby`), the app's version, health gating (docs/design.md §3.6). */
  readonly steering?: SteeringOptions;
  /**
   * Runs while still leading, before a transfer (asked, or started by a drain or failing
   * health) ends this candidate's leadership: `leasehold run` stops its command here, as it
   * does before a resign. Its failure does not stop the transfer.
   */
  readonly beforeHandOver?: () => Promise<void>;
  /**
   * Asked when this follower finds the lock free (and any priority wait is over), with how
   * long it has seen it free: how many ms more to wait before claiming it, 0 for now. A
   * `ShardGroup` stands back this way so that candidates below their share get free shards
   * first (docs/shards.md). With it, a follower reads before it claims. Must not throw.
   */
  readonly freeLockDelay?: (freeForMs: number) => number;
  /**
   * Renew on this heartbeat, shared by every elector of `store` (docs/design.md §3.8): its
   * renewals go out early, at the heartbeat's ticks, batched with the others'. Must be
   * made for the same store.
   */
  readonly sharedHeartbeat?: SharedHeartbeat;
}

/**
 * The lease metadata key under which the elector writes when its tenure begins (ISO time,
 * its wall clock when it sent the acquire), so that every candidate can report it.
 */
export const TENURE_START_KEY = 'leasehold.acquiredAt';

/** What this process holds in the store, and until when it may call itself leader. */
interface HeldLease {
  readonly lease: Lease;
  /** Wall-clock ms written in the lease as its tenure start (TENURE_START_KEY). */
  readonly acquiredAt: number;
  /** Before this monotonic time we do not report leadership (docs/design.md §3.3). */
  readonly notBefore: number;
  /** At and after this monotonic time we do not report leadership. */
  validUntil: number;
  /**
   * Monotonic time by which the store has forgotten the lease at the latest: its TTL started
   * before our last successful acquire or renew was answered.
   */
  storeExpiresBy: number;
  nextRenewAt: number;
  elected: boolean;
  readonly termController: AbortController;
  readonly renewBackoff: Backoff;
  deadlineTimer: TimerHandle | null;
  /** Fires declareElected once notBefore has passed; cancelled on step-down. */
  notBeforeTimer: TimerHandle | null;
}

/** Upper bound on how long stop() waits for the release before giving up on it. */
const RELEASE_TIMEOUT_MS = 5_000;
/** The same for removing the member record, which expires by itself: a courtesy. */
const MEMBER_REMOVAL_TIMEOUT_MS = 1_000;
/**
 * First wait between reads that look for the new leader after a resign; it doubles up to a
 * tenth of the retry interval (at most 20 reads in the two-interval hold-off).
 */
const HANDOVER_FIRST_POLL_MS = 10;
/** How long stop() waits for the election loop's store call in flight. */
const LOOP_STOP_WAIT_MS = 1_000;
/**
 * A follower whose store's watch stands in for its polls (`LeaseStore.watching`) still claims
 * once a TTL: a takeover wakes only the first in line, and the others learn of the new leader
 * from their next claim, so this bounds how long a follower names a dead leader (5 TTLs let
 * it do so for 15 s at a 3 s TTL: etcd-many.test). It also bounds what a watch that stopped
 * without a sign costs. At 1,000 elections and a TTL of 6 s: ~220 claims a second (each
 * claim's next is spread over the TTL's second half), not 1,000.
 */
export const WATCHED_POLL_TTLS = 1;

export class Elector extends EventEmitter<ElectorEvents> {
  readonly election: string;
  readonly id: string;
  readonly timing: ElectionTiming;
  readonly priority: number;

  private readonly store: LeaseStore;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly metadata: LeaseMetadata;
  private readonly storeBackoff: Backoff;

  private readonly calls: StoreCalls;
  private readonly heartbeat: MemberHeartbeat;
  private readonly steering: Steering;
  private readonly beforeHandOver: () => Promise<void>;
  private readonly freeLockDelay: ((freeForMs: number) => number) | null;
  private readonly sharedHeartbeat: SharedHeartbeat | null;
  /** Monotonic time the current tenure began (`elected`), or null. */
  private electedAt: number | null = null;

  /**
   * Whether start() and stop() were called: the elector's life, not its place in the
   * election (that is the public `ElectorState`, which a running elector derives).
   */
  private lifecycle: 'idle' | 'running' | 'stopped' = 'idle';
  private held: HeldLease | null = null;
  private leader: LeaderInfo | null = null;
  private leaderSince: number | null = null;
  private observed = false;
  /** A follower does not try to acquire before this time (after resigning). */
  private holdOffUntil = 0;
  /** After a resign, the next wait before reading who took over (while none is known). */
  private handoverPollMs = HANDOVER_FIRST_POLL_MS;
  /** Until when a resigned candidate that knows no leader reads the store to find one. */
  private handoverPollUntil = 0;
  private readonly runController = new AbortController();
  private wakeLoop: (() => void) | null = null;
  /**
   * A watch event came while the loop was busy (a store call in flight): its next pause ends
   * at once, so an attempt refused just before a release or hand-over landed is made again.
   */
  private wokenWhileBusy = false;
  /** The watch woke this follower since its last claim: the next step claims. */
  private watchWoke = false;
  /** When this follower last sent a claim (monotonic), for WATCHED_POLL_TTLS. */
  private lastClaimAt = Number.NEGATIVE_INFINITY;
  /**
   * How long after it a watched follower claims again: WATCHED_POLL_TTLS, less up to half at
   * random per claim, so that the elections a sidecar started together do not claim
   * together ever after (on ZooKeeper 1,000 such claims a TTL met a takeover and timed it
   * out: all led again 15.7-52.7 s after a SIGKILL, ~10 s polling).
   */
  private watchedClaimAfterMs = 0;
  /**
   * The next step claims without reading first: the last read saw the lease running out
   * before the next one, or failed, or a read of this step already saw the lock free.
   */
  private claimAtNextStep = false;
  private loopDone: Promise<void> = Promise.resolve();
  /** When this follower first found the lock free while higher-priority members lived. */
  private freeSince: number | null = null;
  private readonly terms: TermHistory;

  constructor(options: ElectorOptions) {
    super();
    this.timing = resolveTiming(options);
    this.election = checkName('election', options.election, ELECTION_NAME);
    this.id = checkName('id', options.id, CANDIDATE_ID);
    this.priority = checkPriority('priority', options.priority ?? 0);
    this.store = checkStore('store', options.store);
    this.metadata = options.metadata ?? {};
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.terms = new TermHistory(this.election, (event) => this.safeEmit('term-regression', event));
    this.sharedHeartbeat = checkSharedHeartbeat(options.sharedHeartbeat, this.store);
    this.calls = new StoreCalls(
      this.clock,
      storeCallTimeoutMs(this.timing),
      {
        request: (event) => this.safeEmit('store-request', event),
        hearsRequests: () => this.listenerCount('store-request') > 0,
        health: (health) => this.safeEmit('store-health', health),
      },
      this.sharedHeartbeat?.callTimeouts,
    );
    this.heartbeat = new MemberHeartbeat({
      store: this.store,
      election: this.election,
      id: this.id,
      priority: this.priority,
      metadata: this.metadata,
      clock: this.clock,
      timing: this.timing,
      calls: this.calls,
      isLeader: () => this.isLeader(),
      isRunning: () => this.lifecycle === 'running',
      steering: () => this.steering.published(),
      shared: this.sharedHeartbeat,
    });
    this.beforeHandOver = options.beforeHandOver ?? (() => Promise.resolve());
    this.freeLockDelay = options.freeLockDelay ?? null;
    this.steering = new Steering(this.steeringHost(), options.steering ?? {});
    const { retryIntervalMs, ttlMs } = this.timing;
    this.storeBackoff = new Backoff(
      Math.min(100, retryIntervalMs),
      Math.min(ttlMs, 4 * retryIntervalMs),
      this.random,
    );
  }

  /** Start competing. Returns at once; watch the events or `status()`. */
  start(): void {
    if (this.lifecycle !== 'idle') {
      throw new ElectorStateError(`elector "${this.election}" was already started`);
    }
    this.lifecycle = 'running';
    this.startWatching();
    // Knowing the other members before the first attempt lets priorities count from the
    // start; the heartbeat is bounded by the store timeout and never rejects.
    this.loopDone = this.heartbeat.start().then(() => this.runLoop());
  }

  /**
   * Stop competing. If leading, stop reporting leadership first, then release the lease so a
   * follower takes over at once instead of after a TTL. Does not close the store.
   *
   * `withinMs` bounds the whole stop (default: the release's own 5 s, then 1 s for the rest):
   * a shutdown with a grace period passes what is left of it, so that stopping can never
   * outlast it. A release that could not be sent in time leaves the lease to expire.
   */
  async stop(options: { readonly withinMs?: number } = {}): Promise<void> {
    if (this.lifecycle === 'stopped') return this.loopDone;
    this.lifecycle = 'stopped';
    this.steering.stop();
    this.runController.abort();
    this.wakeLoop?.();
    const deadline = this.clock.now() + (options.withinMs ?? Number.POSITIVE_INFINITY);
    const upTo = (ms: number): number => Math.max(0, Math.min(ms, deadline - this.clock.now()));
    const held = this.held;
    if (held !== null) {
      this.stepDown(held, 'stopped', { release: false });
      await this.releaseQuietly(held.lease, upTo(RELEASE_TIMEOUT_MS));
    }
    await Promise.all([
      // The member record expires one TTL after its last heartbeat anyway: removing it is a
      // courtesy, not worth a slow shutdown, and skipped while the store is failing.
      this.heartbeat.remove(upTo(MEMBER_REMOVAL_TIMEOUT_MS)),
      // The loop ends as soon as its store call in flight does; on a store that stopped
      // answering that is a whole timeout, so stop waiting after a bound. The loop still
      // releases a lease that call wins (it sees the stopped state), if the store lets it.
      waitAtMost(this.loopDone, upTo(LOOP_STOP_WAIT_MS), this.clock),
    ]);
  }

  /**
   * Give up leadership now and let another candidate take it. This candidate stays in the
   * race but does not try again for two retry intervals (with batched reads, a heartbeat
   * period and a retry interval: `handoverWaitMs`), or for `holdOffMs` if that is longer
   * (`leasehold run` backing off a command that keeps failing). Resolves to false
   * when it was not holding the lease. `resignWithOutcome()` also says what became of the
   * lease.
   */
  async resign(options: { readonly holdOffMs?: number } = {}): Promise<boolean> {
    return (await this.resignWithOutcome(options)).resigned;
  }

  /**
   * `resign()`, telling whether the lease was released or, when the release failed, why and
   * until when the store keeps it. The store is read after the release, so that this
   * candidate learns who took over without waiting for its own next attempt.
   */
  async resignWithOutcome(options: { readonly holdOffMs?: number } = {}): Promise<ResignOutcome> {
    const held = this.held;
    if (held === null || this.lifecycle !== 'running') {
      return { resigned: false, released: false, releaseError: null, leaseExpiresBy: null };
    }
    const handover = this.handoverWaitMs();
    this.holdOffUntil = this.clock.now() + Math.max(handover, options.holdOffMs ?? 0);
    // A long hold-off (a crash-looping command) does not poll for its whole length.
    this.handoverPollUntil = this.clock.now() + handover;
    this.handoverPollMs = HANDOVER_FIRST_POLL_MS;
    this.stepDown(held, 'resigned', { release: false });
    let releaseError: ResignOutcome['releaseError'] = null;
    try {
      await this.calls.call('release', () => this.store.release(held.lease), {
        timeoutMs: RELEASE_TIMEOUT_MS,
      });
    } catch (error) {
      releaseError = describeError(error);
    }
    const read = await this.readOrFailure();
    if (read.ok) this.observe(read.record);
    const stillOurs = !read.ok || (read.record !== null && read.record.term === held.lease.term);
    if (releaseError === null || !stillOurs) {
      return { resigned: true, released: true, releaseError, leaseExpiresBy: null };
    }
    const expiresBy = Date.now() + Math.max(0, held.storeExpiresBy - this.clock.now());
    return { resigned: true, released: false, releaseError, leaseExpiresBy: expiresBy };
  }

  /**
   * How long a resigned candidate stands back: two retry intervals, in which a follower
   * polling at its retry interval claims. Where followers read on a shared heartbeat's grid
   * (§3.8: once a period, not every retry interval), one period plus a retry interval, so
   * that a follower that missed the release's wake-up still reads it free and claims
   * before the resigner is back (with the grid's 3.3 s at the default TTL and 2 s of
   * hold-off, a resign whose wake-up was missed was taken back more often than not).
   */
  private handoverWaitMs(): number {
    const polls = 2 * this.timing.retryIntervalMs;
    const heartbeat = this.sharedHeartbeat;
    if (heartbeat === null || !heartbeat.batchesReads) return polls;
    return Math.max(polls, heartbeat.periodMs + this.timing.retryIntervalMs);
  }

  /** Whether this candidate leads at this very moment, by its own deadline. */
  isLeader(): boolean {
    const held = this.held;
    return held !== null && held.elected && this.clock.now() < held.validUntil;
  }

  /** The current term if this candidate leads now, otherwise null. */
  currentTerm(): number | null {
    return this.isLeader() ? (this.held?.lease.term ?? null) : null;
  }

  /**
   * Aborts when the term this process leads ends. When it does not lead, an already
   * aborted signal: work guarded by it never starts without leadership.
   */
  get signal(): AbortSignal {
    if (this.isLeader() && this.held !== null) return this.held.termController.signal;
    return AbortSignal.abort('not-leader');
  }

  /**
   * Live candidates of this election, highest priority first. A store without member
   * records can only tell about this candidate.
   */
  members(): Promise<readonly MemberInfo[]> {
    return this.heartbeat.list(this.status().leader?.id ?? null);
  }

  /**
   * Hand leadership to the live candidate `to` (docs/design.md §3.6): this candidate stops
   * leading, the store reserves the election for `to`, and the outcome says whether `to`
   * took it within the reservation or this candidate took it back. Refused with a
   * TransferError (LEASEHOLD_E_TRANSFER_…) when this candidate does not lead, `to` is not
   * live, drained or unhealthy, the store cannot transfer, or a transfer is under way.
   */
  transfer(to: string): Promise<TransferOutcome> {
    return this.steering.transfer(to);
  }

  /**
   * Stop campaigning; when leading, hand over to the first eligible candidate in line. With
   * nobody eligible, keep leading (code LEASEHOLD_E_TRANSFER_NO_CANDIDATE) and hand over
   * once someone is, or with `force` resign anyway.
   */
  drain(options: { readonly force?: boolean } = {}): Promise<DrainOutcome> {
    return this.steering.drain(options);
  }

  /** Campaign again after `drain()` or a `standby` start. */
  undrain(): void {
    this.steering.undrain();
    this.wakeLoop?.();
  }

  /** One result of the app's health check; the gate's thresholds decide (§3.6). */
  setAppHealth(healthy: boolean): void {
    this.steering.setAppHealth(healthy);
    this.wakeLoop?.();
  }

  /** Everything about this candidate, read at one instant: answers never mix two moments. */
  status(): ElectorStatus {
    const now = this.clock.now();
    const held = this.held;
    const isLeader = held !== null && held.elected && now < held.validUntil;
    let state: ElectorState;
    if (this.lifecycle === 'idle' || this.lifecycle === 'stopped') state = this.lifecycle;
    else if (isLeader) state = 'leading';
    else if (held !== null && now < held.validUntil) state = 'pending';
    else state = 'following';
    // Our own leadership, like isLeader(), ends at the deadline even when the timer that
    // records it has not run yet (a frozen process answering its first request).
    const leader = this.leader?.self === true && !isLeader ? null : this.leader;
    const terms = this.terms.snapshot();
    // Fields written out, not spread: every GET /v1/leader asks for a status.
    return {
      election: this.election,
      id: this.id,
      backend: this.store.backend,
      state,
      isLeader,
      term: isLeader ? held.lease.term : null,
      leader,
      leaderSince: leader === null ? null : this.leaderSince,
      leaseRemainingMs: isLeader ? Math.max(0, held.validUntil - now) : 0,
      leadsFrom:
        state === 'pending' && held !== null
          ? Date.now() + Math.max(0, held.notBefore - now)
          : null,
      observed: this.observed,
      store: this.calls.health,
      steering: this.steering.state,
      highestTerm: terms.highestTerm,
      termRegressions: terms.termRegressions,
      lastTermRegression: terms.lastTermRegression,
    };
  }

  /** Watch events only wake the loop early; polling covers a watch that fails. */
  private startWatching(): void {
    const onChange = (): void => {
      this.watchWoke = true;
      if (this.wakeLoop === null) this.wokenWhileBusy = true;
      else this.wakeLoop();
    };
    // Listen, then look: the first claim goes out while the watch is being set up, and a
    // release between the two is heard by nobody; a follower reading on its heartbeat's
    // grid would learn of it a renew interval late (a resign's hand-over taken back by the
    // resigner after its hold-off). So once the watch is in place, look again.
    const inPlace = (): void => {
      if (this.lastClaimAt > Number.NEGATIVE_INFINITY) onChange();
    };
    try {
      this.store
        .watch?.(this.election, onChange, this.runController.signal, this.id)
        ?.then(inPlace, () => {});
    } catch {
      // A store whose watch throws still works by polling.
    }
  }

  // ---------------------------------------------------------------- the loop

  private async runLoop(): Promise<void> {
    while (this.lifecycle === 'running') {
      try {
        const held = this.held;
        if (held === null) await this.followStep();
        else await this.holdStep(held);
      } catch (error) {
        // Only a bug of ours lands here (store errors are handled per call). Keep the
        // election alive rather than leave an unhandled rejection behind.
        this.calls.report(error);
        await this.pause(this.storeBackoff.next());
      }
    }
  }

  private async followStep(): Promise<void> {
    const holdOff = this.holdOffUntil - this.clock.now();
    if (holdOff > 0) {
      await this.awaitHandover(holdOff);
      return;
    }
    if (!this.steering.mayCampaign()) {
      // Drained, or the app not healthy: follow the election without claiming it.
      const record = await this.readQuietly();
      this.observe(record);
      await this.pauseUntil(this.heldNoClaimUntil());
      return;
    }
    const priorityWait = await this.priorityWait();
    if (priorityWait > 0) {
      await this.pause(priorityWait);
      return;
    }
    if (this.watchStandsIn()) {
      await this.pause(this.followerDelay(null));
      return;
    }
    if (await this.readStandsIn()) return;
    const result = await this.acquireOnce();
    if (result === null) await this.pause(this.storeBackoff.next());
    else if (!result.acquired) await this.pauseWhileHeld(result.retryAfterMs);
  }

  /**
   * §3.8, "Followers read in batches": a follower that knows the election held by another
   * reads it in its shared heartbeat's batch (`batch.readMany`) instead of claiming it, and
   * claims only once a read shows the lock free, or the lease running out before its next
   * read (then at the expiry, when first in line). A failed read is followed by a claim, as
   * without batched reads. Not when the watch woke it, when no leader is known, or when it
   * is the holder itself. Resolves to whether it read in place of this step's claim.
   */
  private async readStandsIn(): Promise<boolean> {
    const heartbeat = this.sharedHeartbeat;
    const claim =
      this.claimAtNextStep || this.watchWoke || this.leader === null || this.leader.self;
    this.claimAtNextStep = false;
    if (heartbeat === null || !heartbeat.batchesReads || claim) return false;
    let record: LeaseRecord | null;
    try {
      record = await this.calls.call('read', () => heartbeat.read(this.election));
    } catch {
      this.claimAtNextStep = true;
      await this.pause(this.storeBackoff.next());
      return true;
    }
    if (this.lifecycle !== 'running') return true;
    this.storeBackoff.reset();
    this.observe(record);
    // Free, or held under our own id by a lease we do not hold (one answered too late):
    // claim now, as a poll would have.
    if (record === null || record.holder === this.id) return false;
    await this.pauseWhileHeld(record.remainingMs);
    return true;
  }

  /**
   * Wait after seeing the lock held by another with `remainingMs` left (null: unknown). With
   * batched reads, until this follower's next read, on the heartbeat's grid; but the first
   * in line whose leader's lease runs out before then waits for the expiry and claims.
   * Without, `followerDelay` as always.
   */
  private pauseWhileHeld(remainingMs: number | null): Promise<void> {
    return this.pauseUntil(this.heldUntil(remainingMs));
  }

  private heldDelay(remainingMs: number | null): number {
    return this.heldUntil(remainingMs) - this.clock.now();
  }

  /** `heldDelay` as a time: with batched reads, the heartbeat's tick itself. */
  private heldUntil(remainingMs: number | null): number {
    const now = this.clock.now();
    const heartbeat = this.sharedHeartbeat;
    if (heartbeat === null || !heartbeat.batchesReads) {
      return now + this.followerDelay(remainingMs);
    }
    const nextRead = heartbeat.readAt(now + this.pollMs());
    const firstInLine = this.heartbeat.isFirstInLine(this.leader?.id ?? null);
    if (remainingMs !== null && firstInLine && now + Math.max(0, remainingMs) + 1 <= nextRead) {
      this.claimAtNextStep = true;
      return now + Math.max(0, remainingMs) + 1;
    }
    return nextRead;
  }

  /**
   * Whether this poll can be skipped: the store's watch is live and will wake this follower
   * when the lock it saw held goes (§3.8). Not when the watch woke it, when it saw the lock
   * free or held by itself (a priority, shard or hand-over wait ends without an event), nor
   * once WATCHED_POLL_TTLS have passed since its last claim.
   */
  private watchStandsIn(): boolean {
    if (this.watchWoke || this.leader === null || this.leader.self) return false;
    const sinceClaim = this.clock.now() - this.lastClaimAt;
    if (sinceClaim >= this.watchedClaimAfterMs) return false;
    return this.store.watching?.(this.election, this.id) === true;
  }

  /**
   * One claim: takes the lease when granted, notes who holds it otherwise (`current` filled
   * in by a read when the store did not say). Null when the store failed or we stopped.
   */
  private async acquireOnce(): Promise<AcquireResult | null> {
    const sentAt = this.clock.now();
    this.watchWoke = false;
    this.claimAtNextStep = false;
    this.lastClaimAt = sentAt;
    this.watchedClaimAfterMs = WATCHED_POLL_TTLS * this.timing.ttlMs * (0.5 + 0.5 * this.random());
    const acquiredAt = Date.now();
    const request = {
      election: this.election,
      holder: this.id,
      token: randomUUID(),
      ttlMs: this.timing.ttlMs,
      metadata: { ...this.metadata, [TENURE_START_KEY]: new Date(acquiredAt).toISOString() },
    };
    let result;
    try {
      // On a shared heartbeat, in its batch of claims (`batch.claimMany`) where the store has one.
      const claim = (): Promise<AcquireResult> =>
        this.sharedHeartbeat?.claim(request) ?? this.store.tryAcquire(request);
      result = await this.calls.call('acquire', claim, {
        // An acquire answered after we gave up on it still holds the lock: hand it back.
        onLate: (late) => {
          if (late.acquired) void this.releaseQuietly(late.lease);
        },
      });
    } catch {
      return null;
    }
    this.storeBackoff.reset();
    if (this.lifecycle !== 'running') {
      if (result.acquired) await this.releaseQuietly(result.lease);
      return null;
    }
    this.freeSince = null;
    if (result.acquired) {
      this.takeLease(result.lease, sentAt, acquiredAt);
      return result;
    }
    const current = result.current ?? (await this.readQuietly());
    this.observe(current);
    return { ...result, current };
  }

  private async holdStep(held: HeldLease): Promise<void> {
    // A shared heartbeat may pull the renewal earlier (to its tick), never later.
    const renewAt = this.sharedHeartbeat?.renewAt(held.nextRenewAt) ?? held.nextRenewAt;
    // The tick itself, not `renewAt - now`: time passes between two readings of the clock.
    await this.pauseUntil(renewAt);
    if (this.held !== held || this.lifecycle !== 'running') return;
    // Woken past the deadline (a frozen process): leadership already ended by expiry. Say so
    // before a renewal's answer can, so the reason is the same on every store, whether the
    // answer comes at once (SQLite) or after the deadline timer has run (a network store).
    if (this.clock.now() >= held.validUntil) {
      this.stepDown(held, 'lease-expired', { release: true });
      return;
    }
    const sentAt = this.clock.now();
    let result;
    try {
      // sentAt is when the renewal is handed over: no later than a batch carrying it is sent.
      result = await this.calls.call('renew', () => this.renewOnce(held.lease));
    } catch {
      if (this.held !== held) return;
      const now = this.clock.now();
      if (now >= held.validUntil) {
        this.stepDown(held, 'lease-expired', { release: true });
      } else {
        held.nextRenewAt = now + Math.min(held.renewBackoff.next(), held.validUntil - now);
      }
      return;
    }
    if (this.held !== held) return;
    if (!result.renewed) {
      // Still release: the store may hold more than the lease row for us (PostgreSQL's
      // advisory lock lives with the session), and the release is token-guarded, so it
      // cannot touch whoever holds the election now.
      this.stepDown(held, 'lost', { release: true });
      return;
    }
    held.renewBackoff.reset();
    held.storeExpiresBy = this.clock.now() + storeTtlBoundMs(this.timing, result.ttlMs);
    held.validUntil = Math.max(
      held.validUntil,
      sentAt + leaseValidityMs(this.timing, result.ttlMs),
    );
    held.nextRenewAt = sentAt + this.timing.renewIntervalMs;
    this.armDeadline(held);
  }

  /**
   * After a resign this candidate does not compete for a while, but it must still know who
   * leads: until someone is seen, read the store at short intervals (the new leader is
   * usually elected within milliseconds of the release, and acquiring wakes no watcher).
   */
  private async awaitHandover(holdOff: number): Promise<void> {
    const pollFor = this.handoverPollUntil - this.clock.now();
    if (this.leader !== null || pollFor <= 0) {
      await this.pause(holdOff);
      return;
    }
    const wait = Math.min(holdOff, pollFor, this.handoverPollMs);
    this.handoverPollMs = Math.min(
      2 * this.handoverPollMs,
      Math.max(HANDOVER_FIRST_POLL_MS, this.timing.retryIntervalMs / 10),
    );
    await this.pause(wait);
    if (this.lifecycle !== 'running' || this.clock.now() >= this.holdOffUntil) return;
    const read = await this.readOrFailure();
    if (read.ok) this.observe(read.record);
  }

  /**
   * docs/design.md §3.5: when the lock is free, wait one retry interval per priority level of live
   * members above ours before trying, so the highest-priority candidate normally wins. Only
   * a free lock costs the extra read; with equal priorities nobody waits.
   */
  private async priorityWait(): Promise<number> {
    const higherLevels = this.heartbeat.higherPriorityLevels();
    if (higherLevels === 0 && this.freeLockDelay === null) return 0;
    let current: LeaseRecord | null;
    try {
      current = await this.calls.call('read', () => this.readLease());
    } catch {
      return this.storeBackoff.next();
    }
    const now = this.clock.now();
    if (current !== null) {
      this.freeSince = null;
      this.observe(current);
      return this.heldDelay(current.remainingMs);
    }
    // A transfer's reservation outranks the order: its successor claims at once.
    const reserved = (await this.reservationWait()) ?? this.freeWait(higherLevels, now);
    // Seen free just now: a claim that follows need not read again (readStandsIn).
    this.claimAtNextStep = reserved <= 0;
    return reserved;
  }

  private freeWait(higherLevels: number, now: number): number {
    this.freeSince ??= now;
    const wait = this.freeSince + higherLevels * this.timing.retryIntervalMs - now;
    if (wait > 0 || this.freeLockDelay === null) return wait;
    return this.freeLockDelay(now - this.freeSince);
  }

  // ---------------------------------------------------------------- transitions

  private takeLease(lease: Lease, sentAt: number, acquiredAt: number): void {
    const receivedAt = this.clock.now();
    const held: HeldLease = {
      lease,
      acquiredAt,
      notBefore: receivedAt + holdOffMs(this.timing, lease.notBeforeMs),
      validUntil: sentAt + leaseValidityMs(this.timing, lease.ttlMs),
      storeExpiresBy: receivedAt + storeTtlBoundMs(this.timing, lease.ttlMs),
      nextRenewAt: sentAt + this.timing.renewIntervalMs,
      elected: false,
      termController: new AbortController(),
      renewBackoff: new Backoff(
        Math.min(100, Math.floor(this.timing.renewIntervalMs / 4)),
        Math.floor(this.timing.renewIntervalMs / 2),
        this.random,
      ),
      deadlineTimer: null,
      notBeforeTimer: null,
    };
    this.held = held;
    this.observed = true;
    this.terms.note(lease.term);
    this.armDeadline(held);
    if (held.notBefore > receivedAt) {
      held.notBeforeTimer = setTimerAt(this.clock, held.notBefore, () => this.declareElected(held));
    } else {
      this.declareElected(held);
    }
  }

  private declareElected(held: HeldLease): void {
    if (this.held !== held || held.elected) return;
    const now = this.clock.now();
    if (now < held.notBefore) return;
    if (now >= held.validUntil) {
      this.stepDown(held, 'lease-expired', { release: true });
      return;
    }
    held.elected = true;
    this.electedAt = now;
    this.setLeader({ id: this.id, term: held.lease.term, self: true }, held.acquiredAt);
    void this.heartbeat.beat();
    this.steering.onElected();
    this.safeEmit('elected', {
      election: this.election,
      id: this.id,
      term: held.lease.term,
      signal: held.termController.signal,
    });
  }

  /**
   * The deadline timer makes events and the term signal follow the deadline promptly. One
   * timer per lease, not one per renewal: `validUntil` only ever moves later, so a timer
   * armed for an earlier one fires no later than the current deadline; it then steps down
   * if that has passed, or arms itself again for it. (isLeader() never waits for it.)
   */
  private armDeadline(held: HeldLease): void {
    held.deadlineTimer ??= this.deadlineTimer(held);
    this.safeEmit('lease', {
      election: this.election,
      id: this.id,
      term: held.lease.term,
      validUntil: held.validUntil,
      leadsFrom: held.notBefore,
    });
  }

  private deadlineTimer(held: HeldLease): TimerHandle {
    return setTimerAt(this.clock, held.validUntil, () => {
      held.deadlineTimer = null;
      if (this.held !== held) return;
      if (this.clock.now() >= held.validUntil) {
        this.stepDown(held, 'lease-expired', { release: true });
      } else {
        held.deadlineTimer = this.deadlineTimer(held);
      }
    });
  }

  private stepDown(held: HeldLease, reason: DeposeReason, options: { release: boolean }): void {
    if (this.held !== held) return;
    this.held = null;
    held.deadlineTimer?.cancel();
    held.notBeforeTimer?.cancel();
    held.termController.abort(reason);
    if (held.elected) {
      this.safeEmit('deposed', {
        election: this.election,
        id: this.id,
        term: held.lease.term,
        reason,
      });
    }
    if (this.leader?.self === true) this.setLeader(null);
    // Our last renew may have reached the store even though its answer did not reach us;
    // releasing (compare-and-delete) spares the next holder the rest of that lease.
    if (options.release) void this.releaseQuietly(held.lease);
    this.wakeLoop?.();
  }

  // ---------------------------------------------------------------- steering

  /**
   * While the lock is free: 0 when a transfer reserved it for us, the reservation's rest
   * when for another, null when there is none (or the store cannot say).
   */
  private async reservationWait(): Promise<number | null> {
    const transfer = this.store.transfer;
    if (transfer === undefined) return null;
    try {
      const reserved = await this.calls.call('read', () => transfer.reservation(this.election));
      if (reserved === null) return null;
      return reserved.successor === this.id ? 0 : reserved.remainingMs + 1;
    } catch {
      return null;
    }
  }

  /** What transfers, drains and health gating need of the elector (steering.ts). */
  private steeringHost(): SteeringHost {
    return {
      id: this.id,
      election: this.election,
      timing: this.timing,
      clock: this.clock,
      store: this.store,
      calls: this.calls,
      isLeader: () => this.isLeader(),
      members: () => this.members(),
      beforeHandOver: () => this.beforeHandOver().catch(() => {}),
      stepDownForTransfer: (untilMs) => this.stepDownForTransfer(untilMs),
      claimNow: () => this.claimNow(),
      read: async () => {
        const record = await this.calls.call('read', () => this.store.read(this.election));
        this.observe(record);
        return record;
      },
      endTransfer: () => {
        this.holdOffUntil = 0;
        this.wakeLoop?.();
      },
      tenureStart: () => (this.isLeader() ? this.electedAt : null),
      resign: () => this.resign(),
      publish: () => {
        void this.heartbeat.beat();
        this.safeEmit('steering', this.steering.state);
      },
    };
  }

  /** A transfer begins: leadership ends now, and the loop waits while it runs. */
  private stepDownForTransfer(untilMs: number): Lease | null {
    const held = this.held;
    if (held === null || this.lifecycle !== 'running' || !this.isLeader()) return null;
    this.holdOffUntil = untilMs;
    this.handoverPollUntil = 0;
    this.stepDown(held, 'transferred', { release: false });
    return held.lease;
  }

  /** A transfer's take-back: one claim, whoever holds the election after it. */
  private async claimNow(): Promise<LeaseRecord | null> {
    const result = await this.acquireOnce();
    if (result === null) return this.readQuietly();
    if (!result.acquired) return result.current;
    const { lease } = result;
    return {
      election: this.election,
      holder: this.id,
      term: lease.term,
      metadata: {},
      remainingMs: lease.ttlMs,
    };
  }

  // ---------------------------------------------------------------- observation

  private observe(record: LeaseRecord | null): void {
    this.observed = true;
    if (record !== null) this.terms.note(record.term);
    this.setLeader(
      record === null
        ? null
        : {
            id: record.holder,
            term: record.term,
            self: record.holder === this.id && this.isLeader(),
          },
      record === null ? null : tenureStart(record),
    );
  }

  /**
   * `tenureStart`: when `next` began to lead, if known. A record read again may carry it
   * when an earlier read of the same tenure did not (ZooKeeper writes it when it grants),
   * so it is taken without a `leader` event.
   */
  private setLeader(next: LeaderInfo | null, tenureStart: number | null = null): void {
    const previous = this.leader;
    if (
      previous?.id === next?.id &&
      previous?.term === next?.term &&
      previous?.self === next?.self
    ) {
      if (next !== null && tenureStart !== null) this.leaderSince = tenureStart;
      return;
    }
    this.leader = next;
    this.leaderSince = next === null ? null : (tenureStart ?? Date.now());
    this.safeEmit('leader', next);
  }

  /** One retry interval, jittered by ±20 %. */
  private pollMs(): number {
    return this.timing.retryIntervalMs * (0.8 + 0.4 * this.random());
  }

  private followerDelay(retryAfterMs: number | null): number {
    const poll = this.pollMs();
    // The store told us when the current lease runs out: the first in line try right then,
    // not up to a poll interval later (the extra millisecond keeps them from arriving just
    // before the expiry); the rest poll, so that an expiry is not a herd of every follower.
    const firstInLine = this.heartbeat.isFirstInLine(this.leader?.id ?? null);
    return retryAfterMs === null || !firstInLine
      ? poll
      : Math.min(poll, Math.max(0, retryAfterMs) + 1);
  }

  // ---------------------------------------------------------------- store calls

  private renewOnce(lease: Lease): Promise<RenewResult> {
    return this.sharedHeartbeat?.renew(lease) ?? this.store.renew(lease);
  }

  /** The lease expires by itself: a failed release costs the next holder one TTL at most. */
  private releaseQuietly(lease: Lease, timeoutMs = RELEASE_TIMEOUT_MS): Promise<void> {
    return this.calls.quietly('release', () => this.store.release(lease), timeoutMs);
  }

  private async readOrFailure(): Promise<
    { readonly ok: true; readonly record: LeaseRecord | null } | { readonly ok: false }
  > {
    try {
      return {
        ok: true,
        record: await this.calls.call('read', () => this.store.read(this.election)),
      };
    } catch {
      return { ok: false };
    }
  }

  private async readQuietly(): Promise<LeaseRecord | null> {
    try {
      return await this.calls.call('read', () => this.readLease());
    } catch {
      return null;
    }
  }

  /** The lease's record, read in the shared heartbeat's batch when the store batches reads. */
  private readLease(): Promise<LeaseRecord | null> {
    const heartbeat = this.sharedHeartbeat;
    return heartbeat?.batchesReads === true
      ? heartbeat.read(this.election)
      : this.store.read(this.election);
  }

  /** A follower that may not claim polls on the heartbeat's grid when reads are batched. */
  private heldNoClaimUntil(): number {
    const heartbeat = this.sharedHeartbeat;
    const pollUntil = this.clock.now() + this.followerDelay(null);
    return heartbeat?.batchesReads === true ? heartbeat.readAt(pollUntil) : pollUntil;
  }

  /** Wait `ms`, or less if stopped, resigned or woken by a watch event. */
  private pause(ms: number): Promise<void> {
    return this.pauseUntil(this.clock.now() + Math.max(0, ms));
  }

  /** Wait until `at` (monotonic ms), or less if stopped, resigned or woken by a watch event. */
  private pauseUntil(at: number): Promise<void> {
    if (this.lifecycle !== 'running') return Promise.resolve();
    if (this.wokenWhileBusy) {
      this.wokenWhileBusy = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        timer.cancel();
        if (this.wakeLoop === done) this.wakeLoop = null;
        resolve();
      };
      const timer = this.wakeAt(at, done);
      this.wakeLoop = done;
    });
  }

  /**
   * A wait that ends at a tick of the shared heartbeat (a renewal, a batched read) is woken
   * by the tick's one timer together with every other elector's (§3.8, "One timer per
   * tick"): a timer each fired spread out on a loaded machine, and the tick became several
   * requests. Any other wait has a timer of its own.
   */
  private wakeAt(at: number, wake: () => void): TimerHandle {
    const heartbeat = this.sharedHeartbeat;
    if (heartbeat === null) return this.clock.setTimer(Math.max(0, at - this.clock.now()), wake);
    return heartbeat.wakeAt(at, wake);
  }

  /** Listeners are user code: their exceptions must not break the election loop. */
  private safeEmit<K extends keyof ElectorEvents>(event: K, ...args: ElectorEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: ElectorEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      process.emitWarning(
        `leasehold: a "${String(event)}" listener threw: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
}

/** The tenure start a lease record carries (TENURE_START_KEY), or null. */
function tenureStart(record: LeaseRecord): number | null {
  const written = record.metadata[TENURE_START_KEY];
  const ms = written === undefined ? Number.NaN : Date.parse(written);
  return Number.isFinite(ms) ? ms : null;
}

/** A shared heartbeat renews through its own store: it must be this elector's. */
function checkSharedHeartbeat(
  heartbeat: SharedHeartbeat | undefined,
  store: LeaseStore,
): SharedHeartbeat | null {
  if (heartbeat === undefined) return null;
  if (heartbeat.store !== store) {
    throw new LeaseholdConfigError(
      'sharedHeartbeat',
      'a heartbeat of another store',
      'a SharedHeartbeat made for the same store as the elector',
    );
  }
  return heartbeat;
}
