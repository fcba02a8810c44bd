// The "Three sidecars × many elections" section of bench/RESULTS.md (issue 27's benchmark
// rows), from bench/results/many-sidecars.json, which ../many-sidecars.mjs writes. A run
// replaces the rows of the same backend and number of elections; the others stay.

import { mergeRuns } from './many-elections-report.mjs';

const BACKEND_ORDER = ['redis', 'postgres', 'sqlite', 'etcd', 'zookeeper'];
const rowKey = (run, row) => `${row.backend}:${run.elections}`;

/** `saved` with `run` added; older rows of its backends and size dropped. */
export function mergeManySidecars(saved, run) {
  return mergeRuns(saved, run, rowKey);
}

/** The targets, one place: what a row meets or misses. */
export function verdicts(run, row) {
  const leader = row.sidecars.find((s) => s.role === 'leader');
  const followers = row.sidecars.filter((s) => s.role !== 'leader');
  const most = (pick) => Math.max(...row.sidecars.map(pick));
  return {
    requests: most((s) => s.requestsPerRenewInterval) <= 1,
    cpu: most((s) => s.cpuPercentOfCore) <= 2,
    rss: row.rssOverOneElectionMb <= 30,
    failover: row.ledAgainAfterKillMs !== null && row.ledAgainAfterKillMs <= run.ttlMs + 1000,
    oneLeader: row.twoLeaders === 0,
    leader,
    followers,
  };
}

/**
 * @param {{ runs: object[] } | undefined} saved  bench/results/many-sidecars.json
 * @param {{ names: Record<string, string>, notes: string[] }} format
 */
export function manySidecarsSection(saved, { names, notes = [] }) {
  const runs = saved?.runs ?? [];
  if (runs.length === 0) return [];
  const rows = runs
    .flatMap((run) => run.rows.map((row) => ({ run, row })))
    .sort((a, b) => order(a) - order(b));
  return [
    '## Three sidecars × many elections (issue 27)',
    '',
    intro(runs),
    '',
    '| backend | elections | store requests / renew interval: leader, followers | CPU (% of a core): leader, followers | RSS MB: most, one election | all led again after SIGKILL | two leaders | missed | load at idle (1/5/15 min) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(({ run, row }) => tableRow(run, row, names)),
    '',
    ...notes,
    ...(notes.length === 0 ? [] : ['']),
  ];
}

function order({ run, row }) {
  return BACKEND_ORDER.indexOf(row.backend) * 1e7 - run.elections;
}

function intro(runs) {
  const [first] = runs;
  const measured = runs
    .map((run) => `${run.date.slice(0, 16).replace('T', ' ')} UTC (${run.elections} elections)`)
    .join('; ');
  return (
    '`node bench/many-sidecars.mjs` (`--quick` for 20 elections): the real `leasehold` ' +
    'command, three sidecars (a, b, c) in the same elections (`LEASEHOLD_ELECTION`, one ' +
    `shared heartbeat each), TTL ${first.ttlMs / 1000} s (renew interval ${first.renewIntervalMs / 1000} s); ` +
    'a starts first and leads every election, b and c follow. Idle: ' +
    `${first.seconds} s with no HTTP request, from 11 s after start (past the launcher's collection); ` +
    "store requests from each sidecar's own `/metrics` (each request once, a batch of " +
    "renewals one), CPU from /proc/PID/stat, RSS (VmRSS) at the window's end, against a " +
    'one-election sidecar measured the same way just before. Then a is SIGKILLed: the time ' +
    'until b and c lead every election again, by their `/v1/elections`, polled together; ' +
    '"two leaders" counts elections that two sidecars called theirs in overlapping answers, ' +
    'or a term claimed by two. Targets (issue 27): ≤ 1 request per renew interval per ' +
    'sidecar, ≤ 2 % of a core, ≤ +30 MB over one election, all led again within TTL + 1 s, ' +
    `never two leaders. Measured ${measured}, one backend at a time, on the shared 2-core ` +
    'machine: single runs.'
  );
}

function tableRow(run, row, names) {
  const v = verdicts(run, row);
  const followers = (pick) => v.followers.map(pick).join(', ');
  const missed = [
    v.requests ? null : 'requests',
    v.cpu ? null : 'CPU',
    v.rss ? null : 'RSS',
    v.failover ? null : 'failover',
    v.oneLeader ? null : 'TWO LEADERS',
  ].filter(Boolean);
  const cells = [
    names[row.backend] ?? row.backend,
    String(run.elections),
    `${v.leader.requestsPerRenewInterval}; ${followers((s) => s.requestsPerRenewInterval)}`,
    `${v.leader.cpuPercentOfCore.toFixed(1)}; ${followers((s) => s.cpuPercentOfCore.toFixed(1))}`,
    `${Math.max(...row.sidecars.map((s) => s.rssMb))} (+${row.rssOverOneElectionMb}); ${row.baseline.rssMb}`,
    row.ledAgainAfterKillMs === null
      ? notAllLed(run, row)
      : `${(row.ledAgainAfterKillMs / 1000).toFixed(1)} s`,
    String(row.twoLeaders),
    missed.length === 0 ? 'none: met' : missed.join(', '),
    row.loadAtIdle.map((n) => n.toFixed(1)).join(' / '),
  ];
  return `| ${cells.join(' | ')} |`;
}

/** A failover that did not finish: how far it got, when the run says. */
function notAllLed(run, row) {
  const waited = `${Math.round((3 * run.ttlMs + 60_000) / 1000)} s`;
  return row.mostLedAgain === undefined
    ? `not all within ${waited}`
    : `${row.mostLedAgain} of ${run.elections} within ${waited}`;
}
