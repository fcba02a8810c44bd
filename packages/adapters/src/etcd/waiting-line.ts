import { FOLLOWERS_WOKEN_ON_RELEASE, candidateOrder, type MemberRecord } from '@leasehold/core';
import type { WatchHub } from './watch-hub.js';

/**
 * Which etcd key each waiting candidate watches, so that a release wakes the first in line
 * and nobody else: the queue-ordered campaign of etcd's and ZooKeeper's election recipes.
 *
 * The line is the election's member records (each on a lease its candidate keeps alive with
 * every heartbeat, so a dead candidate leaves the line when its lease runs out), ordered as
 * core's `candidateOrder` orders them, without the leader. The first FOLLOWERS_WOKEN_ON_RELEASE followers watch
 * the leader key and wake on its release or expiry. Every other follower watches only the
 * member key of the candidate FOLLOWERS_WOKEN_ON_RELEASE places ahead of it: when that candidate leaves,
 * it moves up, and wakes once it is among the first. A release therefore costs a bounded
 * number of wake-ups (and the acquire attempts they cause) however many candidates wait.
 *
 * Only a release (or expiry) wakes anyone: a new leader's claim does not, so followers learn
 * who leads at their next poll, as on the other stores.
 *
 * The line is what this store last listed (the elector lists every renew interval), so it
 * may be a heartbeat old; a candidate that does not know its place watches the leader key.
 */

interface Waiter {
  readonly election: string;
  readonly candidate: string;
  readonly onChange: () => void;
  readonly signal: AbortSignal;
  /** The key watched now, and the controller that ends that watch. */
  target: string | null;
  targetWatch: AbortController | null;
  /** A wake-up of a follower behind the first, due unless the leader key is claimed first. */
  pendingWake: NodeJS.Timeout | null;
}

interface Line {
  members: readonly MemberRecord[];
  /** The leader this store last saw in the leader key, if any. */
  holder: string | null;
}

/**
 * How long each place behind the first waits before trying a released election: the first
 * in line's claim normally lands well within it, and its watch event then calls the wait off.
 */
const NEXT_IN_LINE_DELAY_MS = 25;

export interface LineKeys {
  leader(election: string): string;
  member(election: string, id: string): string;
}

export class WaitingLine {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly lines = new Map<string, Line>();

  constructor(
    private readonly hub: WatchHub,
    private readonly keys: LineKeys,
  ) {}

