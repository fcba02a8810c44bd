// The "Shards over sidecars" section of bench/RESULTS.md (issue 27, part 3), from
// bench/results/shards.json, which ../shards.mjs writes (standalone or as `pnpm bench`'s
// `shards` step). The file keeps every run whose rows a later run did not measure again.

const BACKEND_ORDER = ['redis', 'postgres', 'etcd', 'zookeeper', 'sqlite'];
const IMPLEMENTATION_NAMES = { leasehold: 'leasehold', etcd3: 'etcd3 Election per shard' };
const rowKey = (run, row) => `${row.backend}:${row.implementation}:${run.shards}:${run.sidecars}`;

/** `saved` with `run` added; rows `run` measured again (same key) dropped from older runs. */
export function mergeShardRuns(saved, run) {
  const replaced = new Set(run.rows.map((row) => rowKey(run, row)));
  const kept = (saved?.runs ?? [])
    .map((old) => ({ ...old, rows: old.rows.filter((row) => !replaced.has(rowKey(old, row))) }))
    .filter((old) => old.rows.length > 0);
  return { runs: [...kept, run] };
}

const s = (v) => (v === null || v === undefined ? 'never' : `${(v / 1_000).toFixed(2)} s`);
/** A start or join time counted from when the replicas were up, not from their spawn. */
const fromUp = (phase, v) => (v === null || v === undefined ? null : v - (phase.upMs ?? 0));
const ownersFound = (row) => row.twoOwners.overlaps + row.twoOwners.staleAnswers;

/** One line per row: the measurements the targets are judged on (Markdown). */
function measuredRow(run, row, names) {
  const { start, kill, join, twoOwners } = row;
  const size =
    run.shards === 64 && run.sidecars === 5 ? '' : `, ${run.shards} over ${run.sidecars}`;
  const balanced = (phase) => (row.balances ? s(fromUp(phase, phase.balancedMs)) : 'no balancing');
  const cells = [
    `${names[row.backend] ?? row.backend}${size}`,
    IMPLEMENTATION_NAMES[row.implementation] ?? row.implementation,
    `${s(start.upMs)}; ${s(join.upMs)}`,
    `${s(fromUp(start, start.allOwnedMs))} / ${balanced(start)}`,
    `${start.transfers} (${start.counts.join(' ')})`,
    `${s(kill.allOwnedMs)} (${kill.orphans})`,
    row.balances ? s(kill.balancedMs) : `no balancing (${kill.counts.join(' ')})`,
    row.balances ? `${kill.transfers} / ${kill.surplus}` : '–',
    row.balances
      ? `${balanced(join)}; ${join.transfers} / ${join.surplus}`
      : `none (${join.counts.join(' ')})`,
    ownersFound(row) === 0
      ? `none (${twoOwners.answers} answers)`
      : `${ownersFound(row)}, up to ${twoOwners.maxOverlapMs} ms`,
    row.load.before.map((v) => v.toFixed(1)).join(' / '),
  ];
  return `| ${cells.join(' | ')} |`;
}

const HEADER = [
  '| backend | implementation | up after spawn: start; join | start: all owned / each at its share | start-up transfers (counts) | kill: its shards owned again (how many) | kill: back to the share | kill: transfers / surplus | join: at the share; transfers / surplus | two owners | load (1/5/15 min) |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
];

/** The run's rows as a Markdown table (../shards.mjs prints it). */
export function shardTable(run, names = {}) {
  return [...HEADER, ...run.rows.map((row) => measuredRow(run, row, names))];
}

function sorted(runs) {
  const order = ({ run, row }) =>
    BACKEND_ORDER.indexOf(row.backend) * 1e6 -
    run.shards * 10 +
    (row.implementation === 'leasehold' ? 0 : 1);
  return runs
    .flatMap((run) => run.rows.map((row) => ({ run, row })))
    .sort((a, b) => order(a) - order(b));
}

