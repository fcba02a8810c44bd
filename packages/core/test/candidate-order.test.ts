import {
  candidateOrder,
  compareCandidates,
  compareVersions,
  HealthGate,
  levelsAbove,
  parseSemVer,
  type MemberRecord,
} from '@leasehold/core';
import { describe, expect, it } from 'vitest';

describe('compareVersions', () => {
  // Each list is in ascending order: every version ranks above all before it.
  it.each([
    [['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2']],
    [['1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0']],
    [['1.0.0', '1.0.1', '1.1.0', '1.10.0', '2.0.0', '10.0.0']],
    [['0.9.99', 'v1.0.0', '1.0.1']],
    [['99999999999999999999.0.0', '99999999999999999999.0.1']],
  ])('orders %j as semver', (ascending) => {
    for (let i = 1; i < ascending.length; i += 1) {
      const [lower, higher] = [ascending[i - 1] ?? '', ascending[i] ?? ''];
      expect(compareVersions(lower, higher), `${lower} < ${higher}`).toBeLessThan(0);
      expect(compareVersions(higher, lower), `${higher} > ${lower}`).toBeGreaterThan(0);
    }
  });

  it('ignores build metadata and a leading v', () => {
    expect(compareVersions('1.2.3+build.7', '1.2.3+build.9')).toBe(0);
    expect(compareVersions('v1.2.3', '1.2.3')).toBe(0);
  });

  it('compares text that is not semver bytewise, and ranks it below semver', () => {
    expect(compareVersions('zzz', '0.0.1')).toBeLessThan(0);
    expect(compareVersions('1.0.0-0', '~')).toBeGreaterThan(0);
    expect(compareVersions('2024-06-01', '2024-12-01')).toBeLessThan(0);
    // As text, "10" < "9": no guessing at numbers that are not semver.
    expect(compareVersions('build-10', 'build-9')).toBeLessThan(0);
    expect(compareVersions('1.2', '1.10')).toBeGreaterThan(0);
    expect(compareVersions('01.0.0', '1.0.0')).toBeLessThan(0);
    expect(compareVersions('abc', 'abc')).toBe(0);
    expect(compareVersions('Z', 'a')).toBeLessThan(0);
    expect(compareVersions('é', 'z')).toBeGreaterThan(0);
  });

  it('ranks no version below every version', () => {
    expect(compareVersions(null, '0.0.0')).toBeLessThan(0);
    expect(compareVersions('', null)).toBeGreaterThan(0);
    expect(compareVersions(null, null)).toBe(0);
  });

  it('ties beyond its documented bounds, and stays total', () => {
    // Numbers saturate at 2^53 - 1; five pre-release identifiers of 20 bytes; 64 bytes of text.
    expect(compareVersions('9007199254740993.0.0', '9007199254740992.0.0')).toBe(0);
    expect(compareVersions('1.0.0-a.b.c.d.e.f', '1.0.0-a.b.c.d.e.g')).toBe(0);
    expect(compareVersions('1.0.0-a.b.c.d.e.f', '1.0.0-a.b.c.d.e')).toBe(0);
    expect(compareVersions('1.0.0-a.b.c.d.f', '1.0.0-a.b.c.d.e')).toBeGreaterThan(0);
    expect(compareVersions(`1.0.0-${'x'.repeat(20)}a`, `1.0.0-${'x'.repeat(20)}b`)).toBe(0);
    expect(compareVersions(`${'t'.repeat(64)}a`, `${'t'.repeat(64)}b`)).toBe(0);
    expect(compareVersions(`${'t'.repeat(63)}a`, `${'t'.repeat(63)}b`)).toBeLessThan(0);
  });

  it('parses semver and refuses near misses', () => {
    expect(parseSemVer('1.2.3-rc.1+sha.5')).toEqual({ core: [1n, 2n, 3n], pre: ['rc', '1'] });
    for (const text of ['1.2', '1.2.3.4', '01.2.3', '1.2.3-', '1.2.3-01', ' 1.2.3', 'V1.2.3']) {
      expect(parseSemVer(text), text).toBeNull();
    }
  });
});

describe('compareCandidates', () => {
  const record = (id: string, extra: Partial<MemberRecord> = {}): MemberRecord => ({
    id,
    priority: 0,
    startedAt: 1_000,
    heartbeatAt: 1_000,
    isLeader: false,
    metadata: {},
    ...extra,
  });

  it('puts ineligible last, then priority, version, seniority and id', () => {
    const ordered = candidateOrder([
      record('drained', { priority: 9, drained: true }),
      record('sick', { priority: 9, health: 'unhealthy' }),
      record('old-v1', { version: '1.0.0', startedAt: 1 }),
      record('new-v2', { version: '2.0.0', startedAt: 500 }),
      record('b-v2', { version: '2.0.0', startedAt: 500 }),
      record('unknown-health-v2-rc', { version: '2.0.0-rc.1', health: 'unknown' }),
      record('no-version', { startedAt: 0 }),
      record('high', { priority: 1, health: 'healthy' }),
    ]);
    expect(ordered.map((r) => r.id)).toEqual([
      'high',
      'b-v2',
      'new-v2',
      'unknown-health-v2-rc',
      'old-v1',
      'no-version',
      'drained',
      'sick',
    ]);
  });

  it('orders records without steering fields as before (priority, seniority, id)', () => {
    const ordered = [record('b', { startedAt: 5 }), record('a', { startedAt: 5 }), record('c')];
    expect(ordered.sort(compareCandidates).map((r) => r.id)).toEqual(['a', 'b', 'c']);
  });

  it('counts the levels above a candidate, not the candidates', () => {
    const self = record('self', { version: '1.0.0' });
    const others = [
      record('v2a', { version: '2.0.0' }),
      record('v2b', { version: '2.0.0' }),
      record('p1', { priority: 1, version: '1.0.0' }),
      record('same', { version: '1.0.0' }),
      record('drained-p5', { priority: 5, drained: true }),
      record('sick-v3', { version: '3.0.0', health: 'unhealthy' }),
    ];
    expect(levelsAbove(self, others)).toBe(2);
    // Drained itself: every eligible level, then the drained and sick ones that outrank it.
    expect(levelsAbove(record('x', { drained: true }), others)).toBe(5);
  });
});

describe('HealthGate', () => {
  const verdicts = (gate: HealthGate, results: boolean[]) =>
    results.map((healthy) => (gate.record(healthy), gate.state));

  it('decides only after enough results in a row, both ways', () => {
    const gate = new HealthGate({ failureThreshold: 3, successThreshold: 2 });
    expect(gate.state).toBe('unknown');
    expect(verdicts(gate, [true, false, true, true])).toEqual([
      'unknown',
      'unknown',
      'unknown',
      'healthy',
    ]);
    // Failures interrupted by a pass start counting again.
    expect(verdicts(gate, [false, false, true, false, false, false])).toEqual([
      'healthy',
      'healthy',
      'healthy',
      'healthy',
      'healthy',
      'unhealthy',
    ]);
    expect(verdicts(gate, [true, false, true, true])).toEqual([
      'unhealthy',
      'unhealthy',
      'unhealthy',
      'healthy',
    ]);
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses the threshold %s naming the field', (value) => {
    expect(() => new HealthGate({ failureThreshold: value })).toThrow(
      expect.objectContaining({ code: 'LEASEHOLD_E_CONFIG', field: 'failureThreshold' }) as Error,
    );
  });
});
