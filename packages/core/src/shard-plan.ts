import { compareBytewise } from './key-fields.js';

/**
 * Which shard moves balance a group (docs/shards.md, docs/design.md §3.7): a pure function
 * of one candidate's view, so that every candidate, seeing the same view, computes the same
 * plan and only carries out its own part of it (no two donors fill the same gap).
 */

/** Who leads how many shards, as one candidate sees it. */
export interface ShardView {
  /** Shards in the group. */
  readonly count: number;
  /** Live candidates that may own shards (not drained, not unhealthy). */
  readonly eligible: readonly string[];
  /**
   * Shards each live candidate leads (eligible or not); a live candidate missing here leads
   * none. Holders that are not live members are left out: their leases run out by themselves.
   */
  readonly owners: ReadonlyMap<string, number>;
}

/** Hand one shard from `from` to `to`. */
export interface ShardMove {
  readonly from: string;
  readonly to: string;
}

/** The fair share: every eligible candidate should lead `floor` or `ceil` shards. */
export function fairShare(count: number, eligible: number): { floor: number; ceil: number } {
  if (eligible <= 0) return { floor: 0, ceil: count };
  return { floor: Math.floor(count / eligible), ceil: Math.ceil(count / eligible) };
}

/**
 * The fewest moves that can balance the view: every shard above `ceil` (or led by an
 * ineligible candidate) must leave, every gap below `floor` must be filled, and one move
 * can do one of each.
 */
export function surplus(view: ShardView): number {
  const { floor, ceil } = fairShare(view.count, view.eligible.length);
  const eligible = new Set(view.eligible);
  let over = 0;
  for (const [id, led] of view.owners) over += eligible.has(id) ? Math.max(0, led - ceil) : led;
  let under = 0;
  for (const id of view.eligible) under += Math.max(0, floor - (view.owners.get(id) ?? 0));
  return Math.max(over, under);
}

/**
 * Moves that balance the view, largest holder to smallest, one at a time: an ineligible
 * holder gives everything away; an eligible one gives while it is above `ceil` to a candidate
 * below `ceil`, or to a candidate below `floor` that has at least two fewer. Each move
 * lowers the sum of squared counts, so the plan ends, and it never moves more than
 * `surplus(view)` shards: nothing already fair is reshuffled.
 */
export function planMoves(view: ShardView): ShardMove[] {
  if (view.eligible.length === 0) return [];
  const { floor, ceil } = fairShare(view.count, view.eligible.length);
  const eligible = new Set(view.eligible);
  const led = new Map<string, number>(view.eligible.map((id) => [id, 0]));
  for (const [id, n] of view.owners) if (n > 0 || eligible.has(id)) led.set(id, n);
  const moves: ShardMove[] = [];
  for (let step = 0; step < view.count; step++) {
    const from = nextDonor(led, eligible);
    const to = pick(view.eligible, led, (a, b) => a - b);
    if (from === undefined || to === undefined || from === to) break;
    const [d, r] = [led.get(from) ?? 0, led.get(to) ?? 0];
    const worth = !eligible.has(from) || (d > ceil && r < ceil) || (d - r >= 2 && r < floor);
    if (!worth) break;
    led.set(from, d - 1);
    led.set(to, r + 1);
    moves.push({ from, to });
  }
  return moves;
}

/** An ineligible holder that still leads shards first, else the eligible one leading most. */
function nextDonor(
  led: ReadonlyMap<string, number>,
  eligible: ReadonlySet<string>,
): string | undefined {
  const leaving = [...led].filter(([id, n]) => !eligible.has(id) && n > 0).map(([id]) => id);
  if (leaving.length > 0) return leaving.sort(compareBytewise)[0];
  return pick([...eligible], led, (a, b) => b - a);
}

/** The id whose count comes first by `order`, ties by id bytewise (the same on every node). */
function pick(
  ids: readonly string[],
  led: ReadonlyMap<string, number>,
  order: (a: number, b: number) => number,
): string | undefined {
  return [...ids].sort(
    (a, b) => order(led.get(a) ?? 0, led.get(b) ?? 0) || compareBytewise(a, b),
  )[0];
}
