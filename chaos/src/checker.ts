import type { Answer, LoggedChange, RoundHistory } from './history.js';
import { type JobRun, overlappingRuns } from '@leasehold/testkit';

/**
 * Checks one round's history. Pure: a history in, a verdict out.
 *
 * What an answer proves. The sidecar computes an answer at some instant between the moment
 * the request was sent and the moment the answer was read, and we cannot tell which. So
 * "isLeader: true" proves only that its sidecar led at *some* instant of [sentAt,
 * receivedAt]. Several such answers of one sidecar under one term, with no "false" answer
 * between them, come from one stretch of leadership: within a term an elector leads from
 * its election until its deadline or its step-down, and leads again only under a new term.
 * That stretch includes a point of every answer's window, so it certainly covers everything
 * from the first answer's receipt to the last answer's sending. Two sidecars overlapped
 * only where that is proved: where the certain stretches of two sidecars meet, or where
 * every instant of one sidecar's lone answer lies inside another's certain stretch.
 * Anything less (two windows that merely touch) proves nothing and is not reported.
 *
 * What a job stamp proves (commands mode). A job stamps its candidate, pid, term and the
 * monotonic time while it runs, so a run certainly ran from its first stamp to its last:
 * two runs whose stamps interleave ran at once. A term was certainly granted by the time
 * an answer reporting leadership under it was received, an `elected` line under it was
 * read, or a job stamped under it: a job that stamps under an older term after that ran
 * under a term that was not the newest it could know.
 *
 * Several elections. In a round where every sidecar takes part in several elections, each
 * election is checked on its own as above, on its answers, logged changes and job runs
 * only, and each of its violations names it; the round's numbers add up the elections'.
 */

export type ViolationKind =
  /** Two sidecars reported leadership at the same instant. */
  | 'overlap'
  /** One sidecar reported a term lower than one it had reported before. */
  | 'term-backwards'
  /** Two sidecars led under the same term. */
  | 'term-shared'
  /** A later leadership had a lower term than an earlier one. */
  | 'term-order'
  /** No sidecar reported leadership for longer than the scenario's bound. */
  | 'failover'
  /** Two leader-only jobs ran at once (commands mode). */
  | 'job-overlap'
  /** A job ran on after a newer term than its own was granted (commands mode). */
  | 'job-stale-term'
  /** Commands mode, and no job ever ran. */
  | 'job-missing'
  /** A check of the scenario's own failed. */
  | 'check'
  /** The scenario could not run to its end. */
  | 'error';

export interface Violation {
  readonly kind: ViolationKind;
  /** The election it is about, in a round of several (its detail names it too). */
  readonly election?: string;
  /** Monotonic ms of the round where it happened, when it has one place. */
  readonly at: number | null;
  readonly detail: string;
}

export interface RoundVerdict {
  readonly violations: readonly Violation[];
  readonly overlaps: number;
  /** The longest time without any sidecar reporting leadership, after the first leader. */
  readonly maxFailoverMs: number | null;
  /** Distinct terms the sidecars reported, each checked for order by every observer. */
  readonly terms: number;
  readonly answers: number;
  /** Job stamps checked (0 without commands). */
  readonly jobStamps: number;
  /** For each failover of the job: from one run's last stamp to the next run's first. */
  readonly jobGapsMs: readonly number[];
  /** The largest of them; null when the job never passed from one run to another. */
  readonly maxJobGapMs: number | null;
}

/** One stretch of leadership: consecutive "leader" answers of one sidecar under one term. */
export interface Tenure {
  readonly sidecar: string;
  readonly candidate: string;
  readonly term: number;
  /** Earliest receipt and latest sending of its answers: led throughout when from ≤ to. */
  readonly certainFrom: number;
  readonly certainTo: number;
  /** Earliest sending and latest receipt: it led at no instant outside these (as far as seen). */
  readonly seenFrom: number;
  readonly seenTo: number;
}

