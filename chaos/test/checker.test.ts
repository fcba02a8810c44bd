import { describe, expect, it } from 'vitest';
import { checkRound, provenOverlap, tenuresOf } from '../src/checker.js';
import type { Answer, LoggedChange, RoundHistory } from '../src/history.js';

/** Hand-made histories: each answer is [sentAt, receivedAt] with what the sidecar said. */

function answer(
  sidecar: string,
  [sentAt, receivedAt]: [number, number],
  said: { isLeader?: boolean; leader?: string | null; term?: number | null; error?: string } = {},
): Answer {
  const isLeader = said.isLeader ?? false;
  return {
    sidecar,
    candidate: sidecar.split('#')[0] ?? sidecar,
    sentAt,
    receivedAt,
    error: said.error ?? null,
    isLeader,
    leader: said.leader ?? (isLeader ? (sidecar.split('#')[0] ?? null) : null),
    term: said.term ?? null,
    leaseRemainingMs: isLeader ? 1_000 : 0,
    termRegressions: 0,
  };
}

/** `sidecar` leads under `term` in every one of `windows`. */
function leads(sidecar: string, term: number, windows: [number, number][]): Answer[] {
  return windows.map((w) => answer(sidecar, w, { isLeader: true, term }));
}

function history(answers: Answer[], more: Partial<RoundHistory> = {}): RoundHistory {
  const endedAt = Math.max(0, ...answers.map((a) => a.receivedAt));
  return {
    scenario: 'hand-made',
    backend: 'none',
    round: 1,
    election: 'e',
    ttlMs: 1_000,
    failoverBoundMs: 500,
    startedAt: 0,
    endedAt,
    answers,
    changes: [],
    marks: [],
    checks: [],
    error: null,
    ...more,
  };
}

const kinds = (h: RoundHistory): string[] => checkRound(h).violations.map((v) => v.kind);

describe('checker: overlaps', () => {
  it('finds two sidecars whose certain stretches of leadership meet', () => {
    const h = history([
      ...leads('a#1', 1, [
        [0, 2],
        [10, 12],
        [20, 22],
      ]),
      ...leads('b#1', 2, [
        [15, 17],
        [25, 27],
      ]),
    ]);
    const verdict = checkRound(h);
    expect(verdict.overlaps).toBe(1);
    // a certainly led over [2, 20], b over [17, 25]: both over [17, 20].
    expect(verdict.violations[0]?.detail).toContain('from 17.0 ms to 20.0 ms');
  });

  it('finds a lone answer that lies wholly inside another sidecar’s certain stretch', () => {
    const h = history([
      ...leads('a#1', 1, [
        [0, 2],
        [100, 102],
      ]),
      ...leads('b#1', 2, [[40, 45]]),
    ]);
    expect(kinds(h)).toContain('overlap');
  });

  it('reports nothing where windows only touch: each may have answered at its own instant', () => {
    // a: last answer sent at 10, received at 30. b: first answer sent at 20, received at 25.
    // a may have answered at 10 and stepped down; b may have answered at 25.
    const h = history([
      ...leads('a#1', 1, [
        [0, 2],
        [10, 30],
      ]),
      ...leads('b#1', 2, [
        [20, 25],
        [40, 42],
      ]),
      answer('a#1', [35, 37], { leader: 'b', term: 2 }),
    ]);
    expect(checkRound(h).violations).toEqual([]);
  });

  it('does not join leadership across a "not leader" answer of the same sidecar', () => {
    const h = history([
      ...leads('a#1', 5, [[0, 2]]),
      answer('a#1', [10, 12], { leader: null, term: 5 }),
      ...leads('a#1', 5, [[50, 52]]),
      ...leads('b#1', 6, [[20, 22]]),
    ]);
    expect(tenuresOf(h.answers)).toHaveLength(3);
    expect(checkRound(h).overlaps).toBe(0);
  });

  it('finds no overlap in a clean handover', () => {
    const h = history([
      ...leads('a#1', 1, [
        [0, 1],
        [10, 11],
      ]),
      answer('a#1', [20, 21], { error: 'ECONNREFUSED' }),
      answer('b#1', [5, 6], { leader: 'a', term: 1 }),
      ...leads('b#1', 2, [
        [300, 301],
        [310, 311],
      ]),
    ]);
    const verdict = checkRound(h);
    expect(verdict.violations).toEqual([]);
    expect(verdict.terms).toBe(2);
  });

  it('knows what a lone answer proves on each side', () => {
    const certain = tenuresOf(
      leads('a#1', 1, [
        [0, 2],
        [100, 102],
      ]),
    )[0];
    const lone = tenuresOf(leads('b#1', 2, [[99, 150]]))[0];
    if (certain === undefined || lone === undefined) throw new Error('no tenures');
    // b answered somewhere in [99, 150]; a led certainly only until 100: not proved.
    expect(provenOverlap(certain, lone)).toBeNull();
    expect(provenOverlap(lone, certain)).toBeNull();
  });
});