  /**
   * Wake `onChange` when `candidate` may take the election: it is among the first in line
   * and the leader key changed, or it just moved up into the first places. Resolves once the
   * first key is watched (or that failed); never rejects.
   */
  watch(
    election: string,
    candidate: string,
    onChange: () => void,
    signal: AbortSignal,
  ): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    const waiter: Waiter = {
      election,
      candidate,
      onChange,
      signal,
      target: null,
      targetWatch: null,
      pendingWake: null,
    };
    let waiters = this.waiters.get(election);
    if (waiters === undefined) {
      waiters = new Set();
      this.waiters.set(election, waiters);
    }
    const electionWaiters = waiters;
    electionWaiters.add(waiter);
    signal.addEventListener(
      'abort',
      () => {
        waiter.targetWatch?.abort();
        cancelWake(waiter);
        electionWaiters.delete(waiter);
        if (electionWaiters.size === 0) this.waiters.delete(election);
      },
      { once: true },
    );
    return this.retarget(waiter);
  }

  /**
   * Whether `candidate` waits in `election`'s line on a watch etcd has confirmed: the leader
   * key's, or the record's of the candidate ahead, which wakes it when it may claim.
   */
  watching(election: string, candidate: string): boolean {
    for (const waiter of this.waiters.get(election) ?? []) {
      if (waiter.candidate !== candidate) continue;
      return waiter.target !== null && this.hub.isActive(waiter.target);
    }
    return false;
  }

  /** The store is closing: no wake-up is due any more. */
  close(): void {
    for (const waiters of this.waiters.values()) for (const waiter of waiters) cancelWake(waiter);
    this.waiters.clear();
    this.lines.clear();
  }

  /** The election's live members, as the store just listed them. */
  observeMembers(election: string, members: readonly MemberRecord[]): void {
    this.lineOf(election).members = members;
    this.retargetAll(election);
  }

  /** Who holds the leader key now (null: nobody), as the store just saw it. */
  observeHolder(election: string, holder: string | null): void {
    const line = this.lineOf(election);
    if (line.holder === holder) return;
    line.holder = holder;
    this.retargetAll(election);
  }

  private lineOf(election: string): Line {
    let line = this.lines.get(election);
    if (line === undefined) {
      line = { members: [], holder: null };
      this.lines.set(election, line);
    }
    return line;
  }

  private retargetAll(election: string): void {
    for (const waiter of this.waiters.get(election) ?? []) void this.retarget(waiter);
  }

  /**
   * Where `waiter` stands among the followers (-1: not in the line as last listed) and the
   * key it watches: the leader key when among the first, else the candidate ahead's record.
   */
  private placeOf(waiter: Waiter): { place: number; target: string } {
    const line = this.lines.get(waiter.election);
    const followers = candidateOrder(line?.members ?? []).filter((m) => m.id !== line?.holder);
    const place = followers.findIndex((member) => member.id === waiter.candidate);
    const ahead = followers[place - FOLLOWERS_WOKEN_ON_RELEASE];
    const target =
      place < FOLLOWERS_WOKEN_ON_RELEASE || ahead === undefined
        ? this.keys.leader(waiter.election)
        : this.keys.member(waiter.election, ahead.id);
    return { place, target };
  }

  private retarget(waiter: Waiter): Promise<void> {
    const { target } = this.placeOf(waiter);
    if (waiter.target === target || waiter.signal.aborted) return Promise.resolve();
    const leaderKey = this.keys.leader(waiter.election);
    const movedUp = waiter.target !== null && target === leaderKey;
    waiter.targetWatch?.abort();
    cancelWake(waiter);
    // Aborted with the waiter's own signal too (see watch()).
    const targetWatch = new AbortController();
    waiter.target = target;
    waiter.targetWatch = targetWatch;
    const onTargetChange =
      target === leaderKey
        ? () => this.onLeaderChanged(waiter, target)
        : () => this.onAheadChanged(waiter, target);
    const watching = this.hub.watch(target, onTargetChange, targetWatch.signal);
    // Among the first now: the lock may have been free for a while, so try at once.
    if (movedUp) waiter.onChange();
    return watching;
  }

  /**
   * The leader key went: the first in line tries at once, the others a moment later unless
   * somebody has claimed it meanwhile, so that one claim, not a race of several, normally
   * follows a release; a first in line that is dead costs that moment, not a poll interval.
   */
  private onLeaderChanged(waiter: Waiter, key: string): void {
    if (waiter.target !== key) return;
    const seen = this.hub.lastSeen(key);
    if (seen === 'Put') {
      cancelWake(waiter); // claimed: nothing to do until it goes again
      return;
    }
    const { place } = this.placeOf(waiter);
    if (seen === null || place <= 0) {
      waiter.onChange();
      return;
    }
    cancelWake(waiter);
    waiter.pendingWake = setTimeout(() => {
      waiter.pendingWake = null;
      waiter.onChange();
    }, place * NEXT_IN_LINE_DELAY_MS);
    waiter.pendingWake.unref();
  }

  /** The candidate ahead changed: when it left, everyone behind it moves up one place. */
  private onAheadChanged(waiter: Waiter, key: string): void {
    if (waiter.target !== key) return;
    const seen = this.hub.lastSeen(key);
    if (seen === 'Put') return; // its heartbeat
    if (seen === null) {
      // Changes may have gone unseen while the stream was down: the next listing puts
      // everyone in place; let the elector look meanwhile.
      waiter.onChange();
      return;
    }
    const line = this.lines.get(waiter.election);
    if (line !== undefined) {
      line.members = line.members.filter(
        (member) => this.keys.member(waiter.election, member.id) !== key,
      );
    }
    this.retargetAll(waiter.election);
  }
}

function cancelWake(waiter: Waiter): void {
  if (waiter.pendingWake !== null) clearTimeout(waiter.pendingWake);
  waiter.pendingWake = null;
}