export function checkRound(history: RoundHistory): RoundVerdict {
  const names = history.elections ?? [null];
  const verdicts = names.map((name) =>
    name === null ? checkElection(history) : named(name, checkElection(sliceOf(history, name))),
  );
  const failovers = verdicts.flatMap((v) => (v.maxFailoverMs === null ? [] : [v.maxFailoverMs]));
  const gaps = verdicts.flatMap((v) => v.jobGapsMs);
  const violations: Violation[] = [
    ...verdicts.flatMap((v) => v.violations),
    ...history.checks
      .filter((check) => !check.ok)
      .map((check): Violation => ({
        kind: 'check',
        at: null,
        detail: `${check.name}: ${check.detail}`,
      })),
    ...(history.error === null
      ? []
      : [{ kind: 'error' as const, at: null, detail: history.error }]),
  ];
  return {
    violations,
    overlaps: sum(verdicts.map((v) => v.overlaps)),
    maxFailoverMs: failovers.length === 0 ? null : Math.max(...failovers),
    terms: sum(verdicts.map((v) => v.terms)),
    answers: history.answers.length,
    jobStamps: sum(verdicts.map((v) => v.jobStamps)),
    jobGapsMs: gaps,
    maxJobGapMs: gaps.length === 0 ? null : Math.max(...gaps),
  };
}

/** What one election's answers, logged changes and job runs prove wrong, and its numbers. */
function checkElection(history: RoundHistory): RoundVerdict {
  const answered = history.answers.filter((a) => a.error === null);
  const tenures = tenuresOf(answered);
  const overlaps = findOverlaps(tenures);
  const failover = failoverOf(history, answered);
  const gaps = jobGapsOf(history.jobs ?? []);
  return {
    violations: [
      ...overlaps,
      ...termsBackwards(answered),
      ...sharedTerms(tenures, history.changes),
      ...termOrder(tenures),
      ...failover.violations,
      ...jobViolations(history),
    ],
    overlaps: overlaps.length,
    maxFailoverMs: failover.maxMs,
    terms: new Set(answered.flatMap((a) => (a.term === null ? [] : [a.term]))).size,
    answers: history.answers.length,
    jobStamps: sum((history.jobs ?? []).map((run) => run.stamps)),
    jobGapsMs: gaps,
    maxJobGapMs: gaps.length === 0 ? null : Math.max(...gaps),
  };
}

/**
 * The round as seen by one of its elections: its answers, its logged changes and its job
 * runs only. Terms, leaders and jobs of different elections have nothing to do with each
 * other (two elections may well share a term number, and their jobs run at once).
 */
function sliceOf(history: RoundHistory, election: string): RoundHistory {
  return {
    ...history,
    answers: history.answers.filter((a) => a.election === election),
    changes: history.changes.filter((c) => c.election === election),
    jobs: history.jobs === null ? null : history.jobs.filter((run) => run.election === election),
  };
}

