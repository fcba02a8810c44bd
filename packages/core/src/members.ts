import { waitAtMost, type Clock, type TimerHandle } from './clock.js';
import {
  compareCandidates,
  isEligible,
  levelsAbove,
  type OrderedCandidate,
} from './candidate-order.js';
import type { LeaseMetadata, LeaseStore, MemberHealth, MemberRecord } from './store.js';
import type { SharedHeartbeat } from './shared-heartbeat.js';
import type { StoreCalls } from './store-calls.js';
import type { ElectionTiming } from './timing.js';

/**
 * Member records (docs/design.md §3.5): each candidate heartbeats a small record with the
 * lease TTL, so that `GET /v1/members` lists live candidates and a free lock goes to the
 * highest-priority one. A store without member records still elects; it just cannot rank.
 */

/** A live candidate, as `GET /v1/members` lists it. */
export interface MemberInfo {
  readonly id: string;
  readonly priority: number;
  /** Wall-clock ms. */
  readonly startedAt: number;
  /** Wall-clock ms of the member's last heartbeat, by its own clock. */
  readonly lastHeartbeatAt: number;
  /** Whether this candidate believes the member leads now. */
  readonly isLeader: boolean;
  readonly metadata: LeaseMetadata;
  /** docs/design.md §3.6: drained by an operator, its app's health, its app's version. */
  readonly drained: boolean;
  readonly health: MemberHealth;
  readonly version: string | null;
}

/** The steering fields of this candidate's own record, as they are now. */
export type MemberSteering = Pick<MemberRecord, 'drained' | 'health' | 'version'>;

/**
 * How many followers a release wakes, and which followers retry right at a lease's
 * expiry: the first in line, so that a handoff costs bounded store work however many
 * candidates wait. Two, so that one dead candidate whose record has not expired yet does
 * not hold up the handoff. The others poll.
 */
export const FOLLOWERS_WOKEN_ON_RELEASE = 2;

/** The fields of a member record that decide its turn (`candidateOrderKey`). */
export type TurnFields = OrderedCandidate;

/** Member records sorted by turn (`compareCandidates`): the first in line first. */
export function candidateOrder<T extends OrderedCandidate>(records: readonly T[]): T[] {
  return [...records].sort(compareCandidates);
}

export interface MemberHeartbeatOptions {
  readonly store: LeaseStore;
  readonly election: string;
  readonly id: string;
  readonly priority: number;
  readonly metadata: LeaseMetadata;
  readonly clock: Clock;
  readonly timing: ElectionTiming;
  readonly calls: StoreCalls;
  /** Whether this candidate leads now (published in the record). */
  readonly isLeader: () => boolean;
  /** Whether the election still runs: no heartbeat is scheduled once it stopped. */
  readonly isRunning: () => boolean;
  /** Drained, health and version as they are now (published in the record). */
  readonly steering?: () => MemberSteering;
  /** Heartbeat on these ticks, batched with other elections' (docs/design.md §3.8). */
  readonly shared?: SharedHeartbeat | null;
}

export class MemberHeartbeat {
  private startedAt = 0;
  private timer: TimerHandle | null = null;
  /** The heartbeat in flight, so the record is removed after it, not before. */
  private write: Promise<void> = Promise.resolve();
  private writing = false;
  /** Another heartbeat was asked for while one was in flight. */
  private writeAgain = false;
  /** Live members as of the last heartbeat. */
  private known: readonly MemberRecord[] = [];

  /** The next heartbeat, made once: `schedule` runs for every election every tick. */
  private readonly next = (): void => {
    void this.beat();
  };

  constructor(private readonly options: MemberHeartbeatOptions) {}

  /** The first heartbeat; bounded by the store timeout and never rejects. */
  start(): Promise<void> {
    this.startedAt = Date.now();
    return this.beat();
  }

  /**
   * Write our record and refresh the list, then schedule the next heartbeat one renew
   * interval after this one ended: on a slow store two writes never overlap (a later one
   * overtaking an earlier one would publish a stale record). Asked while one is in flight
   * (we were just elected, say), it writes once more right after.
   */
  beat(): Promise<void> {
    if (this.writing) {
      this.writeAgain = true;
      return this.write;
    }
    this.cancelTimer();
    const { store, isRunning } = this.options;
    if (!isRunning() || store.members === undefined) return Promise.resolve();
    this.writing = true;
    this.write = this.writeAndList().finally(() => {
      this.writing = false;
      this.schedule();
    });
    return this.write;
  }

  /** Stop heartbeating and remove our record (a courtesy: it expires by itself). */
  async remove(timeoutMs: number): Promise<void> {
    this.cancelTimer();
    const { store, election, id, calls } = this.options;
    const { members } = store;
    if (members === undefined || !calls.health.healthy) return;
    // The wait for a heartbeat in flight is bounded together with the removal.
    await calls.quietly(
      'member',
      async () => {
        await this.write;
        await members.remove(election, id);
      },
      timeoutMs,
    );
  }

  /**
   * How many levels (eligibility, priority, version: `levelsAbove`) of live members rank
   * above this candidate.
   */
  higherPriorityLevels(): number {
    const self = this.record();
    const others = this.known.filter((member) => member.id !== this.options.id);
    // The usual case, asked by every follower at every step: all on this one's level. Told
    // from the fields, without building the order keys (a sidecar of 1,000 elections built
    // tens of thousands of strings a renew interval for it).
    if (others.every((member) => sameLevel(member, self))) return 0;
    return levelsAbove(self, others);
  }

