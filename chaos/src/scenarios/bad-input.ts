import { DEFAULT_LIMITS } from '@leasehold/sidecar';
import { attack, hold, type HeldConnections } from '../abuse.js';
import type { Round } from '../round.js';
import type { Sidecar } from '../sidecars.js';
import { until } from '@leasehold/testkit';
import { startWithLeader, TRIO, type Scenario } from './scenario.js';

/**
 * Connections held open against the leader: more listeners than each cap allows, and more
 * connections in all than the connection cap (docs/http-api.md, "What the listener refuses").
 */
const HELD = { idle: 1_000, halfRequests: 100, listeners: 300 };
/** How much the leader's resident memory may grow under all of it. */
const MEMORY_GROWTH_LIMIT = 100 * 1024 * 1024;
/** Slack over the header timeout for a busy machine to close what it must. */
const CLOSE_SLACK_MS = 10_000;

/**
 * Bad input to every route of the leader while the election runs: oversized, malformed,
 * unknown parameters, half requests that stall, a thousand idle connections, more event
 * streams and long-polls than it allows. The leader must refuse what is beyond its limits,
 * close what says nothing in time, keep answering its app, and keep its memory bounded;
 * the election must not notice.
 */
export const badInput: Scenario = {
  name: 'bad-input',
  summary:
    'bad input to every route of the leader, half requests, 1,000 idle connections, listeners beyond the caps',
  backends: ['redis', 'postgres', 'etcd', 'zookeeper', 'sqlite'],
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
        // The bad requests first: at the caps, a stream or long-poll among them would
        // rightly get a 503.
        const report = await attack(hostname, Number(port));
        round.check(
          'bad requests get 4xx answers, never 5xx',
          report.serverErrors.length === 0,
          `${JSON.stringify(report.outcomes)}${report.serverErrors.length === 0 ? '' : `; 5xx: ${report.serverErrors.slice(0, 5).join(', ')}`}`,
        );
        const held = await hold(hostname, Number(port), HELD, before?.term ?? 0);
        try {
          await checkLimits(round, held);
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

/**
 * Listeners beyond their caps refused with 503 and Retry-After; never more connections than
 * the cap; silent and half requests closed within the header timeout, the listeners kept.
 */
async function checkLimits(round: Round, held: HeldConnections): Promise<void> {
  const { maxLongPolls, maxEventStreams, maxConnections, headersTimeoutMs } = DEFAULT_LIMITS;
  const expected = {
    longPolls: HELD.listeners - maxLongPolls,
    events: HELD.listeners - maxEventStreams,
  };
  const refused = await until('listeners beyond the caps answered', 5_000, () => {
    const now = held.refused();
    return now.longPolls.refused >= expected.longPolls && now.events.refused >= expected.events
      ? now
      : undefined;
  }).catch(() => held.refused());
  round.check(
    'listeners beyond the caps get 503 with Retry-After',
    refused.longPolls.refused === expected.longPolls &&
      refused.events.refused === expected.events &&
      refused.longPolls.explained === expected.longPolls &&
      refused.events.explained === expected.events,
    `refused ${JSON.stringify(refused)}; expected ${JSON.stringify(expected)} (caps ${maxLongPolls} long-polls, ${maxEventStreams} streams)`,
  );
  const openTotal = (): { open: ReturnType<HeldConnections['open']>; total: number } => {
    const open = held.open();
    return { open, total: open.idle + open.halfRequests + open.longPolls + open.events };
  };
  // The client sees the connections the sidecar closed at once a little later.
  const { open: atPeak, total } = await until('connections within the cap', 5_000, () => {
    const now = openTotal();
    return now.total <= maxConnections ? now : undefined;
  }).catch(openTotal);
  round.check(
    'connections beyond the cap are closed',
    total <= maxConnections,
    `open ${JSON.stringify(atPeak)} = ${total} (cap ${maxConnections})`,
  );
  const closedAfter = await until(
    'silent and half requests closed',
    headersTimeoutMs + CLOSE_SLACK_MS,
    () => {
      const open = held.open();
      return open.idle === 0 && open.halfRequests === 0 ? open : undefined;
    },
  ).catch(() => held.open());
  round.check(
    'silent connections and half requests are closed within the header timeout',
    closedAfter.idle === 0 && closedAfter.halfRequests === 0,
    `open ${headersTimeoutMs + CLOSE_SLACK_MS} ms later: ${JSON.stringify(closedAfter)}`,
  );
  round.check(
    'the listeners within the caps stay connected',
    closedAfter.longPolls === maxLongPolls && closedAfter.events === maxEventStreams,
    `open: ${closedAfter.longPolls} long-polls, ${closedAfter.events} streams`,
  );
}

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
