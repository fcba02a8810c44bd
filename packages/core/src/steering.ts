import type { TimerHandle } from './clock.js';
import { compareCandidates, isEligible } from './candidate-order.js';
import { TransferError } from './errors.js';
import { HealthGate, type HealthGateOptions } from './health-gate.js';
import type { MemberInfo, MemberSteering } from './members.js';
import type { MemberHealth } from './store.js';
import {
  notLeader,
  transferLeadership,
  type TransferHost,
  type TransferOutcome,
} from './transfer.js';

/**
 * Operator controls (docs/design.md §3.6): drain, health gating, and the transfers both of
 * them start on their own. The elector keeps the election; this keeps what steers it.
 */

export interface SteeringOptions {
  /** Start drained: never campaign until `undrain()` (a standby, e.g. in a DR site). */
  readonly standby?: boolean;
  /** The app's version, published in the member record; higher versions rank first. */
  readonly version?: string | null;
  /** Gate leadership on the app's health (`setAppHealth`); without it health is 'unknown'. */
  readonly health?: HealthGateOptions;
}

/** What steers this candidate now (`ElectorStatus`, the `steering` event). */
export interface SteeringState {
  readonly drained: boolean;
  readonly health: MemberHealth;
  readonly version: string | null;
  /** The candidate a transfer of ours is handing leadership to, or null. */
  readonly transferringTo: string | null;
}

/** What `drain()` did. */
export interface DrainOutcome {
  readonly drained: true;
  /** Whether this candidate led when drained. */
  readonly wasLeader: boolean;
  /** The handover a leading candidate made (null when it did not lead or found nobody). */
  readonly transfer: TransferOutcome | null;
  /** `force` and nobody eligible: it resigned, leaving the election to whoever claims. */
  readonly resigned: boolean;
  /**
   * LEASEHOLD_E_TRANSFER_NO_CANDIDATE: it leads and found nobody eligible, so it keeps
   * leading (never leaderless) and tries again; otherwise null.
   */
  readonly code: 'LEASEHOLD_E_TRANSFER_NO_CANDIDATE' | null;
}

export interface SteeringHost extends TransferHost {
  /** Monotonic time this candidate's current tenure began, or null when not leading. */
  tenureStart(): number | null;
  resign(): Promise<boolean>;
  /** Publish the new state: member record and `steering` event. */
  publish(): void;
}

export class Steering {
  private drained: boolean;
  private readonly gate: HealthGate | null;
  private readonly minTenureMs: number;
  readonly version: string | null;
  private transferringTo: string | null = null;
  /** Monotonic time before which no automatic handover is tried again. */
  private retryAt = 0;
  private timer: TimerHandle | null = null;

  constructor(
    private readonly host: SteeringHost,
    options: SteeringOptions,
  ) {
    this.drained = options.standby ?? false;
    this.version = options.version ?? null;
    this.gate = options.health === undefined ? null : new HealthGate(options.health);
    this.minTenureMs = options.health?.minTenureMs ?? host.timing.ttlMs;
  }

  /** Drained candidates and gated ones whose app is not healthy do not campaign. */
  mayCampaign(): boolean {
    return !this.drained && (this.gate === null || this.gate.state === 'healthy');
  }

  get state(): SteeringState {
    // Written out rather than spread from published(): every GET /v1/leader reads it.
    return {
      drained: this.drained,
      health: this.gate?.state ?? 'unknown',
      version: this.version,
      transferringTo: this.transferringTo,
    };
  }

  /** The fields of this candidate's member record. */
  published(): Required<MemberSteering> {
    return { drained: this.drained, health: this.gate?.state ?? 'unknown', version: this.version };
  }

