import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * CI shows only the tail of its output: the closing line and, just above it, each failed
 * test by name, or a failed run cannot be read from what CI reports.
 */
describe('ci-summary', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ci-summary-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function summarise(...reports: unknown[]): { status: number; lines: string[] } {
    const files = reports.map((report, index) => {
      const file = join(dir, `report-${index}.json`);
      writeFileSync(file, JSON.stringify(report));
      return file;
    });
    try {
      const out = execFileSync(process.execPath, ['scripts/ci-summary.mjs', ...files], {
        encoding: 'utf8',
      });
      return { status: 0, lines: out.trim().split('\n') };
    } catch (error) {
      const failed = error as { status: number; stdout: string };
      return { status: failed.status, lines: failed.stdout.trim().split('\n') };
    }
  }

  it('names each failed test and each suite that failed to load, above the closing line', () => {
    const { status, lines } = summarise({
      numPassedTests: 1,
      numFailedTests: 1,
      testResults: [
        {
          name: `${process.cwd()}/test/a.test.ts`,
          status: 'failed',
          assertionResults: [
            { status: 'passed', fullName: 'a > passes' },
            {
              status: 'failed',
              fullName: 'a > fails',
              failureMessages: ['AssertionError: expected 1 to be 2\n  at x'],
            },
          ],
        },
        {
          name: `${process.cwd()}/test/b.test.ts`,
          status: 'failed',
          message: '\nError: cannot load\n  at y',
          assertionResults: [],
        },
      ],
    });
    expect(status).toBe(1);
    expect(lines.slice(1)).toEqual([
      'ci-summary:   test/a.test.ts > a > fails: AssertionError: expected 1 to be 2',
      'ci-summary:   test/b.test.ts: Error: cannot load',
      '1 passed, 2 failed',
    ]);
  });

  it('adds up several reports; a missing one is a failure', () => {
    const passing = { numPassedTests: 3, numFailedTests: 0, testResults: [] };
    expect(summarise(passing, passing)).toMatchObject({
      status: 0,
      lines: expect.arrayContaining(['6 passed, 0 failed']),
    });
    const missing = execFileSync(
      'bash',
      ['-c', `${process.execPath} scripts/ci-summary.mjs ${join(dir, 'none.json')}; echo "rc=$?"`],
      { encoding: 'utf8' },
    );
    expect(missing.trim().split('\n').slice(-2)).toEqual(['0 passed, 1 failed', 'rc=1']);
  });
});
