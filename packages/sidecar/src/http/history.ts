import type { Elector } from '@leasehold/core';

/** One change of leadership as this instance saw it. */
export interface HistoryEntry {
  /** ISO time this instance noticed the change. */
  readonly at: string;
  /** `leader`: the leader it knows of changed; `deposed`: this instance stopped leading. */
  readonly kind: 'leader' | 'deposed';
  readonly leader: string | null;
  readonly term: number | null;
  /** Why this instance was deposed (`deposed` only). */
  readonly reason?: string;
}

/** How many changes the status page and `GET /v1/history` can show. */
export const HISTORY_LIMIT = 50;

/**
 * The recent leadership changes, newest first. Kept in the sidecar (not the store) because
 * it is what *this* instance observed: after a partition, two sidecars' histories differ,
 * and that difference is what a person debugging at 3 a.m. wants to see.
 */
export class LeadershipHistory {
  private readonly entries: HistoryEntry[] = [];

  constructor(
    elector: Elector,
    private readonly limit = HISTORY_LIMIT,
    private readonly now: () => number = Date.now,
  ) {
    elector.on('leader', (leader) =>
      this.add({ kind: 'leader', leader: leader?.id ?? null, term: leader?.term ?? null }),
    );
    elector.on('deposed', ({ id, term, reason }) =>
      this.add({ kind: 'deposed', leader: id, term, reason }),
    );
  }

  recent(): readonly HistoryEntry[] {
    return this.entries;
  }

  private add(entry: Omit<HistoryEntry, 'at'>): void {
    this.entries.unshift({ at: new Date(this.now()).toISOString(), ...entry });
    if (this.entries.length > this.limit) this.entries.length = this.limit;
  }
}
