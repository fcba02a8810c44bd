/**
 * Terms only rise (every acquisition gets a term above all earlier ones), unless the store
 * was reset: its schema dropped, its namespace changed, its SQLite file deleted, its etcd
 * data wiped. Then terms start again from 1 without a word, and an app that fences its
 * writes with the term refuses every write of the new leaders. This notices it.
 */

/** A term lower than the one seen just before it, for the same election. */
export interface TermRegressionEvent {
  readonly election: string;
  /** The term seen just before. */
  readonly previous: number;
  /** The lower term seen now. */
  readonly observed: number;
  /** The highest term seen for the election so far. */
  readonly highest: number;
  /** Wall-clock ms. */
  readonly at: number;
}

export interface TermHistorySnapshot {
  /** The highest term seen for this election, or null before the first. */
  readonly highestTerm: number | null;
  /** How many times terms went backwards. */
  readonly termRegressions: number;
  readonly lastTermRegression: TermRegressionEvent | null;
}

/** The terms one candidate has seen for its election, in the order it saw them. */
export class TermHistory {
  private last: number | null = null;
  private highest: number | null = null;
  private regressions = 0;
  private lastRegression: TermRegressionEvent | null = null;

  constructor(
    private readonly election: string,
    private readonly onRegression: (event: TermRegressionEvent) => void,
  ) {}

  /** Record a term seen in the store (our own lease, or another holder's record). */
  note(term: number): void {
    const previous = this.last;
    this.last = term;
    this.highest = Math.max(this.highest ?? term, term);
    // Reported once per step back: the terms that follow a reset rise again from there.
    if (previous === null || term >= previous) return;
    this.regressions += 1;
    this.lastRegression = {
      election: this.election,
      previous,
      observed: term,
      highest: this.highest,
      at: Date.now(),
    };
    this.onRegression(this.lastRegression);
  }

  snapshot(): TermHistorySnapshot {
    return {
      highestTerm: this.highest,
      termRegressions: this.regressions,
      lastTermRegression: this.lastRegression,
    };
  }
}
