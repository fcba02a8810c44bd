import { EventEmitter } from 'node:events';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { Elector, type DeposedEvent, type ElectedEvent, type ElectorOptions } from './elector.js';
import { ElectorStateError, LeaseholdConfigError } from './errors.js';
import type { MemberInfo } from './members.js';
import { checkName, ELECTION_NAME } from './names.js';
import { ShardBalancer, type ShardBalanceOptions } from './shard-balancer.js';
import type { TransferOutcome } from './transfer.js';

/**
 * Shards spread over candidates (docs/shards.md, docs/design.md §3.7): `count` elections
 * named `<name>-<n>`, one Elector each on the same store, and a balancer that hands a
 * candidate's surplus to candidates below their share by transfer. Each shard is an
 * ordinary election: never two owners of a shard is the elector's promise, unchanged.
 */

export const MAX_SHARDS = 4_096;

export interface ShardGroupOptions extends Omit<
  ElectorOptions,
  'election' | 'beforeHandOver' | 'freeLockDelay'
> {
  /** The group's name: shard n is the election `<name>-<n>`. */
  readonly name: string;
  /** How many shards: 1 – 4 096. */
  readonly count: number;
  /** Runs while still leading `shard`, before a transfer hands it over. */
  readonly beforeHandOver?: (shard: number) => Promise<void>;
  readonly balance?: ShardBalanceOptions;
}

/** A shard this candidate leads now, with the term to pass with its writes. */
export interface OwnedShard {
  readonly shard: number;
  readonly election: string;
  readonly term: number;
}

export interface ShardElectedEvent extends ElectedEvent {
  readonly shard: number;
}

export interface ShardDeposedEvent extends DeposedEvent {
  readonly shard: number;
}

/** A move the balancer made: the transfer's outcome, or the code it was refused with. */
export interface ShardMoveEvent {
  readonly shard: number;
  readonly to: string;
  readonly outcome: TransferOutcome | { readonly transferred: false; readonly code: string };
}

export interface ShardGroupEvents {
  /** This candidate began to lead a shard. */
  elected: [ShardElectedEvent];
  /** This candidate stopped leading a shard. */
  deposed: [ShardDeposedEvent];
  /** The shards this candidate leads changed: all of them, as `owned()` answers. */
  owned: [readonly OwnedShard[]];
  moved: [ShardMoveEvent];
}

export interface ShardGroupStatus {
  readonly name: string;
  readonly id: string;
  readonly count: number;
  readonly owned: readonly OwnedShard[];
  /** The eligible candidates balancing acts on (settled), null before the first lists. */
  readonly members: readonly string[] | null;
  /** Transfers under way: shard and successor. */
  readonly moving: readonly { readonly shard: number; readonly to: string }[];
}

export class ShardGroup extends EventEmitter<ShardGroupEvents> {
  readonly name: string;
  readonly count: number;
  readonly id: string;
  /** One elector per shard, shard n at index n. */
  readonly electors: readonly Elector[];

  private readonly clock: Clock;
  private readonly balancer: ShardBalancer;
  private lifecycle: 'idle' | 'running' | 'stopped' = 'idle';
  private draining = false;
  /** Shards whose lease this candidate took (leading or held off), checked when read. */
  private readonly held = new Set<number>();
  private timer: TimerHandle | null = null;

  constructor(options: ShardGroupOptions) {
    super();
    this.name = checkName('name', options.name, ELECTION_NAME);
    this.count = checkCount(options.count);
    checkName('name', `${this.name}-${this.count - 1}`, ELECTION_NAME);
    this.clock = options.clock ?? systemClock;
    this.electors = Array.from({ length: this.count }, (_, shard) =>
      this.shardElector(shard, options),
    );
    this.id = this.electors[0]?.id ?? options.id;
    // A store that cannot transfer cannot move shards: standing back is all that spreads them.
    const { transfer, members } = options.store;
    const canMove = transfer !== undefined && members !== undefined;
    this.balancer = new ShardBalancer(this.balancerHost(), {
      ...options.balance,
      ...(canMove ? {} : { maxTransfers: 0 }),
    });
  }

  /** Start every shard's elector and the member observations that balance them. */
  start(): void {
    if (this.lifecycle !== 'idle') {
      throw new ElectorStateError(`shard group "${this.name}" was already started`);
    }
    this.lifecycle = 'running';
    this.balancer.start();
    for (const elector of this.electors) elector.start();
    this.scheduleObservation(0);
  }

  /** Stop every shard's elector (each releases what it leads), within `withinMs` in all. */
  async stop(options: { readonly withinMs?: number } = {}): Promise<void> {
    this.lifecycle = 'stopped';
    this.timer?.cancel();
    this.balancer.stop();
    await Promise.all(this.electors.map((elector) => elector.stop(options)));
  }

  /** The shards this candidate leads at this instant, by shard number. */
  owned(): OwnedShard[] {
    const owned: OwnedShard[] = [];
    this.electors.forEach((elector, shard) => {
      const term = elector.currentTerm();
      if (term !== null) owned.push({ shard, election: elector.election, term });
    });
    return owned;
  }

