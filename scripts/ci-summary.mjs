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
  passed += counts.passed;
  failed += counts.failed;
  skipped += counts.skipped;
}
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