/** Issue 27's targets, judged on the headline runs (64 over 5): one line per target and row. */
function targetRows(entries, names) {
  return entries.flatMap(({ run, row }) => {
    const ttl = run.ttlMs;
    const name = `${names[row.backend] ?? row.backend}, ${IMPLEMENTATION_NAMES[row.implementation]}`;
    const judge = (value, limit) =>
      value === null ? 'missed (never)' : value <= limit ? 'met' : `missed by ${s(value - limit)}`;
    const balance = (value, limit) =>
      row.balances ? judge(value, limit) : 'cannot (no balancing)';
    const { start, kill, join } = row;
    const started = fromUp(start, start.balancedMs);
    const moves = kill.transfers <= kill.surplus && join.transfers <= join.surplus;
    return [
      `| each owns ${start.fairShare} within 2 TTL of start (all up) | ${name} | ${s(started)} | ${balance(started, 2 * ttl)} |`,
      `| the killed one's shards owned again within TTL + 1 s | ${name} | ${s(kill.allOwnedMs)} | ${judge(kill.allOwnedMs, ttl + 1_000)} |`,
      `| back to ${kill.fairShare} each within 3 TTL | ${name} | ${s(kill.balancedMs)} | ${balance(kill.balancedMs, 3 * ttl)} |`,
      `| moves ≤ the surplus (kill; join) | ${name} | ${kill.transfers} / ${kill.surplus}; ${join.transfers} / ${join.surplus} | ${row.balances ? (moves ? 'met' : 'missed') : 'cannot (no balancing)'} |`,
      `| never two owners of a shard | ${name} | ${ownersFound(row)} | ${ownersFound(row) === 0 ? 'met' : 'missed'} |`,
    ];
  });
}

/**
 * @param {{ runs: object[] } | undefined} saved  bench/results/shards.json
 * @param {{ names: Record<string, string>, notes: string[] }} format
 * @returns {string[]}  Markdown lines (none before a run)
 */
export function shardsSection(saved, { names, notes = [] }) {
  const runs = saved?.runs ?? [];
  if (runs.length === 0) return [];
  const entries = sorted(runs);
  const headline = entries.filter(({ run }) => run.shards === 64 && run.sidecars === 5);
  return [
    '## Shards over sidecars (issue 27, part 3)',
    '',
    intro(runs),
    '',
    ...HEADER,
    ...entries.map(({ run, row }) => measuredRow(run, row, names)),
    '',
    ...(headline.length === 0
      ? []
      : [
          '| target | backend, implementation | measured | verdict |',
          '| --- | --- | --- | --- |',
          ...targetRows(headline, names),
          '',
        ]),
    ...notes,
    ...(notes.length === 0 ? [] : ['']),
  ];
}

function intro(runs) {
  const when = runs
    .map(
      (run) =>
        `${run.date.slice(0, 16).replace('T', ' ')}–${run.finishedAt.slice(11, 16)} UTC (${run.shards} shards over ${run.sidecars}, TTL ${run.ttlMs / 1000} s, retry ${run.retryMs / 1000} s)`,
    )
    .join('; ');
  return (
    '`node bench/shards.mjs` (`pnpm bench` runs it as its `shards` step): a shard group over ' +
    'real `leasehold` sidecars (`shards:` in their YAML file), one backend at a time, all ' +
    'spawned together; then the one owning most SIGKILLed; then a new one joins. The etcd3 ' +
    'rows run the `etcd3` package’s Election, one per shard, all of a replica’s in one ' +
    'process (bench/candidates/etcd3-shards.mjs). Times are from the replicas’ own ' +
    '`shard-elected` / `shard-deposed` log lines (one clock, the machine’s), counted from ' +
    'the SIGKILL, or for the start and the join from when every replica was up (its ' +
    '“listening” line; how long Node took to get there after the spawn, on this load, is ' +
    'its own column). “Back to the share”: every shard owned and each replica at its fair ' +
    'share from then on. Transfers are the balancer’s `shard-moved` lines; the surplus is ' +
    'the fewest moves that balance (for the kill: the counts once the orphans were claimed, ' +
    'with any transfer made before then undone). Two owners: overlapping ownership in the ' +
    'lines, or an answer of GET /v1/shards/{name} (every replica polled every 50 ms) naming ' +
    'an older term of a shard after another’s answer with a newer one had come back. ' +
    `Measured ${when}, on the shared ` +
    '2-core machine (load in the table): single runs.'
  );
}