  status(): ShardGroupStatus {
    return {
      name: this.name,
      id: this.id,
      count: this.count,
      owned: this.owned(),
      members: this.balancer.members,
      moving: [...this.balancer.moving].map(([shard, to]) => ({ shard, to })),
    };
  }

  /**
   * Stop owning shards: no free shard is claimed any more, and the ones led are handed to
   * candidates below their share (a few at a time); each shard's elector is drained once
   * its shard has moved, so one that could not move goes to the first in line (§3.6).
   */
  drain(): void {
    this.draining = true;
    this.electors.forEach((elector, shard) => {
      if (!this.balancer.moving.has(shard) && !elector.isLeader()) {
        elector.drain().catch(() => {}); // Not leading: nothing to hand over, nothing to fail.
      }
    });
    this.balancer.rebalance();
  }

  undrain(): void {
    this.draining = false;
    for (const elector of this.electors) elector.undrain();
  }

  /** One result of the app's health check, for every shard (§3.6). */
  setAppHealth(healthy: boolean): void {
    for (const elector of this.electors) elector.setAppHealth(healthy);
  }

  /** Shard n's elector: the group's options, its own election, the balancer's stand-back. */
  private shardElector(shard: number, options: ShardGroupOptions): Elector {
    // The group's own fields (name, count, balance) mean nothing to an elector.
    const { beforeHandOver, ...electorOptions } = options;
    const elector = new Elector({
      ...electorOptions,
      election: `${this.name}-${shard}`,
      freeLockDelay: (freeForMs) => this.balancer.freeLockDelay(shard, freeForMs),
      ...(beforeHandOver === undefined ? {} : { beforeHandOver: () => beforeHandOver(shard) }),
    });
    this.follow(elector, shard);
    return elector;
  }

  private follow(elector: Elector, shard: number): void {
    elector.on('elected', (event) => {
      this.emitSafely('elected', { ...event, shard });
      this.emitSafely('owned', this.owned());
    });
    elector.on('deposed', (event) => {
      this.emitSafely('deposed', { ...event, shard });
      this.emitSafely('owned', this.owned());
    });
    elector.on('lease', () => this.held.add(shard));
    elector.on('leader', () => this.balancer.claimEnded(shard));
  }

  /** Shard 0's member list stands for the group's: every candidate runs every shard. */
  private scheduleObservation(delayMs: number): void {
    this.timer = this.clock.setTimer(delayMs, () => {
      const [first] = this.electors;
      if (first === undefined || this.lifecycle !== 'running') return;
      void first
        .members()
        .then(
          (members) => this.lifecycle === 'running' && this.balancer.observe(members),
          () => {}, // Store trouble: the electors report it; balance waits for a list.
        )
        .finally(() => {
          if (this.lifecycle === 'running') {
            this.scheduleObservation(first.timing.renewIntervalMs);
          }
        });
    });
  }

  private balancerHost(): ConstructorParameters<typeof ShardBalancer>[0] {
    const at = (shard: number): Elector => this.electors[shard] as Elector;
    return {
      id: this.id,
      count: this.count,
      clock: this.clock,
      timing: at(0).timing,
      leaderOf: (shard) => at(shard).status().leader?.id ?? null,
      holds: (shard) => this.holds(shard),
      heldCount: () => [...this.held].filter((shard) => this.holds(shard)).length,
      leads: (shard) => at(shard).isLeader(),
      self: () => this.self(),
      transfer: (shard, to) => this.move(shard, to),
    };
  }

  /** Whether this candidate holds `shard`'s lease: leading, or held off (pending). */
  private holds(shard: number): boolean {
    const elector = this.electors[shard] as Elector;
    if (!this.held.has(shard)) return false;
    if (elector.isLeader() || elector.status().state === 'pending') return true;
    this.held.delete(shard);
    return false;
  }

  /** This candidate as a member: draining counts at once, before its records say so. */
  private self(): MemberInfo | null {
    const first = this.electors[0];
    if (first === undefined) return null;
    const { steering } = first.status();
    return {
      id: this.id,
      priority: first.priority,
      startedAt: 0,
      lastHeartbeatAt: 0,
      isLeader: false,
      metadata: {},
      drained: this.draining || steering.drained,
      health: steering.health,
      version: steering.version,
    };
  }

  private async move(shard: number, to: string): Promise<boolean> {
    const elector = this.electors[shard] as Elector;
    let outcome: ShardMoveEvent['outcome'];
    try {
      outcome = await elector.transfer(to);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      outcome = { transferred: false, code: typeof code === 'string' ? code : 'unknown' };
    }
    if (this.draining) void elector.drain().catch(() => {});
    this.emitSafely('moved', { shard, to, outcome });
    return outcome.transferred;
  }

  /** Listeners are user code: their exceptions must not break balancing. */
  private emitSafely<K extends keyof ShardGroupEvents>(
    event: K,
    ...args: ShardGroupEvents[K]
  ): void {
    try {
      (this.emit as (event: K, ...args: ShardGroupEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      process.emitWarning(
        `leasehold: a shard group "${String(event)}" listener threw: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
}

function checkCount(count: number): number {
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_SHARDS) {
    throw new LeaseholdConfigError(
      'count',
      count,
      `must be a whole number from 1 to ${MAX_SHARDS}`,
    );
  }
  return count;
}
