// bench/RESULTS.md is generated: `node bench/report.mjs` from bench/results/*.json. A section
// written into it by hand is lost at the next `pnpm bench`, as "Many elections" nearly was;
// these tests keep the committed file equal to what the generator makes of the saved results.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { manyElectionsSection, mergeManyElections } from '../bench/lib/many-elections-report.mjs';
import { renderMarkdown } from '../bench/report.mjs';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
const NAMES = { redis: 'Redis', etcd: 'etcd' };

function row(backend: string, mode: string, leadingAtEnd: number) {
  return {
    backend,
    mode,
    leadingAtEnd,
    renewRequestsPerInterval: 2,
    memberRequestsPerInterval: 2,
    serverScriptCallsPerInterval: null,
    cpuPercentOfCore: 1,
    rssMb: 100,
    load: [1, 2, 3],
  };
}

function run(date: string, elections: number, rows: ReturnType<typeof row>[]) {
  return { date, elections, ttlMs: 6000, renewIntervalMs: 2000, seconds: 20, rows };
}

describe('bench/RESULTS.md', () => {
  it('is what bench/report.mjs renders from bench/results/latest.json, nothing more', () => {
    const results: unknown = JSON.parse(read('bench/results/latest.json'));
    expect(renderMarkdown(results)).toBe(read('bench/RESULTS.md'));
  });

  it('has the many-elections section, one table row per saved row', () => {
    const saved = JSON.parse(read('bench/results/many-elections.json')) as {
      runs: { rows: unknown[] }[];
    };
    const markdown = read('bench/RESULTS.md');
    const section = markdown.slice(markdown.indexOf('## Many elections in one process'));
    const [sectionText = ''] = section.split('\n## ');
    const tableRows = sectionText
      .split('\n')
      .filter((line) => /^\| [^-|].* \| (per lease|batched) \|/.test(line));
    expect(tableRows).toHaveLength(saved.runs.flatMap((r) => r.rows).length);
  });
});

describe('many-elections results', () => {
  it('a new run replaces only the rows it measured again, and keeps other counts', () => {
    const thousand = run('2026-12-07T04:23:00Z', 1000, [
      row('redis', 'per-lease', 1000),
      row('etcd', 'batched', 0),
    ]);
    const again = run('2026-12-08T01:00:00Z', 1000, [row('etcd', 'batched', 1000)]);
    const small = run('2026-12-08T02:00:00Z', 100, [row('redis', 'per-lease', 100)]);
    const merged = mergeManyElections(mergeManyElections({ runs: [thousand] }, again), small);
    expect(merged.runs.map((r) => r.rows.map((x) => `${x.backend}:${x.leadingAtEnd}`))).toEqual([
      ['redis:1000'],
      ['etcd:1000'],
      ['redis:100'],
    ]);
    const lines = manyElectionsSection(merged, { names: NAMES });
    expect(
      lines.filter((line) => line.startsWith('| Redis, 100 elections | per lease |')),
    ).toHaveLength(1);
    expect(lines.filter((line) => line.startsWith('| etcd | batched | 1000/1000 |'))).toHaveLength(
      1,
    );
    expect(lines.join('\n')).not.toContain('| 0/1000 |');
  });

  it('renders nothing before a run', () => {
    expect(manyElectionsSection(undefined, { names: NAMES })).toEqual([]);
  });
});
