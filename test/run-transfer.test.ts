import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jobRuns, overlaps, until, writeJob } from '@leasehold/testkit';
import {
  logEvents,
  ROUTES_RUN_ARGS,
  runCandidatesOnRedis,
  runningFor,
  urlOf,
  type RunCandidate,
  type RunCandidates,
} from './support/run-candidates.js';

/**
 * A transfer under `leasehold run` never runs the job in two places (issue 26 item 4). The
 * successor of a transfer may claim the moment the store applies the hand-over, so the old
 * leader's job (which needs half a second to stop after SIGTERM) must be gone before it: the
 * sidecar stops it in the elector's `beforeHandOver`. Leadership goes round three
 * candidates over POST /v1/transfer on a real store; no two job runs may overlap.
 */

const TOKEN = 'run-transfer-test-token-0123456789';
const perTest = runCandidatesOnRedis('transfer');
const { dir, measured } = perTest;

async function transfer(
  from: RunCandidate,
  to: string,
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${urlOf(from)}/v1/transfer`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ to }),
  });
  return { status: response.status, body: await response.json() };
}

/** Wait until `asked` lists every candidate as a live member (a transfer needs its target's). */
async function membersListed(asked: RunCandidate, ids: readonly string[]): Promise<void> {
  await until(`${asked.id} to list ${ids.join(', ')}`, 15_000, async () => {
    const response = await fetch(`${urlOf(asked)}/v1/members`).catch(() => null);
    if (response?.ok !== true) return undefined;
    const { members } = (await response.json()) as { members: { id: string }[] };
    return ids.every((id) => members.some((member) => member.id === id)) ? true : undefined;
  });
}

/**
 * Each handover in `candidate`'s log that came before its job was gone: the log order of one
 * process, so no timing. The job must have exited (stopped by SIGTERM, its work finished)
 * before leadership ended, since the successor may start its own at once.
 */
function handedOverWhileJobRan(candidate: RunCandidate): string[] {
  const events = logEvents(candidate);
  return events.flatMap((event, i) => {
    if (event.event !== 'deposed' || event.reason !== 'transferred') return [];
    const exitedBefore = events
      .slice(0, i)
      .some((earlier) => earlier.event === 'command-exited' && earlier.term === event.term);
    return exitedBefore
      ? []
      : [`${candidate.id} handed term ${event.term} over before its job exited`];
  });
}

describe.each([
  ['sqlite', () => `sqlite://${join(dir, 'leases.db')}`],
  ['redis', () => perTest.redis.url],
] as const)('a transfer under leasehold run on %s', (backend, storeUrl) => {
  it('stops the old job before the new leader starts its own', { timeout: 90_000 }, async () => {
    const file = join(dir, `${backend}.log`);
    const pool: RunCandidates = perTest.candidates({
      store: storeUrl(),
      job: writeJob(dir, file),
      args: ROUTES_RUN_ARGS,
      env: { LEASEHOLD_ADMIN_TOKEN: TOKEN },
    });
    const first = await pool.start('c1');
    await until('c1 runs the job', 15_000, () => runningFor(file, 'c1'));
    const others = [await pool.start('c2'), await pool.start('c3')];
    const ids = ['c1', ...others.map((c) => c.id)];
    await membersListed(first, ids);

    let leader = first;
    for (const next of [...others, first]) {
      const answer = await transfer(leader, next.id);
      expect(answer, pool.logs()).toMatchObject({
        status: 200,
        body: { transferred: true, from: leader.id, to: next.id },
      });
      await until(`${next.id} runs the job`, 15_000, () => runningFor(file, next.id));
      leader = next;
    }

    const runs = jobRuns(file);
    expect(overlaps(runs), pool.logs()).toEqual([]);
    expect(pool.all.flatMap(handedOverWhileJobRan), pool.logs()).toEqual([]);
    expect(pool.logs()).not.toMatch(/SIGKILL/);
    expect(runs.map((run) => run.id)).toEqual(['c1', 'c2', 'c3', 'c1']);
    const gaps = runs.slice(1).map((run, i) => run.first - (runs[i]?.last ?? 0));
    measured.push(
      `${backend}: job down for ${gaps.map((gap) => gap.toFixed(0)).join(', ')} ms per transfer`,
    );
  });
});