/** An election's verdict whose violations say which election they are about. */
function named(election: string, verdict: RoundVerdict): RoundVerdict {
  return {
    ...verdict,
    violations: verdict.violations.map((v) => ({
      ...v,
      election,
      detail: `election ${election}: ${v.detail}`,
    })),
  };
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

/** Split each sidecar's answers into tenures; a "not leader" answer ends one. */
export function tenuresOf(answers: readonly Answer[]): Tenure[] {
  const tenures: Tenure[] = [];
  for (const own of bySidecar(answers).values()) {
    let run: Answer[] = [];
    const close = (): void => {
      if (run.length > 0) tenures.push(tenureOf(run));
      run = [];
    };
    for (const answer of own) {
      const term = answer.isLeader ? answer.term : null;
      if (term === null || (run.length > 0 && run[0]?.term !== term)) close();
      if (term !== null) run.push(answer);
    }
    close();
  }
  return tenures;
}

function tenureOf(run: readonly Answer[]): Tenure {
  const first = run[0];
  if (first === undefined || first.term === null) throw new Error('empty tenure');
  return {
    sidecar: first.sidecar,
    candidate: first.candidate,
    term: first.term,
    certainFrom: Math.min(...run.map((a) => a.receivedAt)),
    certainTo: Math.max(...run.map((a) => a.sentAt)),
    seenFrom: Math.min(...run.map((a) => a.sentAt)),
    seenTo: Math.max(...run.map((a) => a.receivedAt)),
  };
}

/** Answers per sidecar, in the order they were sent (one request at a time per sidecar). */
function bySidecar(answers: readonly Answer[]): Map<string, Answer[]> {
  const grouped = new Map<string, Answer[]>();
  for (const answer of [...answers].sort((a, b) => a.sentAt - b.sentAt)) {
    const list = grouped.get(answer.sidecar) ?? [];
    list.push(answer);
    grouped.set(answer.sidecar, list);
  }
  return grouped;
}

/** The instants both tenures certainly led, or null when that is not proved. */
export function provenOverlap(a: Tenure, b: Tenure): { from: number; to: number } | null {
  const aCertain = a.certainFrom <= a.certainTo;
  const bCertain = b.certainFrom <= b.certainTo;
  if (aCertain && bCertain) {
    const from = Math.max(a.certainFrom, b.certainFrom);
    const to = Math.min(a.certainTo, b.certainTo);
    return from <= to ? { from, to } : null;
  }
  // A tenure without a certain stretch led somewhere in [certainTo, certainFrom] (the
  // window every one of its answers shares): proved only if all of it lies in the other's.
  const [lone, other] = aCertain ? [b, a] : [a, b];
  if (!(other.certainFrom <= other.certainTo)) return null;
  const inside = other.certainFrom <= lone.certainTo && lone.certainFrom <= other.certainTo;
  return inside ? { from: lone.certainTo, to: lone.certainFrom } : null;
}

function findOverlaps(tenures: readonly Tenure[]): Violation[] {
  const found: Violation[] = [];
  for (const [i, a] of tenures.entries()) {
    for (const b of tenures.slice(i + 1)) {
      if (a.sidecar === b.sidecar) continue;
      const overlap = provenOverlap(a, b);
      if (overlap === null) continue;
      found.push({
        kind: 'overlap',
        at: overlap.from,
        detail:
          `${a.sidecar} (term ${a.term}) and ${b.sidecar} (term ${b.term}) both led ` +
          `from ${ms(overlap.from)} to ${ms(overlap.to)}`,
      });
    }
  }
  return found;
}

/** Every observer's terms, in the order it reported them, never go down. */
function termsBackwards(answers: readonly Answer[]): Violation[] {
  const found: Violation[] = [];
  for (const [sidecar, own] of bySidecar(answers)) {
    // Reported once per step back: the terms that follow a step back rise again from it.
    let previous: (Answer & { term: number }) | null = null;
    for (const answer of own) {
      if (answer.term === null) continue;
      const current = { ...answer, term: answer.term };
      if (previous !== null && current.term < previous.term) {
        found.push({
          kind: 'term-backwards',
          at: current.sentAt,
          detail:
            `${sidecar} reported term ${current.term} (leader ${current.leader ?? 'none'}) at ` +
            `${ms(current.sentAt)} after term ${previous.term} (leader ${previous.leader ?? 'none'}) ` +
            `at ${ms(previous.sentAt)}; ${regressionReported(previous, current)}`,
        });
      }
      previous = current;
    }
  }
  return found;
}

/** Whether the sidecar said it saw the term go back, where its answers say. */
function regressionReported(previous: Answer, current: Answer): string {
  if (current.termRegressions === null || previous.termRegressions === null) {
    return 'its answers do not count term regressions';
  }
  const reported = current.termRegressions > previous.termRegressions;
  return `it ${reported ? 'reported' : 'did not report'} a term regression`;
}

/** A term belongs to one acquisition: two sidecars never lead under the same one. */
function sharedTerms(tenures: readonly Tenure[], changes: readonly LoggedChange[]): Violation[] {
  const holders = new Map<number, Set<string>>();
  const note = (term: number, sidecar: string): void => {
    holders.set(term, (holders.get(term) ?? new Set()).add(sidecar));
  };
  for (const tenure of tenures) note(tenure.term, tenure.sidecar);
  for (const change of changes) if (change.event === 'elected') note(change.term, change.sidecar);
  return [...holders]
    .filter(([, sidecars]) => sidecars.size > 1)
    .map(([term, sidecars]) => ({
      kind: 'term-shared' as const,
      at: null,
      detail: `term ${term} was led by ${[...sidecars].sort().join(' and ')}`,
    }));
}

/** A tenure seen wholly after another has a higher term. */
function termOrder(tenures: readonly Tenure[]): Violation[] {
  const found: Violation[] = [];
  for (const earlier of tenures) {
    for (const later of tenures) {
      if (later.seenFrom > earlier.seenTo && later.term < earlier.term) {
        found.push({
          kind: 'term-order',
          at: later.seenFrom,
          detail:
            `${later.sidecar} led under term ${later.term} from ${ms(later.seenFrom)}, after ` +
            `${earlier.sidecar} had led under the higher term ${earlier.term} until ${ms(earlier.seenTo)}`,
        });
      }
    }
  }
  return found;
}

/**
 * The longest stretch without a "leader" answer from anyone, from the first such answer to
 * the end of the recording. It is an upper bound of the real gap, larger by up to one poll.
 */
function failoverOf(
  history: RoundHistory,
  answers: readonly Answer[],
): { maxMs: number | null; violations: Violation[] } {
  const leading = answers
    .filter((a) => a.isLeader)
    .map((a) => a.receivedAt)
    .sort((a, b) => a - b);
  const first = leading[0];
  if (first === undefined) {
    return {
      maxMs: null,
      violations: [
        { kind: 'failover', at: history.startedAt, detail: 'no sidecar ever reported leadership' },
      ],
    };
  }
  let maxMs = 0;
  let maxAt = first;
  const edges = [...leading, history.endedAt];
  for (let i = 1; i < edges.length; i += 1) {
    const gap = (edges[i] ?? 0) - (edges[i - 1] ?? 0);
    if (gap > maxMs) [maxMs, maxAt] = [gap, edges[i - 1] ?? 0];
  }
  const violations: Violation[] =
    maxMs > history.failoverBoundMs
      ? [
          {
            kind: 'failover',
            at: maxAt,
            detail: `no sidecar reported leadership for ${Math.round(maxMs)} ms from ${ms(maxAt)} (bound ${history.failoverBoundMs} ms)`,
          },
        ]
      : [];
  return { maxMs, violations };
}

function ms(at: number): string {
  return `${at.toFixed(1)} ms`;
}

/** What the job runs of a commands round prove wrong: overlaps, stale terms, no job at all. */
function jobViolations(history: RoundHistory): Violation[] {
  const { jobs } = history;
  if (jobs === null) return [];
  if (jobs.length === 0) {
    return [{ kind: 'job-missing', at: null, detail: 'no job ever ran in a commands round' }];
  }
  const overlapping = overlappingRuns(jobs).map(([run, other]): Violation => ({
    kind: 'job-overlap',
    at: other.first,
    detail:
      `${job(run)} and ${job(other)} both ran from ${ms(other.first)} to ` +
      `${ms(Math.min(run.last, other.last))}`,
  }));
  return [...overlapping, ...staleTerms(history, jobs)];
}

/** When each term was certainly granted, as far as the round shows, and how we know. */
interface TermKnown {
  readonly term: number;
  readonly at: number;
  readonly how: string;
  readonly pid: number | null;
}

function staleTerms(history: RoundHistory, jobs: readonly JobRun[]): Violation[] {
  const known: TermKnown[] = [
    ...history.answers
      .filter((a) => a.error === null && a.isLeader && a.term !== null)
      .map((a) => ({
        term: a.term ?? 0,
        at: a.receivedAt,
        how: `${a.sidecar} answered leader`,
        pid: null,
      })),
    ...history.changes
      .filter((c) => c.event === 'elected')
      .map((c) => ({
        term: c.term,
        at: c.receivedAt,
        how: `${c.sidecar} logged elected`,
        pid: null,
      })),
    ...jobs.map((run) => ({ term: run.term, at: run.first, how: job(run), pid: run.pid })),
  ];
  return jobs.flatMap((run): Violation[] => {
    const newer = known
      .filter((k) => k.pid !== run.pid && k.term > run.term && k.at < run.last)
      .sort((a, b) => a.at - b.at)[0];
    if (newer === undefined) return [];
    return [
      {
        kind: 'job-stale-term',
        at: newer.at,
        detail:
          `${job(run)} stamped until ${ms(run.last)}, after term ${newer.term} was granted ` +
          `(${newer.how} at ${ms(newer.at)})`,
      },
    ];
  });
}

/** Each time the job passed from one run to the next: the time no run stamped. */
export function jobGapsOf(jobs: readonly JobRun[]): number[] {
  const sorted = [...jobs].sort((a, b) => a.first - b.first);
  const gaps: number[] = [];
  let lastEnd: number | null = null;
  for (const run of sorted) {
    if (lastEnd !== null && run.first > lastEnd) gaps.push(run.first - lastEnd);
    lastEnd = Math.max(lastEnd ?? run.last, run.last);
  }
  return gaps;
}

function job(run: JobRun): string {
  return `${run.id}'s job (pid ${run.pid}, term ${run.term})`;
}
