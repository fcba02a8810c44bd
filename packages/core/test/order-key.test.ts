import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  candidateOrder,
  candidateOrderKey,
  compareBytewise,
  compareCandidates,
  levelsAbove,
  type TurnFields,
} from '../src/index.js';

/**
 * The rule the key encodes, written out field by field and independently of the key:
 * eligible first, priority, version (semver > text > none), seniority, id.
 */
function byRule(a: TurnFields, b: TurnFields): number {
  return (
    rank(a, b) || a.startedAt - b.startedAt || compareBytewise(a.id, b.id) // ids are ASCII
  );
}

function rank(a: TurnFields, b: TurnFields): number {
  return (
    Number(eligible(b)) - Number(eligible(a)) ||
    b.priority - a.priority ||
    referenceVersionOrder(b.version ?? null, a.version ?? null)
  );
}

const eligible = (m: TurnFields) => m.drained !== true && m.health !== 'unhealthy';

/** semver.org §11 exactly, for versions within the key's bounds; text by UTF-8 bytes. */
function referenceVersionOrder(a: string | null, b: string | null): number {
  const kind = (v: string | null) => (v === null ? 0 : SEMVER.test(v) ? 2 : 1);
  if (kind(a) !== kind(b)) return kind(a) - kind(b);
  if (a === null || b === null) return 0;
  if (kind(a) === 1) return Buffer.compare(Buffer.from(a), Buffer.from(b));
  const [pa, pb] = [parts(a), parts(b)];
  for (let i = 0; i < 3; i += 1) {
    const order = Number(pa.core[i]) - Number(pb.core[i]);
    if (order !== 0) return order;
  }
  if (pa.pre.length === 0 || pb.pre.length === 0) return pb.pre.length - pa.pre.length;
  for (let i = 0; i < Math.min(pa.pre.length, pb.pre.length); i += 1) {
    const [x, y] = [pa.pre[i] ?? '', pb.pre[i] ?? ''];
    const [nx, ny] = [/^\d+$/.test(x), /^\d+$/.test(y)];
    const order =
      nx && ny ? Number(x) - Number(y) : nx !== ny ? (nx ? -1 : 1) : compareBytewise(x, y);
    if (order !== 0) return order;
  }
  return pa.pre.length - pb.pre.length;
}

const SEMVER = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?$/;
function parts(v: string): { core: string[]; pre: string[] } {
  const [, ma = '', mi = '', pa = '', pre] = SEMVER.exec(v) ?? [];
  return { core: [ma, mi, pa], pre: pre === undefined ? [] : pre.split('.') };
}

const identifier = fc.oneof(
  fc.constantFrom('0', '1', '2', '10', '9007199254740991'),
  fc.constantFrom('alpha', 'beta', 'rc', 'a-b', 'A', 'x1', '1a', 'alpha1'),
);
/** Semver within bounds (at most 5 identifiers of at most 20 bytes), text and none. */
const version: fc.Arbitrary<string | null> = fc.oneof(
  fc.constant(null),
  fc
    .tuple(
      fc.array(fc.constantFrom(0, 1, 2, 10, Number.MAX_SAFE_INTEGER), {
        minLength: 3,
        maxLength: 3,
      }),
      fc.array(identifier, { maxLength: 5 }),
      fc.boolean(),
    )
    .map(
      ([core, pre, v]) =>
        `${v ? 'v' : ''}${core.join('.')}${pre.length > 0 ? `-${pre.join('.')}` : ''}`,
    ),
  fc.constantFrom('', '1.2', '01.0.0', 'build-9', 'build-10', 'é', 'Z', 'z', 'zz'),
);

const member: fc.Arbitrary<TurnFields> = fc.record(
  {
    id: fc.stringMatching(/^[\x21-\x7e]{1,12}$/),
    priority: fc.oneof(
      fc.integer({ min: -3, max: 3 }),
      fc.constantFrom(Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER),
    ),
    startedAt: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 2 ** 45 })),
    drained: fc.boolean(),
    health: fc.constantFrom('healthy' as const, 'unhealthy' as const, 'unknown' as const),
    version,
  },
  { requiredKeys: ['id', 'priority', 'startedAt'] },
);

describe('candidate order', () => {
  it('orders keys bytewise exactly as the rule orders members, versions included', () => {
    fc.assert(
      fc.property(member, member, (a, b) => {
        const rule = Math.sign(byRule(a, b));
        const keys = Math.sign(compareBytewise(candidateOrderKey(a), candidateOrderKey(b)));
        expect(keys).toBe(rule);
        expect(Math.sign(compareCandidates(a, b))).toBe(rule);
      }),
      { numRuns: 3_000 },
    );
  });

  it('counts the levels above exactly as the rule ranks them', () => {
    fc.assert(
      fc.property(member, fc.array(member, { maxLength: 6 }), (self, others) => {
        const above = others.filter((o) => rank(o, self) < 0);
        const distinct = above.filter((o, i) => above.findIndex((p) => rank(p, o) === 0) === i);
        expect(levelsAbove(self, others)).toBe(distinct.length);
      }),
      { numRuns: 1_000 },
    );
  });

  it('keeps keys printable ASCII whatever the version', () => {
    const key = candidateOrderKey({ id: 'a', priority: 0, startedAt: 0, version: 'é-💥' });
    expect(key).toMatch(/^[\x21-\x7e]+$/);
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