  async transfer(to: string): Promise<TransferOutcome> {
    if (!this.host.isLeader()) throw notLeader(this.host, to);
    if (this.transferringTo !== null) {
      throw new TransferError(
        'LEASEHOLD_E_TRANSFER_IN_PROGRESS',
        to,
        `a transfer to "${this.transferringTo}" is under way`,
      );
    }
    if (to === this.host.id) return { transferred: true, from: to, to, term: null };
    this.transferringTo = to;
    this.host.publish();
    try {
      return await transferLeadership(this.host, to);
    } finally {
      this.transferringTo = null;
      this.host.publish();
    }
  }

  /**
   * A store failure listing the members, or a transfer refused (one already under way),
   * is thrown: this candidate is drained all the same and keeps trying on its own.
   */
  async drain(options: { readonly force?: boolean } = {}): Promise<DrainOutcome> {
    this.drained = true;
    this.host.publish();
    const outcome = { drained: true, wasLeader: this.host.isLeader(), resigned: false } as const;
    if (!outcome.wasLeader) return { ...outcome, transfer: null, code: null };
    try {
      const target = this.firstInLine(await this.host.members());
      if (target === undefined && options.force === true) {
        return { ...outcome, transfer: null, resigned: await this.host.resign(), code: null };
      }
      if (target === undefined) {
        this.backOff();
        return { ...outcome, transfer: null, code: 'LEASEHOLD_E_TRANSFER_NO_CANDIDATE' };
      }
      const transfer = await this.transfer(target.id);
      if (!transfer.transferred) this.backOff();
      return { ...outcome, transfer, code: null };
    } catch (error) {
      this.backOff();
      throw error;
    } finally {
      // Still leading (nobody eligible, or the handover failed): try again later.
      this.reconsider();
    }
  }

  undrain(): void {
    this.drained = false;
    this.host.publish();
  }

  /** One health check's result (the sidecar's probe, every interval). */
  setAppHealth(healthy: boolean): void {
    if (this.gate === null || !this.gate.record(healthy)) return;
    this.host.publish();
    this.reconsider();
  }

  /** A new tenure began: a drained or unhealthy leader looks for a successor. */
  onElected(): void {
    this.reconsider();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  /**
   * Hand over on our own when leading drained or unhealthy: an unhealthy leader after its
   * minimum tenure, and only to a healthy candidate; either waits after a failed attempt.
   */
  private reconsider(): void {
    this.stop();
    if (!this.host.isLeader() || this.transferringTo !== null) return;
    const unhealthy = this.gate?.state === 'unhealthy';
    if (!this.drained && !unhealthy) return;
    const tenure = this.host.tenureStart() ?? 0;
    const at = Math.max(this.retryAt, unhealthy && !this.drained ? tenure + this.minTenureMs : 0);
    const wait = at - this.host.clock.now();
    if (wait > 0) {
      this.timer = this.host.clock.setTimer(wait, () => this.reconsider());
      return;
    }
    void this.handOverToFirstInLine().then((outcome) => {
      if (outcome === null || !outcome.transferred) this.reconsider();
    });
  }

  /**
   * Transfer to the first eligible candidate in line (a healthy one when our own app is
   * unhealthy and we are not drained); null when there is none or the attempt failed, which
   * holds further automatic attempts off for a while.
   */
  private async handOverToFirstInLine(): Promise<TransferOutcome | null> {
    try {
      const target = this.firstInLine(await this.host.members());
      const outcome = target === undefined ? null : await this.transfer(target.id);
      if (outcome === null || !outcome.transferred) this.backOff();
      return outcome;
    } catch {
      this.backOff();
      return null;
    }
  }

  /** No automatic handover for a while after one failed or found nobody (against flapping). */
  private backOff(): void {
    this.retryAt = this.host.clock.now() + Math.max(this.minTenureMs, this.host.timing.ttlMs);
  }

  private firstInLine(members: readonly MemberInfo[]): MemberInfo | undefined {
    const healthyOnly = !this.drained && this.gate?.state === 'unhealthy';
    return [...members]
      .filter((member) => member.id !== this.host.id && isEligible(member))
      .filter((member) => !healthyOnly || member.health === 'healthy')
      .sort(compareCandidates)[0];
  }
}
