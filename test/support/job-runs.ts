/**
 * The leader-only job of the `leasehold run` tests and its stamps: one job for these tests
 * and the chaos suite's commands mode, kept with the suite (chaos/src/job-stamps.ts).
 */
export { jobRuns, overlaps, writeJob, type JobRun } from '../../chaos/src/job-stamps.js';
