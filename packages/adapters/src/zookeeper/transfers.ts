import type { Reservation } from '@leasehold/core';
import zookeeper, { type Event } from 'node-zookeeper-client';
import { hasCode, ZooKeeperCode } from './errors.js';
import {
  decodeReservation,
  encodeReservation,
  type CandidateName,
  type ReservationData,
  zxidNumber,
  type ZnodePaths,
} from './records.js';
import { zooKeeperTime, type Znodes } from './znodes.js';

/**
 * Transfers (docs/design.md §3.6) in the queue. A hand-over is one multi-op: delete the
 * holder's candidate znode and create, in its place in the queue (its sequence number), a
 * persistent `reserved-<sequence>` znode naming the successor. Every candidate is behind it,
 * so nobody is first in line while it stands. The successor (or the holder that handed over)
 * claims in one multi-op too: delete the reservation at the version it read and create its
 * candidate znode at the reservation's sequence, ahead of every other, so it leads; its
 * czxid (the term) is above every earlier one. A reservation lapses `reservationMs` after
 * its ctime, by the ensemble's clock; whoever then finds it first in line deletes it (at the
 * version read) and the queue goes on as before. Claim and removal both name the version, so
 * exactly one of them happens.
 *
 * Terms are czxids, and a claim puts a new znode ahead of older ones: once it leaves, an
 * older one would lead with a lower term. So the claim also writes the election's floor
 * znode (same multi-op, same zxid as the new znode's czxid), and a candidate whose czxid is
 * below the floor's mzxid queues again (a new znode, a higher czxid) instead of leading.
 */

/** A reservation as read: where it stands and how long it has left by the ensemble's clock. */
export interface ReadReservation extends ReservationData {
  readonly path: string;
  readonly version: number;
  readonly sequence: number;
  readonly remainingMs: number;
}

export class Transfers {
  /** Wake-up watches by election and candidate, set again after a reconnect. */
  private readonly wakeWatches = new Map<string, () => void>();
  /** The wake-up watches ZooKeeper confirmed and has not fired since. */
  private readonly wakeArmed = new Set<string>();

  constructor(
    private readonly znodes: Znodes,
    private readonly paths: ZnodePaths,
  ) {}

  /** One multi-op; false when the holder's znode is gone (the lease was lost). */
  async handOver(holderPath: string, election: string, data: ReservationData): Promise<boolean> {
    const reservation = this.paths.reservation(election, sequenceOf(holderPath));
    try {
      await this.znodes.multi('release', (multi) =>
        multi
          .remove(holderPath, -1)
          .create(
            reservation,
            encodeReservation(data),
            this.znodes.acl,
            zookeeper.CreateMode.PERSISTENT,
          ),
      );
    } catch (error) {
      if (hasCode(error, ZooKeeperCode.NO_NODE)) return false;
      throw error;
    }
    this.wake(election, data.successor).catch(() => {
      // Best effort: the successor also tries at its next poll.
    });
    return true;
  }

  /** The reservation `entry` names, or null when it is gone already. */
  async read(election: string, entry: CandidateName): Promise<ReadReservation | null> {
    const path = this.paths.candidate(election, entry.name);
    const found = await this.znodes.data(path);
    if (found === null) return null;
    const data = decodeReservation(path, found.data);
    const now = await this.znodes.storeTime(this.paths.clock);
    const remainingMs = zooKeeperTime(found.stat.ctime) + data.reservationMs - now;
    return { ...data, path, version: found.stat.version, sequence: entry.sequence, remainingMs };
  }

  /** As `TransferStore.reservation` answers it: null unless live. */
  async live(election: string, head: CandidateName | undefined): Promise<Reservation | null> {
    if (head?.reserved !== true) return null;
    const read = await this.read(election, head);
    if (read === null || read.remainingMs <= 0) return null;
    return { successor: read.successor, from: read.from, remainingMs: read.remainingMs };
  }

