import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { childProcesses, leftRunning, until } from '@leasehold/testkit';
import { RunCandidates, TEST_RUN_ARGS, type RunCandidate } from './support/run-candidates.js';

/**
 * examples/fenced-writer with three `leasehold run` candidates on real PostgreSQL, through
 * several leader changes. The last leader is frozen whole (sidecar, watchdog and job
 * stopped, as a paused VM would be); once another leads, its job wakes first and tries to
 * write with its old term. The fence must refuse it: no row of an older term may land
 * after a row of a newer one.
 */

const DATABASE = 'postgres://postgres@127.0.0.1:5432/test';
const EXAMPLE = fileURLToPath(new URL('../examples/fenced-writer/', import.meta.url));
const SCHEMA = `lhrn_fw_${randomUUID().slice(0, 8)}`;
/** psql and the writer use the test's own schema on the shared server. */
const PGOPTIONS = `-c search_path=${SCHEMA} -c client_min_messages=warning`;

/** Each look at the table is a psql process: not more often than this. */
const PSQL_POLL_MS = 50;

function psql(sql: string): string {
  return execFileSync(
    'psql',
    [DATABASE, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql],
    {
      encoding: 'utf8',
      env: { ...process.env, PGOPTIONS },
    },
  ).trim();
}

beforeAll(() => {
  psql(`CREATE SCHEMA ${SCHEMA}`);
  execFileSync(
    'psql',
    [DATABASE, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', `${EXAMPLE}schema.sql`],
    {
      env: { ...process.env, PGOPTIONS },
      stdio: 'ignore',
    },
  );
});
afterAll(() => {
  psql(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
});

const marker = `LHRN_MARK=${randomUUID()}`;
let pool: RunCandidates | undefined;
afterEach(async () => {
  await pool?.killAll();
  expect(await leftRunning(marker)).toEqual([]);
});

/** The newest row: its term and writer. */
function newestRow(): { term: number; writer: string } | undefined {
  const [term, writer] = psql(
    'SELECT term, writer FROM fenced_writer_rows ORDER BY seq DESC LIMIT 1',
  ).split('|');
  return term === undefined || term === '' || writer === undefined
    ? undefined
    : { term: Number(term), writer };
}

/** Wait until a writer other than `not` writes with a term above `above`. */
function nextWriter(above: number, not: string) {
  return until(
    `a newer term than ${above}`,
    10_000,
    () => {
      const row = newestRow();
      return row !== undefined && row.term > above && row.writer !== not ? row : undefined;
    },
    PSQL_POLL_MS,
  );
}

describe('examples/fenced-writer', () => {
  it(
    'lands no row of an older term after a newer one, even from a frozen leader that wakes',
    { timeout: 60_000 },
    async () => {
      pool = new RunCandidates({
        store: DATABASE,
        election: `lhrn-fw-${randomUUID().slice(0, 8)}`,
        job: [`${EXAMPLE}writer.sh`],
        // PG* variables are withheld from jobs unless passed on purpose (docs/run.md).
        args: ['--store-prefix', 'lhrn', '--pass-env', 'PGOPTIONS', ...TEST_RUN_ARGS],
        marker,
        env: { FENCED_WRITER_DATABASE_URL: DATABASE, FENCED_WRITER_INTERVAL: '0.05', PGOPTIONS },
      });
      const candidates = pool;
      let nextId = 1;
      const startOne = () => candidates.start(`w${nextId++}`);
      await Promise.all([startOne(), startOne(), startOne()]);
      let row = await until('the first row', 15_000, newestRow, PSQL_POLL_MS);

      // Leader changes: a clean stop, then a crash.
      for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
        candidates.byId(row.writer).child.kill(signal);
        row = await nextWriter(row.term, row.writer);
        await startOne();
      }

      // The whole leader frozen, as in a paused VM: sidecar, watchdog and the job's group.
      const frozen = candidates.byId(row.writer);
      const frozenTerm = row.term;
      const { watchdog, jobGroup } = processesOf(frozen);
      frozen.child.kill('SIGSTOP');
      process.kill(watchdog, 'SIGSTOP');
      process.kill(-jobGroup, 'SIGSTOP');
      row = await nextWriter(frozenTerm, frozen.id);

      // The job wakes first and writes with its old term: refused.
      process.kill(-jobGroup, 'SIGCONT');
      await until('the woken job to try', 10_000, () =>
        frozen.lines.some((line) => line.includes(`fenced-writer: refused, term ${frozenTerm}:`))
          ? true
          : undefined,
      );
      process.kill(watchdog, 'SIGCONT');
      frozen.child.kill('SIGCONT');
      await nextWriter(row.term - 1, frozen.id); // the current leader writes on

      await candidates.killAll();
      const inversions = psql(
        'SELECT count(*) FROM fenced_writer_rows newer JOIN fenced_writer_rows later ' +
          'ON later.seq > newer.seq AND later.term < newer.term',
      );
      expect(inversions).toBe('0');
      const terms = psql('SELECT count(DISTINCT term) FROM fenced_writer_rows');
      expect(Number(terms)).toBeGreaterThanOrEqual(4);
      // The frozen leader's rows all landed before the next term's first row.
      const lateRows = psql(
        `SELECT count(*) FROM fenced_writer_rows WHERE term = ${frozenTerm} AND seq > ` +
          `(SELECT min(seq) FROM fenced_writer_rows WHERE term > ${frozenTerm})`,
      );
      expect(lateRows).toBe('0');
    },
  );
});

/** The watchdog of a `leasehold run` sidecar and the process group of its job. */
function processesOf(candidate: RunCandidate): { watchdog: number; jobGroup: number } {
  const watchdog = childProcesses(candidate.pid).find((child) =>
    child.cmdline.includes('watchdog.bash'),
  );
  const job = watchdog === undefined ? undefined : childProcesses(watchdog.pid)[0];
  if (watchdog === undefined || job === undefined) throw new Error(`${candidate.id} runs no job`);
  return { watchdog: watchdog.pid, jobGroup: job.pid };
}
