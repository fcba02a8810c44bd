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
    await startSeen(round, elections);
    const killed = mostLeading(round, elections);
    await round.kill(killed, leadCount(round, killed, elections));
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
 * The three candidates at once (starting them one after another cost 7 to 10 s more a
 * round on this loaded machine), until every election has a leader, every sidecar sees it,
 * and with commands each election's job runs: the faults find known leaders, seen by all.
 */
async function startSeen(round: Round, elections: readonly string[]): Promise<void> {
  const sidecars = await round.startAll(TRIO, { admin: true });
  const within = round.failoverBoundMs * 2;
  await until('every sidecar to see one leader of every election', within, () =>
    elections.every((e) => {
      const leaders = new Set(sidecars.map((s) => round.answer(s, e)?.leader ?? null));
      const [leader] = leaders;
      return leaders.size === 1 && leader !== null && leader !== undefined;
    }),
  );
  await Promise.all(elections.map((e) => round.commands?.running(within, undefined, e)));
}

/** The running sidecar whose latest answers lead the most elections. */
function mostLeading(round: Round, elections: readonly string[]): Sidecar {
  const led = (s: Sidecar): number => leading(round, s, elections).length;
  const [top] = [...round.running].sort((a, b) => led(b) - led(a));
  if (top === undefined) throw new Error('no sidecar running');
  return top;
}

/** The elections `sidecar`'s latest answers lead. */
function leading(round: Round, sidecar: Sidecar, elections: readonly string[]): string[] {
  return elections.filter((e) => round.answer(sidecar, e)?.isLeader === true);
}

/** For a fault's mark: how many of the elections the sidecar led. */
function leadCount(round: Round, sidecar: Sidecar, elections: readonly string[]): string {
  return `${sidecar.name}, leading ${leading(round, sidecar, elections).length} of ${elections.length}`;
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
  try {
    await round.fault('SIGSTOP', leadCount(round, frozen, elections), async () => {
      await frozen.freeze();
      const frozenAt = round.recorder.time();
      await everyElectionLed(round, elections, frozen);
      await pause(frozenAt + round.timing.ttlMs + 500 - round.recorder.time());
    });
  } finally {
    // Thawed even when no other sidecar took over: the round then settles and ends.
    frozen.thaw();
    round.mark('SIGCONT', frozen.name);
  }
}

/**
 * The leader of the first election resigns it alone (POST /v1/elections/{name}/resign; with
 * commands its job stops first): another sidecar takes that election over, the leader's
 * other elections stay where they are.
 */
async function resignOne(round: Round, elections: readonly string[]): Promise<void> {
  const [election = '', ...rest] = elections;
  const leader = await round.leader({ election });
  const kept = leading(round, leader, rest);
  const answer = await round.fault('resign', `${leader.name}: ${election}`, () =>
    leader.admin(`/v1/elections/${election}/resign`),
  );
  round.check(
    'the resign of one election',
    answer.status === 200 && answer.body?.resigned === true,
    `${answer.status} ${JSON.stringify(answer.body)}`,
  );
  await round.leader({ election, except: [leader] });
  const stayed = kept.filter((e) => leading(round, leader, rest).includes(e));
  round.check(
    'the other elections stay with their leader',
    stayed.length === kept.length,
    `${leader.name} led ${kept.join(', ') || 'none'} before the resign, ${stayed.join(', ') || 'none'} after`,
  );
}
