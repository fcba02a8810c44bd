import { randomBytes } from 'node:crypto';
import { StoreProtocolError, type LeaseMetadata, type MemberRecord } from '@leasehold/core';
import { parseHolder } from '../records.js';

/**
 * Znode layout and data encoding.
 *
 *   <base>/elections/<election>/<guid>-<sequence>  one per candidate, ephemeral sequential,
 *                                                  data {holder, metadata}; the lowest leads
 *   <base>/elections/<election>/reserved-<seq>     a transfer's reservation (transfers.ts),
 *                                                  persistent, in the place of the holder it
 *                                                  replaced: ahead of every candidate
 *   <base>/members/<election>/<id>                 one per member, ephemeral, data a MemberRecord
 *   <base>/wakes/<election>/<id>                   created and deleted at once to wake <id>
 *   <base>/floors/<election>                       written by every reservation claim
 *   <base>/clock                                   written to read the ensemble's time
 *
 * `<base>` is `<chroot>/<namespace>`. The guid is random per candidacy: a create whose answer
 * was lost (connection loss) may still have happened, and the guid is how the candidate
 * recognises its own znode among the children afterwards (ZooKeeper's recipe). Members live
 * apart from the queue because a member record exists before its candidate queues (so that
 * priorities count from the start), may be written for several ids by one store, and has a
 * TTL of its own.
 */
export class ZnodePaths {
  constructor(readonly base: string) {}

  get electionsRoot(): string {
    return `${this.base}/elections`;
  }

  get membersRoot(): string {
    return `${this.base}/members`;
  }

  election(election: string): string {
    return `${this.electionsRoot}/${znodeName(election)}`;
  }

  candidate(election: string, name: string): string {
    return `${this.election(election)}/${name}`;
  }

  /** What a candidate creates; ZooKeeper appends the 10-digit sequence number. */
  candidatePrefix(election: string, guid: string): string {
    return `${this.election(election)}/${guid}-`;
  }

  /** A reservation in the queue, in the place (sequence) of the holder that handed over. */
  reservation(election: string, sequence: number): string {
    return `${this.election(election)}/${RESERVED}${String(sequence).padStart(10, '0')}`;
  }

  /** A candidate znode at a chosen place: a successor claims the reserved one. */
  candidateAt(election: string, guid: string, sequence: number): string {
    return `${this.election(election)}/${guid}-${String(sequence).padStart(10, '0')}`;
  }

  wake(election: string, id: string): string {
    return `${this.base}/wakes/${znodeName(election)}/${znodeName(id)}`;
  }

  /** Its mzxid is the term of the last claimed reservation: terms below it queue again. */
  floor(election: string): string {
    return `${this.base}/floors/${znodeName(election)}`;
  }

  get clock(): string {
    return `${this.base}/clock`;
  }

  members(election: string): string {
    return `${this.membersRoot}/${znodeName(election)}`;
  }

  member(election: string, id: string): string {
    return `${this.members(election)}/${znodeName(id)}`;
  }
}

/** A candidate's znode name, parsed; or a reservation's (`reserved`, guid empty). */
export interface CandidateName {
  readonly name: string;
  readonly guid: string;
  readonly sequence: number;
  readonly reserved: boolean;
}

const RESERVED = 'reserved-';
const QUEUE_ENTRY = /^(?:([0-9a-f]{16})-|reserved-)(\d{10})$/;

/**
 * The candidates and reservations among an election's children, lowest sequence (the
 * leader, or the reservation that stands in its place) first.
 */
export function candidatesInOrder(children: readonly string[]): CandidateName[] {
  return children
    .flatMap((name) => {
      const match = QUEUE_ENTRY.exec(name);
      if (match?.[2] === undefined) return [];
      const sequence = Number(match[2]);
      return [{ name, guid: match[1] ?? '', sequence, reserved: match[1] === undefined }];
    })
    .sort((a, b) => a.sequence - b.sequence || Number(b.reserved) - Number(a.reserved));
}

export function newCandidateGuid(): string {
  return randomBytes(8).toString('hex');
}

/**
 * Election names and member ids as znode names: URI-escaped, so that `/` cannot reach into
 * another znode, and `.` / `..` (which ZooKeeper refuses as names) escaped too.
 */
function znodeName(text: string): string {
  const escaped = encodeURIComponent(text);
  return escaped === '.' || escaped === '..' ? escaped.replaceAll('.', '%2E') : escaped;
}

export interface HolderData {
  readonly holder: string;
  readonly metadata: LeaseMetadata;
}

export function encodeHolder(holder: string, metadata: LeaseMetadata): Buffer {
  const data: HolderData = { holder, metadata };
  return Buffer.from(JSON.stringify(data));
}

export function decodeHolder(path: string, data: Buffer | null | undefined): HolderData {
  const parsed = parseHolder(data);
  if (parsed !== null) return { holder: parsed.holder, metadata: parsed.metadata };
  throw new StoreProtocolError(
    `the znode "${path}" holds data leasehold did not write; remove it or use another namespace`,
  );
}

/** What a reservation znode holds; it lapses `reservationMs` after its ctime (store time). */
export interface ReservationData {
  readonly successor: string;
  readonly from: string;
  readonly reservationMs: number;
}

export function encodeReservation(data: ReservationData): Buffer {
  return Buffer.from(JSON.stringify(data));
}

export function decodeReservation(path: string, data: Buffer | undefined): ReservationData {
  try {
    const parsed = JSON.parse(data?.toString('utf8') ?? '') as Partial<ReservationData> | null;
    if (
      typeof parsed?.successor === 'string' &&
      typeof parsed.from === 'string' &&
      typeof parsed.reservationMs === 'number'
    ) {
      return {
        successor: parsed.successor,
        from: parsed.from,
        reservationMs: parsed.reservationMs,
      };
    }
  } catch {
    // Reported below.
  }
  throw new StoreProtocolError(
    `the znode "${path}" holds data leasehold did not write; remove it or use another namespace`,
  );
}

export function encodeMember(member: MemberRecord): Buffer {
  return Buffer.from(JSON.stringify(member));
}

/**
 * A zxid (8 bytes, big-endian: the leader epoch, then a counter) as a number. Terms are safe
 * integers, which holds for epochs below 2^21, that is, until ZooKeeper has elected a leader
 * two million times.
 */
export function zxidNumber(zxid: Buffer, what: string): number {
  const value = zxid.length === 8 ? zxid.readBigUInt64BE() : -1n;
  if (value <= 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new StoreProtocolError(
      `ZooKeeper returned ${what} 0x${zxid.toString('hex')}, which leasehold cannot use as a term`,
    );
  }
  return Number(value);
}
