import type { Clock } from './clock.js';
import { TransferError } from './errors.js';
import type { MemberInfo } from './members.js';
import type { Lease, LeaseRecord, LeaseStore, TransferStore } from './store.js';
import type { StoreCalls } from './store-calls.js';
import { storeCallTimeoutMs, type ElectionTiming } from './timing.js';

/**
 * A transfer (docs/design.md §3.6): the leader stops reporting leadership, then in one store
 * step releases the lease and reserves the election for the named candidate, which claims
 * it as any claim (its deadline counts from its own send time). If it does not lead in
 * time, the old leader takes the election back (the reservation admits it too).
 */

/** What a transfer did. A refused one throws a TransferError instead. */
export type TransferOutcome =
  | {
      readonly transferred: true;
      readonly from: string;
      readonly to: string;
      /** The new leader's term, as read from the store (null: `to` was this candidate). */
      readonly term: number | null;
    }
  | {
      readonly transferred: false;
      readonly from: string;
      readonly to: string;
      readonly code: 'LEASEHOLD_E_TRANSFER_TIMED_OUT';
      /** Why, in words, for the answer and the log. */
      readonly reason: string;
      /** The old leader took the election back (otherwise `leader` holds it, or nobody). */
      readonly retaken: boolean;
      readonly leader: { readonly id: string; readonly term: number } | null;
    };

/** What the transfer needs of the elector (kept narrow so elector.ts stays readable). */
export interface TransferHost {
  readonly id: string;
  readonly election: string;
  readonly timing: ElectionTiming;
  readonly clock: Clock;
  readonly store: LeaseStore;
  readonly calls: StoreCalls;
  isLeader(): boolean;
  members(): Promise<readonly MemberInfo[]>;
  /** Runs while still leading, before leadership ends (`leasehold run` stops its command). */
  beforeHandOver(): Promise<void>;
  /**
   * Stop reporting leadership (the deadline ends now) and hold the loop off until
   * `untilMs`; the lease to hand over, or null when not leading any more.
   */
  stepDownForTransfer(untilMs: number): Lease | null;
  /** One claim now, whatever the loop's hold-off; the lease record after it (null: free). */
  claimNow(): Promise<LeaseRecord | null>;
  /** Read who holds the election and take note of it; throws on store failure. */
  read(): Promise<LeaseRecord | null>;
  /** The transfer ended: let the loop run again. */
  endTransfer(): void;
}

/** First wait between reads looking for the new leader; doubles up to a tenth of retry. */
const FIRST_POLL_MS = 10;

/**
 * The longest a graceful handoff should take: a follower that missed the wake-up tries
 * again within 1.2 retry intervals (jitter), and its claim takes up to one store timeout.
 */
export function handoffMs(timing: ElectionTiming): number {
  return Math.ceil(1.2 * timing.retryIntervalMs) + storeCallTimeoutMs(timing);
}

/** How long a transfer's reservation lasts: two handoff times. */
export function transferReservationMs(timing: ElectionTiming): number {
  return 2 * handoffMs(timing);
}

/** Refuse a target that cannot take over: unknown (not live), drained or unhealthy. */
export function checkTarget(members: readonly MemberInfo[], to: string): MemberInfo {
  const target = members.find((member) => member.id === to);
  if (target === undefined) {
    throw new TransferError(
      'LEASEHOLD_E_TRANSFER_TARGET_UNKNOWN',
      to,
      `cannot transfer to "${to}": it is not a live candidate of this election`,
    );
  }
  if (target.drained) {
    throw new TransferError(
      'LEASEHOLD_E_TRANSFER_TARGET_DRAINING',
      to,
      `cannot transfer to "${to}": it is drained`,
    );
  }
  if (target.health === 'unhealthy') {
    throw new TransferError(
      'LEASEHOLD_E_TRANSFER_TARGET_UNHEALTHY',
      to,
      `cannot transfer to "${to}": its app is unhealthy`,
    );
  }
  return target;
}

