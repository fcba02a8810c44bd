import type { RunResult } from './runner.js';

/** The summary table and, below it, every violation with the round and its raw history. */

const HEADERS = [
  'scenario',
  'backend',
  'rounds',
  'overlaps',
  'max failover',
  'terms checked',
  'job stamps',
  'max job gap',
  'result',
];

export function summaryRows(results: readonly RunResult[]): string[][] {
  return results.map(({ scenario, backend, rounds }) => {
    const verdicts = rounds.map((r) => r.verdict);
    const failovers = verdicts.flatMap((v) => (v.maxFailoverMs === null ? [] : [v.maxFailoverMs]));
    const failing = rounds.filter((r) => r.verdict.violations.length > 0).length;
    const known = rounds.filter((r) => r.known.length > 0).length;
    return [
      scenario.name,
      backend,
      String(rounds.length),
      String(verdicts.reduce((sum, v) => sum + v.overlaps, 0)),
      seconds(failovers),
      String(verdicts.reduce((sum, v) => sum + v.terms, 0)),
      String(verdicts.reduce((sum, v) => sum + v.jobStamps, 0)),
      seconds(verdicts.flatMap((v) => (v.maxJobGapMs === null ? [] : [v.maxJobGapMs]))),
      failing > 0
        ? `FAILED ${failing}/${rounds.length}`
        : known > 0
          ? `known defect ${known}/${rounds.length}`
          : 'ok',
    ];
  });
}

/** The largest of `ms`, in seconds; '-' when there is none. */
function seconds(ms: readonly number[]): string {
  return ms.length === 0 ? '-' : `${(Math.max(...ms) / 1000).toFixed(2)} s`;
}

/** A Markdown table (readable in a terminal, pasteable into docs). */
export function formatTable(results: readonly RunResult[]): string {
  const rows = [HEADERS, ...summaryRows(results)];
  const widths = HEADERS.map((_, column) =>
    Math.max(...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (row: readonly string[]): string =>
    `| ${row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
  const rule = `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`;
  return [line(HEADERS), rule, ...rows.slice(1).map(line)].join('\n');
}

/** Every violation, grouped by round, each with where its raw history is. */
export function formatViolations(results: readonly RunResult[]): string {
  const blocks: string[] = [];
  for (const { scenario, backend, rounds } of results) {
    for (const { round, file, verdict } of rounds) {
      if (verdict.violations.length === 0) continue;
      blocks.push(
        [
          `${scenario.name} on ${backend}, round ${round} (raw history: ${file}):`,
          ...verdict.violations.map((v) => `  - ${v.kind}: ${v.detail}`),
        ].join('\n'),
      );
    }
  }
  return blocks.join('\n');
}

/** What known defects caused, apart: reported, not counted as failures. */
export function formatKnownDefects(results: readonly RunResult[]): string {
  const blocks: string[] = [];
  for (const { scenario, backend, rounds } of results) {
    for (const { round, file, known } of rounds) {
      if (known.length === 0) continue;
      blocks.push(
        [
          `${scenario.name} on ${backend}, round ${round} (raw history: ${file}):`,
          ...known.map((v) => `  - ${v.kind}: ${v.detail}\n    known defect: ${v.defect}`),
        ].join('\n'),
      );
    }
  }
  return blocks.join('\n');
}

export function violationCount(results: readonly RunResult[]): number {
  return results.reduce(
    (sum, { rounds }) => sum + rounds.reduce((n, r) => n + r.verdict.violations.length, 0),
    0,
  );
}

/** The results as data, for tools (the CI test reads it). */
export function summaryJson(results: readonly RunResult[]): string {
  return `${JSON.stringify(
    results.map(({ scenario, backend, rounds, inconclusive }) => ({
      scenario: scenario.name,
      backend,
      inconclusive: inconclusive.map(({ round, file, verdict, stall }) => ({
        round,
        file,
        stall,
        violations: verdict.violations,
      })),
      rounds: rounds.map(({ round, file, verdict, known }) => ({
        round,
        file,
        overlaps: verdict.overlaps,
        maxFailoverMs: verdict.maxFailoverMs,
        terms: verdict.terms,
        jobStamps: verdict.jobStamps,
        jobGapsMs: verdict.jobGapsMs,
        violations: verdict.violations,
        knownDefects: known,
      })),
    })),
    null,
    2,
  )}\n`;
}
