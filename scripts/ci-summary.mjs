// Reads vitest's JSON report and prints the closing line CI looks for: "N passed, N failed".
// A run that executed no test counts as a failure.
import { readFileSync } from 'node:fs';

// Several reports (the main run on each Node runtime and the chaos suite's,
// scripts/test-all.sh) add up; each is listed on its own line first, worded so that only
// the closing line reads "N passed, N failed".
const files = process.argv.length > 2 ? process.argv.slice(2) : ['.vitest-results.json'];
let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of files) {
  let report;
  try {
    report = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    console.error(`ci-summary: no test report at ${file} (${error.message})`);
    failed += 1;
    continue;
  }
  // Suites that failed to load report no tests of their own; count each as one failure.
  const failedSuites = (report.testResults ?? []).filter(
    (suite) => suite.status === 'failed' && (suite.assertionResults ?? []).length === 0,
  ).length;
  const counts = {
    passed: report.numPassedTests ?? 0,
    failed: (report.numFailedTests ?? 0) + failedSuites,
    skipped: (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0),
  };
  console.log(`ci-summary: ${file}: ${counts.passed} ok, ${counts.failed} not ok`);
  for (const line of failureLines(report)) console.log(`ci-summary:   ${line}`);
  passed += counts.passed;
  failed += counts.failed;
  skipped += counts.skipped;
}
// CI shows only the tail of the output: each failure is named here, next to the closing
// line, with the first line of its message, so a failed run can be read from that tail.
function failureLines(report) {
  const lines = [];
  for (const suite of report.testResults ?? []) {
    const file = String(suite.name ?? '').replace(`${process.cwd()}/`, '');
    const failures = (suite.assertionResults ?? []).filter((test) => test.status === 'failed');
    if (suite.status === 'failed' && failures.length === 0) {
      lines.push(`${file}: ${firstLine(suite.message)}`);
    }
    for (const test of failures) {
      lines.push(`${file} > ${test.fullName}: ${firstLine((test.failureMessages ?? [])[0])}`);
    }
  }
  return lines;
}

function firstLine(text) {
  const line =
    String(text ?? 'no message')
      .split('\n')
      .find((part) => part.trim() !== '') ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}...` : line;
}

console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
