// The steering section of bench/RESULTS.md (issue 26): targets with met/missed, and what
// each backend measured. `results.steering[backend]` comes from run.mjs's steering step.

/**
 * @param {object} results  a run's JSON
 * @param {{ stats: Function, ms: Function, cell: Function, names: Record<string, string>,
 *   explanations: Record<string, string> }} format  explanations keyed `transfer:<backend>`,
 *   `rolling:<backend>`, `unhealthy:<backend>` (../why.mjs), listed under each miss
 * @returns {string[]}  Markdown lines (none when the run measured no steering)
 */
export function steeringSection(results, { stats, ms, cell, names, explanations = {} }) {
  const measured = Object.entries(results.steering ?? {}).filter(([, r]) => r);
  if (measured.length === 0) return [];
  const health = results.plan.steering === undefined ? null : healthOf(measured);
  const lines = [
    '## Steering (issue 26)',
    '',
    'leasehold only (the alternatives have no such controls), on the backends whose adapter can transfer. **Transfer**: `Elector.transfer(to)` on three candidates, from the request to the target’s `elected`, against a graceful handoff (SIGTERM) measured right after on the same candidates. **Rolling update**: five replicas started one after another, each replaced in turn by one with a higher `--app-version` (started first, two retry intervals before the old one stops); the handoffs are the `elected` events after the first leader, and the same update without versions for contrast. **Unhealthy leader**: three real sidecars with `--app-health` on a local app' +
      (health === null
        ? ''
        : ` (every ${health.intervalMs} ms, ${health.failures} failures, --min-tenure ${health.minTenureMs} ms)`) +
      ': from the leader’s app answering 500 to another sidecar’s `elected`; the bound is interval × failures + the graceful handoff p50, and every round must meet it.',
    '',
    '| target | backend | measured | verdict |',
    '| --- | --- | --- | --- |',
  ];
  for (const [backend, r] of measured) {
    const name = names[backend];
    if (r.unsupported || r.error) {
      const why = r.unsupported ? 'the adapter cannot transfer yet' : `failed: ${r.error}`;
      lines.push(
        `| transfer, rolling update, unhealthy leader | ${name} | – | not measured (${why}) |`,
      );
      continue;
    }
    const transfer = stats(r.transfer.samples).p50;
    const graceful = stats(r.transfer.graceful).p50;
    const limit = graceful === undefined ? undefined : 2 * graceful;
    lines.push(
      `| transfer p50 ≤ 2 × graceful handoff p50 | ${name} | ${ms(transfer)} (graceful ${ms(graceful)}) | ${verdict(transfer, limit, ms)} |`,
    );
    const handoffs = r.rolling.versions.map((run) => run.handoffs);
    const none = r.rolling.none.map((run) => run.handoffs);
    lines.push(
      `| rolling update of 5: exactly 1 handoff | ${name} | ${handoffs.join(', ')} (without versions: ${none.join(', ')}) | ${handoffs.length > 0 && handoffs.every((h) => h === 1) ? 'met' : 'missed'} |`,
    );
    const unhealthy = r.unhealthy.error ? null : r.unhealthy;
    const worst = unhealthy?.samples.some((v) => v === null)
      ? null
      : Math.max(...(unhealthy?.samples ?? []));
    const bound =
      unhealthy === null || graceful === undefined
        ? undefined
        : unhealthy.intervalMs * unhealthy.failures + graceful;
    lines.push(
      `| unhealthy leader handed over ≤ interval × failures + one handoff | ${name} | ${unhealthy === null ? `failed: ${r.unhealthy.error}` : `${cell(unhealthy.samples)}, worst ${worst === null ? 'never' : ms(worst)} (bound ${ms(bound)})`} | ${unhealthy === null ? 'not measured' : verdict(worst ?? Infinity, bound, ms)} |`,
    );
  }
  lines.push(
    '',
    detailLine(measured, stats, ms),
    '',
    ...whyMissed(lines, measured, names, explanations),
  );
  return lines;
}

/** The table's missed rows, each with what ../why.mjs says about it. */
function whyMissed(lines, measured, names, explanations) {
  const missed = lines.filter((line) => line.startsWith('| ') && line.includes('| missed'));
  if (missed.length === 0) return [];
  const why = missed.map((line) => {
    const [target, name] = line.split(' | ').map((cell) => cell.replace(/^\| /, ''));
    const backend = measured.map(([b]) => b).find((b) => names[b] === name);
    const kind =
      ['transfer', 'rolling', 'unhealthy'].find((k) => target.startsWith(k)) ?? 'transfer';
    const text = explanations[`${kind}:${backend}`] ?? 'not explained yet.';
    return `- **${target}, ${name}**: ${text}`;
  });
  return ['### Why the steering misses', '', ...why, ''];
}

function healthOf(measured) {
  return measured.map(([, r]) => r.unhealthy).find((u) => u && !u.error) ?? null;
}

function verdict(value, limit, ms) {
  if (value === undefined || limit === undefined) return 'not measured';
  return value <= limit ? 'met' : `missed by ${ms(value - limit)}`;
}

function detailLine(measured, stats, ms) {
  const parts = measured
    .filter(([, r]) => r.transfer)
    .map(([backend, r]) => {
      const t = stats(r.transfer.samples);
      const failed = r.transfer.failures.length;
      const load = r.loadAverage?.before?.[0];
      return `${backend}: transfer p50 ${ms(t.p50)} / p95 ${ms(t.p95)} / max ${ms(t.max)} over ${t.n}${failed > 0 ? ` (${failed} failed: ${r.transfer.failures.join(', ')})` : ''}, leaders in the rolling updates ${r.rolling.versions.map((run) => run.leaders.join('→')).join('; ')}${load === undefined ? '' : `, load average ${load} at the start`}`;
    });
  return parts.length === 0 ? '' : `Details: ${parts.join('. ')}.`;
}
