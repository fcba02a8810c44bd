// The "Memory under churn" section of bench/RESULTS.md (issue 28), from
// bench/results/churn.json, which ../churn.mjs writes. A run replaces the rows of its
// backends; the others stay.

/** Issue 28's bound: a sidecar under churn plateaus at ≤ 1.5× its idle RSS. */
export const CHURN_RSS_RATIO = 1.5;

/** `saved` with `run` added; older rows of its backends dropped, runs left empty removed. */
export function mergeChurn(saved, run) {
  const backends = new Set(run.rows.map((row) => row.backend));
  const older = (saved?.runs ?? [])
    .map((old) => ({ ...old, rows: old.rows.filter((row) => !backends.has(row.backend)) }))
    .filter((old) => old.rows.length > 0);
  return { runs: [...older, run] };
}

/**
 * @param {{ runs: object[] } | undefined} saved  bench/results/churn.json
 * @param {{ names: Record<string, string>, notes?: string[] }} format
 */
export function churnSection(saved, { names, notes = [] }) {
  const runs = saved?.runs ?? [];
  if (runs.length === 0) return [];
  const rows = runs.flatMap((run) => run.rows.map((row) => ({ run, row })));
  return [
    '## Memory under churn (issue 28)',
    '',
    intro(runs),
    '',
    '| backend | sidecar | idle RSS | churn: half-way, peak of the second half, end | peak / idle | descriptors: idle, end | resigns (no leader, failed) | verdict | load (start, end) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.flatMap(({ run, row }) => row.sidecars.map((s) => tableRow(run, row, s, names))),
    '',
    ...notes,
    ...(notes.length === 0 ? [] : ['']),
  ];
}

function intro(runs) {
  const [first] = runs;
  const measured = runs
    .map((run) => `${run.date.slice(0, 16).replace('T', ' ')} UTC (${run.node})`)
    .join('; ');
  return (
    '`node bench/churn.mjs`: three sidecars (the real `leasehold` command) in one election, ' +
    `idle for ${first.settleSeconds} s with no request, then the leader resigning every ` +
    `${first.intervalMs} ms (\`POST /v1/resign\` to whoever \`/v1/leader\` names) for ` +
    `${first.minutes} minutes. RSS (VmRSS) and open descriptors of each sidecar's processes, ` +
    'sampled through the churn. The sidecars have an admin token, so the admin routes ' +
    '(Fastify) are loaded at start-up, before the idle measure (docs/design.md §4). ' +
    `Target (issue 28): each sidecar's peak over the second half of the churn ≤ ${CHURN_RSS_RATIO}× ` +
    `its idle RSS, descriptors flat. Measured ${measured}, one backend at a time, on the ` +
    'shared 2-core machine: single runs.'
  );
}

function tableRow(run, row, s, names) {
  const met = s.ratio <= CHURN_RSS_RATIO && s.fdsEnd <= s.fdsIdle + 5;
  const load = row.load.map((l) => l[0].toFixed(1)).join(', ');
  return (
    `| ${names[row.backend] ?? row.backend} | ${s.id} | ${s.idleRssMb} MB | ` +
    `${s.midRssMb}, ${s.peakRssMb}, ${s.endRssMb} MB | ${s.ratio.toFixed(2)}× | ` +
    `${s.fdsIdle}, ${s.fdsEnd} | ${row.resigned} (${row.noLeader}, ${row.failed}) | ` +
    `${met ? 'met' : 'missed'} | ${load} |`
  );
}
