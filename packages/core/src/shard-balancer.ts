import { isEligible } from './candidate-order.js';
import type { Clock } from './clock.js';
import type { MemberInfo } from './members.js';
import { fairShare, planMoves, type ShardView } from './shard-plan.js';
import { handoffMs } from './transfer.js';
import { storeCallTimeoutMs, type ElectionTiming } from './timing.js';

/**
 * One candidate's side of balancing a shard group (docs/shards.md): it settles membership
 * (hysteresis), stands back from free shards while at or above its share, and hands its own
 * surplus to candidates below theirs by transfer. It never lets a lease expire on purpose:
 * every move is an `Elector.transfer`, and safety stays with each shard's elector.
 */

export interface ShardBalanceOptions {
  /**
   * How many member observations in a row (one per renew interval) must agree before a
   * membership change moves shards. Default 2: a member missing from one list moves nothing.
   */
  readonly settleObservations?: number;
  /** This candidate's transfers under way at once. Default 2. */
  readonly maxTransfers?: number;
  /**
   * Whether a candidate at or above its share waits before claiming a free shard, so that
   * candidates below their share get it first. Default true. With it, free shards also wait
   * at start-up for the first settled member list (at most `settleObservations` renew
   * intervals and one handoff), so candidates started together claim by their share instead
   * of the first one claiming every shard and handing the rest away.
   */
  readonly standBack?: boolean;
}

/** What the balancer needs of its group. */
export interface BalancerHost {
  readonly id: string;
  readonly count: number;
  readonly clock: Clock;
  readonly timing: ElectionTiming;
  /** Who leads `shard` as far as this candidate knows (itself included), or null. */
  leaderOf(shard: number): string | null;
  /** Whether this candidate holds `shard`'s lease (leading, or held off: pending). */
  holds(shard: number): boolean;
  /** How many shards `holds` is true of. */
  heldCount(): number;
  /** Whether this candidate leads `shard` now. */
  leads(shard: number): boolean;
  /** This candidate as a member (its record may not be listed yet). */
  self(): MemberInfo | null;
  /** Hand `shard` to `to`; resolves when the transfer is over: whether `to` took it. */
  transfer(shard: number, to: string): Promise<boolean>;
}

export class ShardBalancer {
  private readonly settleObservations: number;
  private readonly maxTransfers: number;
  private readonly standBack: boolean;
  /** The latest member list's eligible ids, sorted: free shards are claimed by it. */
  private latest: readonly string[] = [];
  private streak = 0;
  /** The eligible ids seen `settleObservations` times in a row: shards move by it. */
  private settled: readonly string[] | null = null;
  /** Live member ids of the latest list (eligible or not). */
  private live: ReadonlySet<string> = new Set();
  /** Free shards this candidate was let claim, and when: they count against its share. */
  private readonly grants = new Map<number, number>();
  /** Shards this candidate is handing over, and to whom. */
  readonly moving = new Map<number, string>();
  private running = true;
  /** Until when free shards wait for the first settled member list (set by `start`). */
  private startupUntil: number | null = null;
  /** When that wait ended: from then on, how long a shard has been free counts. */
  private startupEndedAt = -Infinity;

  constructor(
    private readonly host: BalancerHost,
    options: ShardBalanceOptions = {},
  ) {
    this.settleObservations = options.settleObservations ?? 2;
    this.maxTransfers = options.maxTransfers ?? 2;
    this.standBack = options.standBack ?? true;
  }

  /** Eligible candidates the balancer acts on, once settled (null before). */
  get members(): readonly string[] | null {
    return this.settled;
  }

  /**
   * The group starts: until membership first settles, free shards wait (`startupWait`), at
   * most `settleObservations` renew intervals and one handoff (a list that never comes, on a
   * store in trouble, delays the first claims no longer than that).
   */
  start(): void {
    const { timing } = this.host;
    this.startupUntil =
      this.host.clock.now() + this.settleObservations * timing.renewIntervalMs + handoffMs(timing);
  }

  /** One member list (a heartbeat's worth): settle it, then balance. */
  observe(members: readonly MemberInfo[]): void {
    const self = this.host.self();
    const all = self === null ? members : [self, ...members.filter((m) => m.id !== self.id)];
    const eligible = all
      .filter(isEligible)
      .map((member) => member.id)
      .sort();
    this.live = new Set(all.map((member) => member.id));
    this.streak = sameIds(eligible, this.latest) ? this.streak + 1 : 1;
    this.latest = eligible;
    if (this.streak >= this.settleObservations) {
      if (this.settled === null) this.endStartup();
      this.settled = eligible;
    }
    this.rebalance();
  }

