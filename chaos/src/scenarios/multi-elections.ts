import { pause, until } from '@leasehold/testkit';
import type { Round } from '../round.js';
import type { Sidecar } from '../sidecars.js';
import { TRIO, type Scenario } from './scenario.js';

/**
 * Several elections in every sidecar (issue 27): the faults of the process scenarios, aimed
 * at the sidecar that leads most elections, plus the resign of one election alone. The
 * checker checks every election on its own (answers of GET /v1/elections, the elected and
 * deposed lines that name it, its job's stamps with --commands).
 */

const ELECTIONS = 3;

export const multi: Scenario = {
  name: 'multi',
  summary: `each sidecar takes part in ${ELECTIONS} elections (with --commands: a job each); the one leading most is SIGKILLed, the next SIGSTOPped past its TTL, then one election is resigned`,
  backends: ['redis', 'postgres', 'etcd', 'zookeeper', 'sqlite'],
  elections: ELECTIONS,
  async run(round) {
    const elections = electionsOf(round);
    await startLeadingAll(round, elections);
    const killed = mostLeading(round, elections);
    await round.kill(killed);
    await everyElectionLed(round, elections, killed);
    await freezeMostLeading(round, elections);
    await resignOne(round, elections);
  },
};

function electionsOf(round: Round): readonly string[] {
  if (round.elections === null) throw new Error(`${round.scenario} needs several elections`);
  return round.elections;
}

/**
 * The first candidate alone, until it leads every election (with commands: until each
 * election's job runs), then the others, until they see it lead each: the faults are aimed
 * at a sidecar leading several elections, seen by the others.
 */
async function startLeadingAll(round: Round, elections: readonly string[]): Promise<void> {
  const [first, ...others] = TRIO;
  const leader = await round.start(first, { admin: true });
  for (const election of elections) {
    await round.leader({ after: 0, election });
    await round.commands?.running(round.failoverBoundMs * 2, leader.candidate, election);
  }
  const followers = await round.startAll(others, { admin: true });
  await until('the followers to see the leader of every election', 10_000, () =>
    followers.every((f) => elections.every((e) => round.answer(f, e)?.leader === leader.candidate)),
  );
}

/** The running sidecar whose latest answers lead the most elections. */
function mostLeading(round: Round, elections: readonly string[]): Sidecar {
  const led = (s: Sidecar): number =>
    elections.filter((e) => round.answer(s, e)?.isLeader === true).length;
  const [top] = [...round.running].sort((a, b) => led(b) - led(a));
  if (top === undefined) throw new Error('no sidecar running');
  return top;
}

/** Wait until every election has a leader other than `gone`, reported after now. */
async function everyElectionLed(
  round: Round,
  elections: readonly string[],
  gone: Sidecar,
): Promise<void> {
  await Promise.all(elections.map((election) => round.leader({ except: [gone], election })));
}

/**
 * Freeze the sidecar leading most elections until every election is led elsewhere and its
 * TTL has passed: it wakes up believing it leads what it led, and must answer otherwise.
 */
async function freezeMostLeading(round: Round, elections: readonly string[]): Promise<void> {
  const frozen = mostLeading(round, elections);
  await round.fault('SIGSTOP', frozen.name, async () => {
    frozen.freeze();
    const frozenAt = round.recorder.time();
    await everyElectionLed(round, elections, frozen);
    await pause(frozenAt + round.timing.ttlMs + 500 - round.recorder.time());
  });
  frozen.thaw();
  round.mark('SIGCONT', frozen.name);
}

/**
 * The leader of the first election resigns it alone (POST /v1/elections/{name}/resign; with
 * commands its job stops first): another sidecar takes that election over, the leader's
 * other elections stay where they are.
 */
async function resignOne(round: Round, elections: readonly string[]): Promise<void> {
  const [election = '', ...rest] = elections;
  const leader = await round.leader({ election });
  const kept = rest.filter((e) => round.answer(leader, e)?.isLeader === true);
  const answer = await round.fault('resign', `${leader.name}: ${election}`, () =>
    leader.admin(`/v1/elections/${election}/resign`),
  );
  round.check(
    'the resign of one election',
    answer.status === 200 && answer.body?.resigned === true,
    `${answer.status} ${JSON.stringify(answer.body)}`,
  );
  await round.leader({ election, except: [leader] });
  const stayed = kept.filter((e) => round.answer(leader, e)?.isLeader === true);
  round.check(
    'the other elections stay with their leader',
    stayed.length === kept.length,
    `${leader.name} led ${kept.join(', ') || 'none'} before the resign, ${stayed.join(', ') || 'none'} after`,
  );
}
