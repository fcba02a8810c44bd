import { describe, expect, it } from 'vitest';
import { checkRound, jobGapsOf, provenOverlap, tenuresOf } from '../src/checker.js';
import type { Answer, LoggedChange, RoundHistory } from '../src/history.js';
import { lastTermLed, neverLed, onlyLeader } from '../src/steering-checks.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type JobRun, jobRuns, overlaps } from '@leasehold/testkit';

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
    jobs: null,
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

/** A job run of `id` under `term`, stamping every 4 ms from `first` to `last`. */
function job(id: string, pid: number, term: number, [first, last]: [number, number]): JobRun {
  return { id, pid, term, first, last, stamps: Math.floor((last - first) / 4) + 1 };
}

/** a leads under term 1 until 1000, b under term 2 from 3000. */
const HANDOVER = [
  ...leads('a#1', 1, [
    [0, 2],
    [990, 992],
  ]),
  ...leads('b#1', 2, [
    [3000, 3002],
    [3500, 3502],
  ]),
];

describe('checker: jobs (commands mode)', () => {
  const handover = HANDOVER;
  const loose = { failoverBoundMs: 5_000 };

  it('accepts one job after another, each under the newest term, and measures the gap', () => {
    const h = history(handover, {
      ...loose,
      jobs: [job('a', 11, 1, [10, 900]), job('b', 12, 2, [3100, 3500])],
    });
    const verdict = checkRound(h);
    expect(verdict.violations).toEqual([]);
    expect(verdict.jobGapsMs).toEqual([2200]);
    expect(verdict.maxJobGapMs).toBe(2200);
    expect(verdict.jobStamps).toBe(223 + 101);
  });

  it('finds two jobs that ran at once (a job its sidecar’s death left running)', () => {
    const h = history(handover, {
      ...loose,
      jobs: [job('a', 11, 1, [10, 3600]), job('b', 12, 2, [3100, 3500])],
    });
    const verdict = checkRound(h);
    expect(kinds(h)).toContain('job-overlap');
    expect(verdict.violations.find((v) => v.kind === 'job-overlap')?.detail).toBe(
      "a's job (pid 11, term 1) and b's job (pid 12, term 2) both ran from 3100.0 ms to 3500.0 ms",
    );
    expect(verdict.jobGapsMs).toEqual([]);
  });

  it('finds a job on a term older than one already granted, even with no other job running', () => {
    // b was elected (its answer read at 3002) but its job never started; a's job ran on.
    const h = history(handover, { ...loose, jobs: [job('a', 11, 1, [10, 3200])] });
    expect(kinds(h)).toEqual(['job-stale-term']);
    expect(checkRound(h).violations[0]?.detail).toBe(
      "a's job (pid 11, term 1) stamped until 3200.0 ms, after term 2 was granted (b#1 answered leader at 3002.0 ms)",
    );
  });

  it('learns of a newer term from a logged election and from another job’s stamps', () => {
    const elected: LoggedChange = {
      sidecar: 'b#1',
      candidate: 'b',
      receivedAt: 2000,
      event: 'elected',
      term: 2,
      reason: null,
    };
    const fromLog = history(handover, {
      ...loose,
      changes: [elected],
      jobs: [job('a', 11, 1, [10, 2500]), job('b', 12, 2, [3100, 3500])],
    });
    expect(kinds(fromLog)).toEqual(['job-stale-term']);
    // A PostgreSQL claim that ignored the timeline: c's job under term 3 ran, then a job
    // under term 2 started after it.
    const fromJob = history(handover, {
      ...loose,
      jobs: [job('c', 13, 3, [1000, 1100]), job('b', 12, 2, [3100, 3500])],
    });
    expect(kinds(fromJob)).toEqual(['job-stale-term']);
  });

  it('fails a commands round in which no job ran, and ignores jobs without commands', () => {
    expect(kinds(history(handover, { ...loose, jobs: [] }))).toEqual(['job-missing']);
    const plain = checkRound(history(handover, loose));
    expect(plain.violations).toEqual([]);
    expect([plain.jobStamps, plain.maxJobGapMs]).toEqual([0, null]);
  });

  it('measures the gaps between runs, not counting runs that overlap', () => {
    expect(
      jobGapsOf([
        job('a', 1, 1, [0, 100]),
        job('b', 2, 2, [50, 300]),
        job('c', 3, 3, [500, 600]),
        job('d', 4, 4, [700, 800]),
      ]),
    ).toEqual([200, 100]);
  });

  it('describes two runs alive at the same time, and only those', () => {
    const run = (id: string, pid: number, first: number, last: number): JobRun =>
      job(id, pid, pid, [first, last]);
    expect(overlaps([run('a', 1, 0, 100), run('b', 2, 101, 200)])).toEqual([]);
    expect(overlaps([run('a', 1, 0, 100), run('b', 2, 100, 200)])).toHaveLength(1);
    expect(
      overlaps([run('a', 1, 0, 300), run('b', 2, 101, 200), run('c', 3, 250, 400)]),
    ).toHaveLength(2);
    // Jobs of two elections run at once by design.
    const inA = { ...run('a', 1, 0, 300), election: 'A' };
    expect(overlaps([inA, { ...run('b', 2, 100, 200), election: 'B' }])).toEqual([]);
    expect(overlaps([inA, { ...run('b', 2, 100, 200), election: 'A' }])).toHaveLength(1);
  });

  it('reads each run’s election from its stamps, and leaves out a line still being written', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lhch-stamps-'));
    const file = join(dir, 'stamps.log');
    writeFileSync(
      file,
      'a 11 10.000 1 A\nb 12 11.000 2 B\na 11 14.000 1 A\nc 13 15.000 3 \nb 12 15.000 2 B',
    );
    try {
      expect(jobRuns(file)).toEqual([
        { id: 'a', pid: 11, term: 1, election: 'A', first: 10, last: 14, stamps: 2 },
        { id: 'b', pid: 12, term: 2, election: 'B', first: 11, last: 11, stamps: 1 },
        // Stamped outside a run of several elections: no LEASEHOLD_ELECTION.
        { id: 'c', pid: 13, term: 3, first: 15, last: 15, stamps: 1 },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('checker: several elections in every sidecar', () => {
  /** `answers` as one election's lines of GET /v1/elections. */
  const of = (election: string, answers: Answer[]): Answer[] =>
    answers.map((a) => ({ ...a, election, leaseRemainingMs: null, termRegressions: null }));
  const ofJob = (election: string, run: JobRun): JobRun => ({ ...run, election });
  const several = (answers: Answer[], more: Partial<RoundHistory> = {}): RoundHistory =>
    history(answers, { elections: ['A', 'B'], failoverBoundMs: 5_000, ...more });
  /** In each election the same handover (HANDOVER). */
  const handover = (election: string): Answer[] => of(election, HANDOVER);

  it('finds an overlap in election B only, and names B', () => {
    const overlapInB = of('B', [
      ...leads('a#1', 7, [
        [0, 2],
        [20, 22],
      ]),
      ...leads('b#1', 8, [
        [10, 12],
        [30, 32],
      ]),
    ]);
    const verdict = checkRound(several([...handover('A'), ...overlapInB]));
    expect(verdict.violations.map((v) => [v.kind, v.election])).toEqual([['overlap', 'B']]);
    expect(verdict.violations[0]?.detail).toBe(
      'election B: a#1 (term 7) and b#1 (term 8) both led from 12.0 ms to 20.0 ms',
    );
    expect(verdict.overlaps).toBe(1);
  });

  it('lets different sidecars lead different elections at once, even under one term number', () => {
    const aLeadsA = of(
      'A',
      leads('a#1', 5, [
        [0, 2],
        [3000, 3002],
      ]),
    );
    const bLeadsB = of(
      'B',
      leads('b#1', 5, [
        [1, 3],
        [3001, 3003],
      ]),
    );
    const verdict = checkRound(several([...aLeadsA, ...bLeadsB]));
    expect(verdict.violations).toEqual([]);
    expect(verdict.terms).toBe(2);
    expect(verdict.answers).toBe(4);
  });

  it('finds a term shared in B from a logged election that names B', () => {
    const elected = (sidecar: string, election: string, term: number): LoggedChange => ({
      sidecar,
      candidate: sidecar.split('#')[0] ?? sidecar,
      election,
      receivedAt: 3000,
      event: 'elected',
      term,
      reason: null,
    });
    // b logged its election in A (term 2, as it answered); c logged term 1 of B, a's there.
    const h = several([...handover('A'), ...handover('B')], {
      changes: [elected('b#1', 'A', 2), elected('c#1', 'B', 1)],
    });
    const verdict = checkRound(h);
    expect(verdict.violations.map((v) => [v.kind, v.election])).toEqual([['term-shared', 'B']]);
    expect(verdict.violations[0]?.detail).toBe('election B: term 1 was led by a#1 and c#1');
  });

  it('finds a slow failover of B only, and reports the longest of all elections', () => {
    const slowB = of('B', [...leads('a#1', 1, [[0, 2]]), ...leads('b#1', 2, [[9000, 9002]])]);
    const aStays = of('A', leads('b#1', 2, [[9000, 9002]]));
    const verdict = checkRound(
      several([...handover('A'), ...aStays, ...slowB], { failoverBoundMs: 6_000 }),
    );
    expect(verdict.violations.map((v) => [v.kind, v.election])).toEqual([['failover', 'B']]);
    expect(verdict.violations[0]?.detail).toBe(
      'election B: no sidecar reported leadership for 9000 ms from 2.0 ms (bound 6000 ms)',
    );
    expect(verdict.maxFailoverMs).toBe(9000);
  });

  it('checks each election’s jobs on their own: an overlap and a stale term in B, B named', () => {
    const jobs = [
      ofJob('A', job('a', 11, 1, [10, 900])),
      ofJob('A', job('b', 12, 2, [3100, 3500])),
      // B's a ran on into b's run (both overlap and stale term), while A's b ran too.
      ofJob('B', job('a', 21, 1, [10, 3200])),
      ofJob('B', job('b', 22, 2, [3100, 3500])),
    ];
    const verdict = checkRound(several([...handover('A'), ...handover('B')], { jobs }));
    expect(verdict.violations.map((v) => [v.kind, v.election])).toEqual([
      ['job-overlap', 'B'],
      ['job-stale-term', 'B'],
    ]);
    expect(verdict.violations[0]?.detail).toBe(
      "election B: a's job (pid 21, term 1) and b's job (pid 22, term 2) both ran from 3100.0 ms to 3200.0 ms",
    );
    expect(verdict.jobStamps).toBe(jobs.reduce((sum, run) => sum + run.stamps, 0));
    expect(verdict.jobGapsMs).toEqual([2200]);
  });

  it('finds an election whose job never ran', () => {
    const jobs = [ofJob('A', job('a', 11, 1, [10, 900]))];
    const h = several([...handover('A'), ...handover('B')], { jobs });
    expect(checkRound(h).violations.map((v) => [v.kind, v.election])).toEqual([
      ['job-missing', 'B'],
    ]);
  });

  it('does not mix answers of one sidecar across elections (its terms go up in each)', () => {
    // One request answered both: A under term 9, B under term 3; then A 9, B 4.
    const h = several([
      ...of(
        'A',
        leads('a#1', 9, [
          [0, 2],
          [10, 12],
        ]),
      ),
      ...of('B', leads('a#1', 3, [[0, 2]])),
      ...of('B', leads('a#1', 4, [[10, 12]])),
    ]);
    expect(checkRound(h).violations).toEqual([]);
  });
});

describe('steering checks (transfer, drain)', () => {
  // alpha leads under 3 until it hands over at 100; charlie leads under 4 from 110.
  const handedOver = [
    ...leads('alpha#1', 3, [
      [0, 2],
      [50, 52],
    ]),
    answer('alpha#1', [104, 106], { leader: 'charlie', term: 4 }),
    ...leads('charlie#1', 4, [
      [110, 112],
      [150, 152],
    ]),
  ];

  it('the named candidate leads alone after the transfer, under a higher term', () => {
    expect(lastTermLed(handedOver, 'alpha', 100)).toBe(3);
    expect(onlyLeader(handedOver, 'charlie', 100, 200, 3)).toEqual({
      ok: true,
      detail: 'charlie led under term 4',
    });
  });

  it('finds another leader, no leader, or a term not above the old one', () => {
    expect(onlyLeader(handedOver, 'bravo', 100, 200, 3).detail).toBe(
      'charlie#1 reported leadership at 110.0 ms',
    );
    expect(onlyLeader(handedOver, 'charlie', 160, 200, 3).detail).toBe(
      'charlie never reported leadership',
    );
    expect(onlyLeader(handedOver, 'charlie', 100, 200, 4).ok).toBe(false);
  });

  it('a drained candidate that leads again before its undrain is found', () => {
    expect(neverLed(handedOver, 'alpha', 100, 200).ok).toBe(true);
    const relapsed = [...handedOver, ...leads('alpha#1', 5, [[170, 171]])];
    expect(neverLed(relapsed, 'alpha', 100, 200)).toEqual({
      ok: false,
      detail: 'alpha#1 reported leadership (term 5) at 170.0 ms, 1 answer(s) in all',
    });
  });

  it('an old leader that still reports leadership after handing over is an overlap', () => {
    // The broken sidecar: it hands over but keeps answering "leader" under its old term.
    const stillLeading = [...handedOver, ...leads('alpha#1', 3, [[120, 122]])].filter(
      (a) => !(a.sidecar === 'alpha#1' && a.sentAt === 104),
    );
    expect(kinds(history(stillLeading))).toContain('overlap');
  });
});
