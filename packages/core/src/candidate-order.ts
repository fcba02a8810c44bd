import { ascendingNumber, compareBytewise, descendingNumber } from './key-fields.js';
import type { MemberRecord } from './store.js';
import { versionKey } from './version-order.js';

/**
 * The one definition of the first-in-line order (docs/design.md §3.5, §3.6): eligible
 * candidates first (not drained, not unhealthy), then the highest priority, then the highest
 * app version (`versionKey`), then the longest running, then the id. It is a key,
 * `candidateOrderKey`, compared bytewise, so the stores that rank in SQL or Lua follow the
 * very same order by sorting on the key they keep with each record.
 */

/** What the order looks at in a member record (a `MemberInfo` has it too). */
export type OrderedCandidate = Pick<
  MemberRecord,
  'id' | 'priority' | 'startedAt' | 'drained' | 'health' | 'version'
>;

/**
 * The version of the order key's layout, its first field. Keys of a later layout sort after
 * this one's; only a store shared by sidecars of two versions (an upgrade) sees both.
 * Layout 1 had priority, start and id; 2 adds eligibility and version.
 */
const ORDER_KEY_LAYOUT = '2';
const [ELIGIBLE, INELIGIBLE] = ['0', '1'];

/** Whether a candidate may lead now: not drained, and its app not known to be unhealthy. */
export function isEligible(record: OrderedCandidate): boolean {
  return record.drained !== true && record.health !== 'unhealthy';
}

/**
 * A string per member whose ascending bytewise order is the order in which waiting
 * candidates get a free lock. A new rule (a field added to the order) changes this function
 * (and the layout) and nothing else.
 */
export function candidateOrderKey(record: OrderedCandidate): string {
  return [rankKey(record), ascendingNumber(record.startedAt), record.id].join('.');
}

/** Array.prototype.sort comparator: the candidate that should lead first comes first. */
export function compareCandidates(a: OrderedCandidate, b: OrderedCandidate): number {
  return compareBytewise(candidateOrderKey(a), candidateOrderKey(b));
}

/**
 * How many distinct levels (eligibility, priority, version) of `others` rank above `self`.
 * When the lock is free a candidate waits one retry interval per level above it, so the
 * first in line normally wins even on a store that wakes everyone (docs/design.md §3.5).
 */
export function levelsAbove(self: OrderedCandidate, others: readonly OrderedCandidate[]): number {
  const own = rankKey(self);
  return new Set(others.map(rankKey).filter((rank) => compareBytewise(rank, own) < 0)).size;
}

/** The order key before seniority: layout, eligibility, priority, version. */
function rankKey(record: OrderedCandidate): string {
  return [
    ORDER_KEY_LAYOUT,
    isEligible(record) ? ELIGIBLE : INELIGIBLE,
    descendingNumber(record.priority),
    versionKey(record.version ?? null),
  ].join('.');
}
