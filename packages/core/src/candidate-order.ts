import type { MemberRecord } from './store.js';
import { compareBytes, compareVersions } from './version-order.js';

/**
 * The one definition of the first-in-line order (docs/design.md §3.5, §3.6): eligible
 * candidates first (not drained, not unhealthy), then the highest priority, then the highest
 * app version, then the longest running, then the id. Stores that rank in SQL or Lua follow
 * the same order.
 */

/** What the order looks at in a member record (a `MemberInfo` has it too). */
export type OrderedCandidate = Pick<
  MemberRecord,
  'id' | 'priority' | 'startedAt' | 'drained' | 'health' | 'version'
>;

/** Whether a candidate may lead now: not drained, and its app not known to be unhealthy. */
export function isEligible(record: OrderedCandidate): boolean {
  return record.drained !== true && record.health !== 'unhealthy';
}

/** Array.prototype.sort comparator: the candidate that should lead first comes first. */
export function compareCandidates(a: OrderedCandidate, b: OrderedCandidate): number {
  return rankOrder(a, b) || a.startedAt - b.startedAt || compareBytes(a.id, b.id);
}

/**
 * How many distinct levels (eligibility, priority, version) of `others` rank above `self`.
 * When the lock is free a candidate waits one retry interval per level above it, so the
 * first in line normally wins even on a store that wakes everyone (docs/design.md §3.5).
 */
export function levelsAbove(self: OrderedCandidate, others: readonly OrderedCandidate[]): number {
  const above = others.filter((other) => rankOrder(other, self) < 0).sort(rankOrder);
  return above.filter((record, i) => i === 0 || rankOrder(above[i - 1] ?? record, record) !== 0)
    .length;
}

/** The order before seniority: eligibility, then priority, then version. */
function rankOrder(a: OrderedCandidate, b: OrderedCandidate): number {
  return (
    Number(isEligible(b)) - Number(isEligible(a)) ||
    b.priority - a.priority ||
    compareVersions(b.version ?? null, a.version ?? null)
  );
}