  /** Live members as of the last heartbeat (this candidate's own record included). */
  get live(): readonly MemberRecord[] {
    return this.known;
  }

  /**
   * Whether this candidate is among the first FOLLOWERS_WOKEN_ON_RELEASE followers of
   * `leaderId`, or the store keeps no member records (then everyone is).
   */
  isFirstInLine(leaderId: string | null): boolean {
    const { store, id } = this.options;
    if (store.members === undefined || this.known.length === 0) return true;
    // No more followers than are woken: every one is first in line, no need to sort them.
    const leaderKnown = this.known.some((member) => member.id === leaderId);
    if (this.known.length - (leaderKnown ? 1 : 0) <= FOLLOWERS_WOKEN_ON_RELEASE) return true;
    const followers = candidateOrder(this.known).filter((member) => member.id !== leaderId);
    const place = followers.findIndex((member) => member.id === id);
    return place === -1 || place < FOLLOWERS_WOKEN_ON_RELEASE;
  }

  /** Live candidates, highest priority first; `leaderId` is the leader this one knows of. */
  async list(leaderId: string | null): Promise<readonly MemberInfo[]> {
    const { store, election, id, calls, isLeader } = this.options;
    const { members } = store;
    const records =
      members === undefined ? [] : await calls.call('member', () => members.list(election));
    const self = records.find((record) => record.id === id) ?? this.record();
    return [self, ...records.filter((record) => record.id !== id)]
      .map((record): MemberInfo => ({
        id: record.id,
        priority: record.priority,
        startedAt: record.startedAt,
        lastHeartbeatAt: record.heartbeatAt,
        isLeader: record.id === id ? isLeader() : record.id === leaderId,
        metadata: record.metadata,
        drained: record.drained ?? false,
        health: record.health ?? 'unknown',
        version: record.version ?? null,
      }))
      .sort((a, b) => b.priority - a.priority || a.id.localeCompare(b.id));
  }

  private record(): MemberRecord {
    const { id, priority, metadata, isLeader } = this.options;
    return {
      id,
      priority,
      startedAt: this.startedAt,
      heartbeatAt: Date.now(),
      isLeader: isLeader(),
      metadata,
      ...this.options.steering?.(),
    };
  }

  private async writeAndList(): Promise<void> {
    const { store, election, clock, timing, calls, shared } = this.options;
    const { members } = store;
    if (members === undefined) return;
    if (shared?.batchesMembers === true) return this.writeInTick(shared);
    // The elector stops waiting for a call at its timeout; the store may work on it longer.
    // Counted, not collected: a call answered in time has settled by the time its answer
    // is read, so the usual heartbeat waits for nothing and arms no timer.
    let inStore = 0;
    let allSettled = (): void => {};
    const settled = (): void => {
      inStore -= 1;
      if (inStore === 0) allSettled();
    };
    const tracked = <T>(call: Promise<T>): Promise<T> => {
      inStore += 1;
      call.then(settled, settled);
      return call;
    };
    try {
      await calls.call('member', () => tracked(members.put(election, this.record(), timing.ttlMs)));
      this.known = await calls.call('member', () => tracked(members.list(election)));
    } catch {
      // Reported through store health; priorities fall back to what we knew.
    }
    // Bounded: a write still running after a TTL would publish an expired record anyway.
    if (inStore === 0) return;
    await waitAtMost(new Promise<void>((resolve) => (allSettled = resolve)), timing.ttlMs, clock);
  }

  /**
   * The heartbeat as one item of the shared heartbeat's tick: one call, so the counting
   * above is not needed (a sidecar of 1,000 elections made its closures a thousand times a
   * tick). The same bound: a call the elector stopped waiting for is waited for up to a TTL.
   */
  private async writeInTick(shared: SharedHeartbeat): Promise<void> {
    const { election, clock, timing, calls } = this.options;
    const put = { election, member: this.record(), ttlMs: timing.ttlMs };
    let inStore: Promise<MemberRecord[]> | undefined;
    const send = (): Promise<MemberRecord[]> => (inStore = shared.putMember(put));
    try {
      this.known = await calls.call('member', send);
    } catch {
      // Reported through store health; priorities fall back to what we knew.
      if (inStore !== undefined) await waitAtMost(inStore, timing.ttlMs, clock);
    }
  }

  private schedule(): void {
    if (!this.options.isRunning()) return;
    if (this.writeAgain) {
      this.writeAgain = false;
      void this.beat();
      return;
    }
    const { clock, timing, shared } = this.options;
    const dueAt = clock.now() + timing.renewIntervalMs;
    const next = this.next;
    // A shared heartbeat pulls it to its tick, and the tick's one timer wakes it with the
    // other elections' records (and renewals), so that they go together.
    this.timer =
      shared?.batchesMembers === true
        ? shared.wakeAt(shared.renewAt(dueAt), next)
        : clock.setTimer(dueAt - clock.now(), next);
  }

  private cancelTimer(): void {
    this.timer?.cancel();
    this.timer = null;
  }
}

/** Whether two members rank on one level (`levelsAbove`): eligibility, priority, version. */
function sameLevel(a: OrderedCandidate, b: OrderedCandidate): boolean {
  return (
    a.priority === b.priority &&
    isEligible(a) === isEligible(b) &&
    (a.version ?? null) === (b.version ?? null)
  );
}
