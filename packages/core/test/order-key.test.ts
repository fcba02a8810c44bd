import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  candidateOrder,
  candidateOrderKey,
  compareBytewise,
  type TurnFields,
} from '../src/index.js';

/** The rule the key encodes, written out field by field. */
function byRule(a: TurnFields, b: TurnFields): number {
  return b.priority - a.priority || a.startedAt - b.startedAt || compareBytewise(a.id, b.id);
}

const member: fc.Arbitrary<TurnFields> = fc.record({
  id: fc.stringMatching(/^[\x21-\x7e]{1,12}$/),
  priority: fc.oneof(
    fc.integer({ min: -3, max: 3 }),
    fc.constantFrom(Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER),
  ),
  startedAt: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 2 ** 45 })),
});

describe('candidate order', () => {
  it('orders keys bytewise exactly as priority, then start, then id order members', () => {
    fc.assert(
      fc.property(member, member, (a, b) => {
        const rule = Math.sign(byRule(a, b));
        const keys = Math.sign(compareBytewise(candidateOrderKey(a), candidateOrderKey(b)));
        expect(keys).toBe(rule);
      }),
      { numRuns: 2_000 },
    );
  });

  it('breaks ties by id bytewise, not by locale', () => {
    const tie = (id: string): TurnFields => ({ id, priority: 0, startedAt: 5 });
    const ids = candidateOrder(['b', 'B', '_a', 'a-b', 'ab', 'a'].map(tie)).map((m) => m.id);
    expect(ids).toEqual(['B', '_a', 'a', 'a-b', 'ab', 'b']);
  });

  it('keeps the other fields of the records it sorts', () => {
    const records = [
      { id: 'x', priority: 0, startedAt: 1, note: 'late' },
      { id: 'y', priority: 1, startedAt: 2, note: 'high' },
    ];
    expect(candidateOrder(records).map((r) => r.note)).toEqual(['high', 'late']);
  });
});