describe('checker: terms', () => {
  it('finds an observer whose term went backwards', () => {
    const h = history([
      ...leads('a#1', 7, [[0, 1]]),
      answer('b#1', [2, 3], { leader: 'a', term: 7 }),
      answer('b#1', [10, 11], { leader: 'c', term: 4 }),
      answer('b#1', [20, 21], { leader: 'c', term: 8 }),
    ]);
    const verdict = checkRound(h);
    expect(verdict.violations.map((v) => v.kind)).toEqual(['term-backwards']);
    expect(verdict.violations[0]?.detail).toContain('term 4 (leader c)');
  });

  it('finds two sidecars under one term, from answers or from their logs', () => {
    const fromAnswers = history([...leads('a#1', 3, [[0, 1]]), ...leads('b#1', 3, [[50, 51]])]);
    expect(kinds(fromAnswers)).toContain('term-shared');

    const elected = (sidecar: string, term: number): LoggedChange => ({
      sidecar,
      candidate: sidecar,
      receivedAt: 0,
      event: 'elected',
      term,
      reason: null,
    });
    const fromLogs = history(leads('a#1', 3, [[0, 1]]), {
      changes: [elected('a#1', 3), elected('b#1', 3)],
    });
    expect(kinds(fromLogs)).toEqual(['term-shared']);
  });

  it('finds a later leadership under a lower term', () => {
    const h = history([...leads('a#1', 9, [[0, 1]]), ...leads('b#1', 8, [[100, 101]])]);
    expect(kinds(h)).toContain('term-order');
  });
});

describe('checker: failover', () => {
  it('finds a failover slower than its bound, and measures the longest one', () => {
    const h = history(
      [
        ...leads('a#1', 1, [
          [0, 1],
          [10, 11],
        ]),
        ...leads('b#1', 2, [[700, 711]]),
      ],
      { failoverBoundMs: 500 },
    );
    const verdict = checkRound(h);
    expect(verdict.maxFailoverMs).toBe(700);
    expect(verdict.violations.map((v) => v.kind)).toEqual(['failover']);
  });

  it('counts a round that ends without a leader up to its end', () => {
    const h = history(leads('a#1', 1, [[0, 1]]), { endedAt: 2_000 });
    expect(kinds(h)).toEqual(['failover']);
  });

  it('accepts a failover within its bound', () => {
    const h = history([...leads('a#1', 1, [[0, 1]]), ...leads('b#1', 2, [[400, 401]])]);
    expect(checkRound(h).violations).toEqual([]);
  });

  it('fails a round where nobody ever led, a scenario check that failed, or an error', () => {
    expect(kinds(history([answer('a#1', [0, 1])]))).toEqual(['failover']);
    const h = history(leads('a#1', 1, [[0, 1]]), {
      checks: [{ name: 'memory', ok: false, detail: 'grew 300 MB' }],
      error: 'the leader never came back',
    });
    expect(kinds(h)).toEqual(['check', 'error']);
  });
});
