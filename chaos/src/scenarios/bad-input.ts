import { attack, hold } from '../abuse.js';
import type { Round } from '../round.js';
import type { Sidecar } from '../sidecars.js';
import { pause } from '../wait.js';
import { startWithLeader, TRIO, type Scenario } from './scenario.js';

/** Connections held open against the leader while the bad requests go in. */
const HELD = { idle: 1_000, halfRequests: 100, listeners: 100 };
/** How much the leader's resident memory may grow under all of it. */
const MEMORY_GROWTH_LIMIT = 100 * 1024 * 1024;

/**
 * Bad input to every route of the leader while the election runs: oversized, malformed,
 * unknown parameters, half requests that stall, a thousand idle connections. The election
 * must not notice, the leader must keep answering its app, and its memory must stay bounded.
 */
export const badInput: Scenario = {
  name: 'bad-input',
  summary: 'bad input to every route of the leader, half requests, 1,000 idle connections',
  backends: ['redis', 'postgres', 'etcd', 'sqlite'],
  // Under the abuse, on two busy cores, an answer may take a few hundred ms; one that takes
  // two seconds is a sidecar that stopped answering.
  answerTimeoutMs: 2_000,
  async run(round) {
    const [first, ...others] = TRIO;
    const { leader } = await startWithLeader(round, [first], others);
    const before = round.answer(leader);
    const changesBefore = round.recorder.recorded().changes.length;
    const rssBefore = leader.residentBytes() ?? 0;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, leader.residentBytes() ?? 0);
    }, 100);
    const from = round.recorder.time();
    const { port, hostname } = new URL(leader.url);
    try {
      await round.fault('bad input', leader.name, async () => {
        const held = await hold(hostname, Number(port), HELD, before?.term ?? 0);
        try {
          const report = await attack(hostname, Number(port));
          round.check(
            'bad requests get 4xx answers, never 5xx',
            report.serverErrors.length === 0,
            `${JSON.stringify(report.outcomes)}${report.serverErrors.length === 0 ? '' : `; 5xx: ${report.serverErrors.slice(0, 5).join(', ')}`}`,
          );
          await pause(round.timing.ttlMs);
          const open = held.open();
          round.check(
            'held connections stayed open',
            open.idle === HELD.idle,
            `open at the end: ${JSON.stringify(open)}`,
          );
        } finally {
          held.close();
        }
      });
    } finally {
      clearInterval(sampler);
    }
    checkElectionUnaffected(round, leader, before?.term ?? null, changesBefore, from);
    round.check(
      'memory stays bounded',
      rssPeak - rssBefore < MEMORY_GROWTH_LIMIT,
      `resident ${mb(rssBefore)} before, ${mb(rssPeak)} at most (limit +${mb(MEMORY_GROWTH_LIMIT)})`,
    );
  },
};

function checkElectionUnaffected(
  round: Round,
  leader: Sidecar,
  term: number | null,
  changesBefore: number,
  from: number,
): void {
  const { answers, changes } = round.recorder.recorded();
  const unanswered = answers.filter(
    (a) => a.sidecar === leader.name && a.sentAt >= from && a.error !== null,
  );
  const slowest = Math.max(
    0,
    ...answers
      .filter((a) => a.sidecar === leader.name && a.sentAt >= from)
      .map((a) => a.receivedAt - a.sentAt),
  );
  round.check(
    'the leader kept answering',
    unanswered.length === 0,
    `${unanswered.length} of its answers missing or slower than ${round.timing.answerTimeoutMs} ms${unanswered[0] === undefined ? '' : ` (first: ${unanswered[0].error ?? ''})`}; slowest ${Math.round(slowest)} ms`,
  );
  const after = round.answer(leader);
  const logged = changes.length - changesBefore;
  round.check(
    'the election was unaffected',
    after?.isLeader === true && after.term === term && logged === 0,
    `term ${term ?? '-'} → ${after?.term ?? '-'}, isLeader ${String(after?.isLeader)}, ${logged} leadership changes logged`,
  );
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MB`;
}
