import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { JobRun } from '@leasehold/testkit';

/**
 * What one round of a scenario recorded: every answer of every sidecar, every leadership
 * change they logged, and when each fault began and ended. Times are the suite's monotonic
 * milliseconds (`wait.ts` `now()`), one clock for everything in the round.
 */

/**
 * One `GET /v1/leader` as the recorder saw it; in a round of several elections, one
 * election's line of one `GET /v1/elections` (every line of it sent and read together).
 */
export interface Answer {
  /** The sidecar process (`<candidate>#<start number>`): a restarted candidate is a new one. */
  readonly sidecar: string;
  readonly candidate: string;
  /** The election it answers for: only in a round of several elections. */
  readonly election?: string;
  /** Just before the request was written. */
  readonly sentAt: number;
  /** Just after the whole answer was read (or the request failed). */
  readonly receivedAt: number;
  /** Null when there was no answer: the error, such as `timeout` or `ECONNREFUSED`. */
  readonly error: string | null;
  readonly isLeader: boolean;
  /** The leader this sidecar knows of, and its term. */
  readonly leader: string | null;
  readonly term: number | null;
  /** Null where the route does not say (`GET /v1/elections`). */
  readonly leaseRemainingMs: number | null;
  /**
   * How often this sidecar says it saw the term go backwards (`termRegressions.count`); null
   * where the route does not say (`GET /v1/elections`).
   */
  readonly termRegressions: number | null;
}

/** A leadership change a sidecar logged (`elected` / `deposed`), as it arrived here. */
export interface LoggedChange {
  readonly sidecar: string;
  readonly candidate: string;
  /** The election the line names: only in a round of several elections. */
  readonly election?: string;
  /** When the line reached the recorder: the change happened before. */
  readonly receivedAt: number;
  readonly event: 'elected' | 'deposed';
  readonly term: number;
  readonly reason: string | null;
}

/** A fault or step of the scenario, as it happened (`end` null for a single instant). */
export interface Mark {
  readonly name: string;
  readonly start: number;
  readonly end: number | null;
  readonly detail: string | null;
}

/** A scenario's own check, beyond what the checker derives from the answers. */
export interface ScenarioCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface RoundHistory {
  readonly scenario: string;
  readonly backend: string;
  readonly round: number;
  readonly election: string;
  /**
   * A round of several elections (every sidecar in each): their names; each is checked on
   * its own answers, changes and job runs. Absent in a round of one election (`election`).
   */
  readonly elections?: readonly string[];
  readonly ttlMs: number;
  /** The longest a failover of this round may take: the scenario's bound. */
  readonly failoverBoundMs: number;
  /** The recording ran from `startedAt` to `endedAt`. */
  readonly startedAt: number;
  readonly endedAt: number;
  readonly answers: readonly Answer[];
  readonly changes: readonly LoggedChange[];
  readonly marks: readonly Mark[];
  readonly checks: readonly ScenarioCheck[];
  /**
   * Commands mode: every run of the leader-only job, its stamps' times in round time. Null
   * when the sidecars ran without a command.
   */
  readonly jobs: readonly JobRun[] | null;
  /** Set when the scenario itself failed (a step timed out, a fixture broke). */
  readonly error: string | null;
}

export function writeHistory(path: string, history: RoundHistory): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(history)}\n`);
}