export function notLeader(host: TransferHost, to: string): TransferError {
  return new TransferError(
    'LEASEHOLD_E_TRANSFER_NOT_LEADER',
    to,
    `cannot transfer to "${to}": "${host.id}" does not lead election "${host.election}"`,
  );
}

/** The store's transfer operations, or the error that says there are none. */
export function transferStoreOf(host: TransferHost, to: string): TransferStore {
  const { transfer, members, backend } = host.store;
  if (transfer === undefined || members === undefined) {
    throw new TransferError(
      'LEASEHOLD_E_TRANSFER_UNSUPPORTED',
      to,
      `the ${backend} store cannot transfer leadership to a named candidate`,
    );
  }
  return transfer;
}

/** Validate, hand over, wait for `to` to lead, else take back. The caller checked leadership. */
export async function transferLeadership(host: TransferHost, to: string): Promise<TransferOutcome> {
  const transfer = transferStoreOf(host, to);
  checkTarget(await host.members(), to);
  await host.beforeHandOver();
  const reservationMs = transferReservationMs(host.timing);
  const sentAt = host.clock.now();
  // The reservation starts when the store applies the hand-over, after sentAt: claiming
  // back one store timeout before sentAt + reservationMs still lands inside it.
  const giveUpAt = sentAt + reservationMs - storeCallTimeoutMs(host.timing);
  const lease = host.stepDownForTransfer(sentAt + reservationMs);
  if (lease === null) throw notLeader(host, to);
  try {
    const handed = await handOver(host, transfer, lease, to, reservationMs);
    if (!handed) throw notLeader(host, to);
    const led = await waitForLeader(host, to, giveUpAt);
    if (led !== null) return { transferred: true, from: host.id, to, term: led.term };
    return await takeBack(host, to);
  } finally {
    host.endTransfer();
  }
}

/**
 * The hand-over itself. An answer lost on the way (a timeout) leaves us not knowing: the
 * lease is then released too (compare-and-delete: a no-op if the hand-over happened), so
 * our own lease cannot stand in the way of the take-back.
 */
async function handOver(
  host: TransferHost,
  transfer: TransferStore,
  lease: Lease,
  to: string,
  reservationMs: number,
): Promise<boolean> {
  try {
    return await host.calls.call('release', () => transfer.handOver(lease, to, reservationMs));
  } catch {
    await host.calls.quietly(
      'release',
      () => host.store.release(lease),
      storeCallTimeoutMs(host.timing),
    );
    return true;
  }
}

/** Read at doubling intervals until `to` holds the election, or `giveUpAt` passes. */
async function waitForLeader(
  host: TransferHost,
  to: string,
  giveUpAt: number,
): Promise<LeaseRecord | null> {
  const maxPollMs = Math.max(FIRST_POLL_MS, host.timing.retryIntervalMs / 10);
  for (
    let pollMs = FIRST_POLL_MS;
    host.clock.now() < giveUpAt;
    pollMs = Math.min(2 * pollMs, maxPollMs)
  ) {
    await new Promise<void>((resolve) =>
      host.clock.setTimer(Math.min(pollMs, giveUpAt - host.clock.now()), resolve),
    );
    const record = await host.read().catch(() => null);
    if (record?.holder === to) return record;
  }
  return null;
}

/** `to` did not lead in time: claim the election back (the reservation admits us). */
async function takeBack(host: TransferHost, to: string): Promise<TransferOutcome> {
  const record = await host.claimNow();
  if (record?.holder === to) return { transferred: true, from: host.id, to, term: record.term };
  const retaken = record?.holder === host.id;
  return {
    transferred: false,
    from: host.id,
    to,
    code: 'LEASEHOLD_E_TRANSFER_TIMED_OUT',
    reason: retaken
      ? `"${to}" did not take leadership in time; "${host.id}" took it back`
      : `"${to}" did not take leadership in time, and "${host.id}" could not take it back`,
    retaken,
    leader: record === null ? null : { id: record.holder, term: record.term },
  };
}
