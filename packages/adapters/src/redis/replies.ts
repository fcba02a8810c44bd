import type { AcquireRequest, AcquireResult, LeaseMetadata, LeaseRecord } from '@leasehold/core';

/**
 * Script arguments and replies (scripts.ts) as the contract's types, for store.ts and
 * batch.ts alike: a claim in CLAIM_MANY is sent and answered as ACQUIRE's.
 */

/** ACQUIRE's reply: granted or not, then the term or what refused it. */
export type AcquireReply = [number, ...(string | number | null)[]];

/** ACQUIRE's ARGV for a request (one claim's part of CLAIM_MANY's too). */
export function acquireArgs(request: AcquireRequest): string[] {
  return [
    request.token,
    String(request.ttlMs),
    request.holder,
    JSON.stringify(request.metadata ?? {}),
  ];
}

/**
 * An ACQUIRE reply (one claim's part of CLAIM_MANY's) as the contract's answer, a granted
 * lease waiting `notBeforeMs` (when the claim may have found stale state, see ACQUIRE).
 */
export function acquireResult(
  request: AcquireRequest,
  reply: AcquireReply,
  notBeforeMs: number,
): AcquireResult {
  if (reply[0] === 1) {
    const { election, holder, token, ttlMs } = request;
    return {
      acquired: true,
      lease: { election, holder, token, term: Number(reply[1]), ttlMs, notBeforeMs },
    };
  }
  const [, holder, term, metadata, pttl, reservedFor] = reply;
  const remainingMs = typeof pttl === 'number' && pttl >= 0 ? pttl : null;
  if (typeof reservedFor === 'string') {
    return { acquired: false, current: null, retryAfterMs: remainingMs, reservedFor };
  }
  return {
    acquired: false,
    current:
      typeof holder === 'string'
        ? toRecord(request.election, holder, term, metadata, remainingMs)
        : null,
    retryAfterMs: remainingMs,
  };
}

/** A READ reply (one election's part of READ_MANY's) as a record; null when free. */
export function readReply(election: string, reply: (string | number | null)[]): LeaseRecord | null {
  const [holder, term, metadata, pttl] = reply;
  if (typeof holder !== 'string') return null;
  return toRecord(election, holder, term, metadata, typeof pttl === 'number' ? pttl : null);
}

function toRecord(
  election: string,
  holder: string,
  term: string | number | null | undefined,
  metadata: string | number | null | undefined,
  remainingMs: number | null,
): LeaseRecord {
  let parsed: LeaseMetadata = {};
  if (typeof metadata === 'string') {
    try {
      parsed = JSON.parse(metadata) as LeaseMetadata;
    } catch {
      parsed = {};
    }
  }
  return { election, holder, term: Number(term ?? 0), metadata: parsed, remainingMs };
}
