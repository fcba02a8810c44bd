// The "Many elections in one process" section of bench/RESULTS.md (issue 27, part 4), from
// bench/results/many-elections.json, which ../many-elections.mjs writes (standalone or as
// `pnpm bench`'s `many` step). The file keeps every run whose rows a later run did not
// measure again, so a small `pnpm bench` run adds its rows beside a 1,000-election one
// instead of replacing it.

const BACKEND_ORDER = ['redis', 'postgres', 'sqlite', 'etcd', 'zookeeper'];
const MODE_ORDER = ['per-lease', 'batched'];
const rowKey = (run, row) => `${row.backend}:${row.mode}:${run.elections}`;

/**
 * `saved` with `run` added: rows of older runs that `run` measured again (same backend, mode
 * and number of elections) are dropped, and runs left with no rows with them.
 * @param {{ runs: object[] } | undefined} saved  the file's contents, if any
 * @param {{ elections: number, rows: object[] }} run
 */
export function mergeManyElections(saved, run) {
  return mergeRuns(saved, run, rowKey);
}

/**
 * `saved` with `run` added, rows of older runs with the same `key` as one of its rows
 * dropped, and runs left with no rows with them (../many-sidecars.mjs's file too).
 */
export function mergeRuns(saved, run, key) {
  const replaced = new Set(run.rows.map((row) => key(run, row)));
  const kept = (saved?.runs ?? [])
    .map((old) => ({ ...old, rows: old.rows.filter((row) => !replaced.has(key(old, row))) }))
    .filter((old) => old.rows.length > 0);
  return { runs: [...kept, run] };
}

/**
 * @param {{ runs: object[] } | undefined} saved  bench/results/many-elections.json
 * @param {{ names: Record<string, string>, notes: string[] }} format  backend names, and the
 *   bullets under the table (../why.mjs, `manyElections`)
 * @returns {string[]}  Markdown lines (none when nothing was measured)
 */
export function manyElectionsSection(saved, { names, notes = [] }) {
  const runs = saved?.runs ?? [];
  if (runs.length === 0) return [];
  const headline = runs.reduce((best, run) => (run.elections > best.elections ? run : best));
  const rows = runs
    .flatMap((run) => run.rows.map((row) => ({ run, row })))
    .sort((a, b) => order(a) - order(b));
  return [
    '## Many elections in one process (issue 27, part 4)',
    '',
    intro(headline, runs),
    '',
    '| backend | mode | leading at end | renew requests / interval | member requests / interval | Redis server scripts / interval | CPU (% of a core) | RSS MB | load (1/5/15 min) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(({ run, row }) => tableRow(run, row, headline, names)),
    '',
    ...notes,
    ...(notes.length === 0 ? [] : ['']),
  ];
}

function order({ run, row }) {
  const backend = BACKEND_ORDER.indexOf(row.backend);
  return (backend * 1e7 - run.elections) * 2 + MODE_ORDER.indexOf(row.mode);
}

function intro(headline, runs) {
  const n = headline.elections.toLocaleString('en');
  const days = new Set();
  const measured = runs.map((run) => when(run, headline, days)).join('; ');
  return (
    '`node bench/many-elections.mjs` (`pnpm bench` runs it as its `many` step, with ' +
    '`--elections`, 100 by default, and its backends): ' +
    `${n} elections led by ONE process on ONE store connection, TTL ${headline.ttlMs / 1000} s ` +
    `(renew interval ${headline.renewIntervalMs / 1000} s), idle for ${headline.seconds} s once all lead. ` +
    '**per lease**: an `Elector` per election as today; **batched**: the same electors ' +
    "sharing one `SharedHeartbeat` (docs/design.md §3.8). Requests are counted at the store's " +
    'methods in the process (a `renewMany` or `putMembers` is one request); for Redis also the ' +
    "shared server's `EVALSHA`/`EVAL` calls (`INFO commandstats`, other clients of that server " +
    `included). CPU is the process's user + system time over the ${headline.seconds} s; RSS ` +
    `(VmRSS) at its end. Measured ${measured}, on the ` +
    'shared 2-core machine (load in the table): single runs, so read the CPU and RSS columns ' +
    'as rough.'
  );
}

/** "2026-12-07 04:23–05:00 UTC", "04:57 UTC (300 elections)": the day once (`days`). */
function when(run, headline, days) {
  const [day, start] = run.date.slice(0, 16).split('T');
  const date = days.has(day) ? '' : `${day} `;
  days.add(day);
  const end = run.finishedAt?.slice(11, 16);
  const differs = [
    run === headline ? null : `${run.elections} elections`,
    run.ttlMs === headline.ttlMs ? null : `TTL ${run.ttlMs / 1000} s`,
    run.seconds === headline.seconds ? null : `idle ${run.seconds} s`,
  ].filter(Boolean);
  const what = differs.length === 0 ? '' : ` (${differs.join(', ')})`;
  return `${date}${start}${end && end !== start ? `–${end}` : ''} UTC${what}${run.note ? `, ${run.note}` : ''}`;
}

function tableRow(run, row, headline, names) {
  const name = names[row.backend] ?? row.backend;
  const value = (v) => (v === null || v === undefined ? '–' : String(v));
  const cells = [
    run.elections === headline.elections ? name : `${name}, ${run.elections} elections`,
    row.mode.replace('-', ' '),
    `${row.leadingAtEnd}/${run.elections}${row.note ? ` (${row.note})` : ''}`,
    value(row.renewRequestsPerInterval),
    value(row.memberRequestsPerInterval),
    // Blank where there is no Redis server to ask, as opposed to "–", not measured.
    row.backend === 'redis' ? value(row.serverScriptCallsPerInterval) : '',
    row.cpuPercentOfCore.toFixed(1),
    String(row.rssMb),
    row.load.map((v) => v.toFixed(1)).join(' / '),
  ];
  return `|${cells.map((cell) => (cell === '' ? ' ' : ` ${cell} `)).join('|')}|`;
}