  /**
   * Take the reservation's place with a candidate znode (`guid`), dropping the candidate's
   * queued znode (`queuedPath`) in the same multi-op. The new znode's path, or null when the
   * reservation is no longer the one read (claimed, or removed as lapsed).
   */
  async claim(
    reservation: ReadReservation,
    election: string,
    candidate: { guid: string; data: Buffer; queuedPath: string | null },
  ): Promise<string | null> {
    const path = this.paths.candidateAt(election, candidate.guid, reservation.sequence);
    const floor = this.paths.floor(election);
    await this.znodes
      .create(floor, Buffer.alloc(0), zookeeper.CreateMode.PERSISTENT)
      .catch((error: unknown) => {
        if (!hasCode(error, ZooKeeperCode.NODE_EXISTS)) throw error;
      });
    try {
      await this.znodes.multi('acquire', (multi) => {
        multi
          .remove(reservation.path, reservation.version)
          .create(path, candidate.data, this.znodes.acl, zookeeper.CreateMode.EPHEMERAL)
          .setData(floor, Buffer.alloc(0), -1);
        return candidate.queuedPath === null ? multi : multi.remove(candidate.queuedPath, -1);
      });
    } catch (error) {
      if (isGoneOrChanged(error)) return null;
      throw error;
    }
    return path;
  }

  /** The lowest term a candidate may still lead with (0: no claim ever). */
  async floor(election: string): Promise<number> {
    const stat = await this.znodes.exists(this.paths.floor(election));
    return stat === null ? 0 : zxidNumber(stat.mzxid, `the mzxid of the floor of ${election}`);
  }

  /** Delete a lapsed reservation, unless it changed (was claimed) since it was read. */
  async removeLapsed(reservation: ReadReservation): Promise<void> {
    await this.znodes
      .multi('acquire', (multi) => multi.remove(reservation.path, reservation.version))
      .catch((error: unknown) => {
        if (!isGoneOrChanged(error)) throw error;
      });
  }

  /**
   * Call `onChange` whenever a hand-over names `candidate` (its wake znode appears), until
   * `signal` aborts. Resolves once the watch is set (or could not be: it never rejects).
   */
  watchWake(
    election: string,
    candidate: string,
    onChange: () => void,
    signal: AbortSignal,
  ): Promise<void> {
    const path = this.paths.wake(election, candidate);
    const arm = (): Promise<void> =>
      this.znodes
        .exists(path, (event: Event) => {
          this.wakeArmed.delete(path);
          if (signal.aborted || this.wakeWatches.get(path) !== arm) return;
          if (event.getType() === zookeeper.Event.NODE_CREATED) onChange();
          void arm();
        })
        .then(
          () => {
            if (this.wakeWatches.get(path) === arm) this.wakeArmed.add(path);
          },
          () => {
            // No connection: armed again on reconnect (rearmAll); the elector polls.
            this.wakeArmed.delete(path);
          },
        );
    this.wakeWatches.set(path, arm);
    signal.addEventListener('abort', () => {
      if (this.wakeWatches.get(path) !== arm) return;
      this.wakeWatches.delete(path);
      this.wakeArmed.delete(path);
    });
    return arm();
  }

  /** Whether a hand-over naming `candidate` would wake it now: its watch is set. */
  wakeWatched(election: string, candidate: string): boolean {
    return this.wakeArmed.has(this.paths.wake(election, candidate));
  }

  rearmAll(): void {
    this.wakeArmed.clear(); // set again as each watch is
    for (const arm of this.wakeWatches.values()) void arm();
  }

  close(): void {
    this.wakeWatches.clear();
    this.wakeArmed.clear();
  }

  /** Create and delete the successor's wake znode: its exists-watch fires on the create. */
  private async wake(election: string, successor: string): Promise<void> {
    const path = this.paths.wake(election, successor);
    await this.znodes
      .create(path, Buffer.alloc(0), zookeeper.CreateMode.EPHEMERAL)
      .catch((error: unknown) => {
        if (!hasCode(error, ZooKeeperCode.NODE_EXISTS)) throw error;
      });
    await this.znodes.remove(path);
  }
}

function sequenceOf(candidatePath: string): number {
  return Number(candidatePath.slice(-10));
}

function isGoneOrChanged(error: unknown): boolean {
  return hasCode(error, ZooKeeperCode.NO_NODE) || hasCode(error, ZooKeeperCode.BAD_VERSION);
}