  /**
   * The elector's `freeLockDelay` for `shard`: at once while this candidate is below its
   * share (counting the free shards it was already let claim); above it, one step per shard
   * above, from when the lock was seen free, at most one handoff, so a free shard is never
   * left for long even when every candidate is full (a member that died still listed).
   */
  freeLockDelay(shard: number, freeForMs: number): number {
    const now = this.host.clock.now();
    const startup = this.startupWait(now);
    if (startup > 0) return startup;
    // A shard seen free during the start-up wait counts as free from its end, not before.
    const freeFor = Math.min(freeForMs, now - this.startupEndedAt);
    const window = storeCallTimeoutMs(this.host.timing);
    for (const [s, at] of this.grants)
      if (now - at > window || this.host.holds(s)) this.grants.delete(s);
    this.grants.delete(shard);
    const excess = this.host.heldCount() + this.grants.size + 1 - this.claimShare();
    const step = this.host.timing.retryIntervalMs / 2;
    const wait =
      !this.standBack || excess <= 0 ? 0 : Math.min(handoffMs(this.host.timing), excess * step);
    if (wait - freeFor > 0) return wait - freeFor;
    this.grants.set(shard, now);
    return 0;
  }

  /**
   * Before the first settled member list, a candidate cannot know its share: it would count
   * itself alone and claim every free shard (then hand all but its share away). Wait, in
   * steps of one retry interval (each a read of the lock, as a follower's poll: every
   * candidate's every shard asks, so no faster), until it settles or the start-up bound passes.
   */
  private startupWait(now: number): number {
    if (this.startupUntil === null || !this.standBack) return 0;
    if (now >= this.startupUntil) this.endStartup();
    if (this.startupUntil === null) return 0;
    return Math.min(this.startupUntil - now, this.host.timing.retryIntervalMs);
  }

  private endStartup(): void {
    if (this.startupUntil === null) return;
    this.startupUntil = null;
    this.startupEndedAt = this.host.clock.now();
  }

  /** A shard's leader changed: a claim this candidate was let make is over. */
  claimEnded(shard: number): void {
    this.grants.delete(shard);
  }

  stop(): void {
    this.running = false;
  }

  /**
   * Start this candidate's part of the plan, up to `maxTransfers` at once. Nothing moves
   * before membership settled, while it is changing, or while a shard is free in this
   * candidate's view (the claims under way may balance it without a move).
   */
  rebalance(): void {
    if (!this.running || this.settled === null || this.streak < this.settleObservations) return;
    // This candidate's own eligibility (drained, health) counts at once: a drain starts
    // moving its shards without waiting for the member lists to settle.
    const self = this.host.self();
    const others = this.settled.filter((id) => id !== this.host.id);
    const view = this.view(
      self !== null && isEligible(self) ? [...others, self.id].sort() : others,
    );
    if (view === null) return;
    const mine = planMoves(view).filter((move) => move.from === this.host.id);
    const shards = this.movable();
    for (const move of mine) {
      const shard = shards.shift();
      if (shard === undefined || this.moving.size >= this.maxTransfers) return;
      this.moving.set(shard, move.to);
      void this.host.transfer(shard, move.to).then((transferred) => {
        this.moving.delete(shard);
        // A refused or failed move is tried again at the next member list, not at once
        // (a target this view still lists may have just left).
        if (transferred) this.rebalance();
      });
    }
  }

  /**
   * Who leads what among live members; null while a shard is free in this view, or led by a
   * member no longer listed (a dead one's, about to be claimed: moving before the claims
   * land plans on counts they change, and moves more than the surplus).
   */
  private view(eligible: readonly string[]): ShardView | null {
    const owners = new Map<string, number>();
    for (let shard = 0; shard < this.host.count; shard++) {
      const owner = this.moving.get(shard) ?? this.host.leaderOf(shard);
      if (owner === null || (!this.live.has(owner) && owner !== this.host.id)) return null;
      owners.set(owner, (owners.get(owner) ?? 0) + 1);
    }
    return { count: this.host.count, eligible, owners };
  }

  /** Shards this candidate leads and is not already moving, the highest first. */
  private movable(): number[] {
    const shards: number[] = [];
    for (let shard = this.host.count - 1; shard >= 0; shard--) {
      if (this.host.leads(shard) && !this.moving.has(shard)) shards.push(shard);
    }
    return shards;
  }

  /** The share free shards are claimed by: the latest list (blips only make it claim more). */
  private claimShare(): number {
    const eligible = this.latest.includes(this.host.id)
      ? this.latest.length
      : this.latest.length + 1;
    return fairShare(this.host.count, eligible).ceil;
  }
}

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}
