// bench/shards.mjs's row for one backend and implementation, from everything its replicas
// said (./shard-replicas.mjs): per phase (start, kill, join) when every shard was owned and
// when the fair share held from then on (from the replicas' own timestamped lines), the moves
// against the surplus, and the two-owner checks (./shard-checks.mjs).
import {
  fairShare,
  overlaps,
  ownerChanges,
  ownersOf,
  ownershipIntervals,
  settleTimes,
  staleAnswers,
  surplus,
} from './shard-checks.mjs';

/**
 * @param {{ lines: object[], answers: object[] }} replicas
 * @param {{ start: object, kill?: object, join?: object }} phases  each {since, until, ids,
 *   after} (the last round of answers), kill and join with `before` (the round before)
 * @param {{ count: number, killed: Map<string, number>, endedAt: number }} run
 */
export function summarise(replicas, phases, { count, killed, endedAt }) {
  const intervals = ownershipIntervals(replicas.lines, killed, endedAt);
  const found = overlaps(intervals);
  const stale = staleAnswers(replicas.answers);
  const row = (phase) => phaseRow(intervals, replicas.lines, phase, count);
  return {
    start: phases.start && row(phases.start),
    kill: phases.kill && killRow(row(phases.kill), phases.kill, intervals, replicas.lines, count),
    join: phases.join && joinRow(row(phases.join), phases.join, count),
    twoOwners: {
      overlaps: found.length,
      maxOverlapMs: Math.max(0, ...found.map((o) => o.ms)),
      staleAnswers: stale.length,
      answers: replicas.answers.length,
      lines: replicas.lines.length,
    },
  };
}

/**
 * What every phase reports: times from its start (the spawn, or the SIGKILL), moves, claims
 * and the counts at its end.
 */
function phaseRow(intervals, lines, phase, count) {
  const { floor, ceil } = fairShare(count, phase.ids.length);
  const fair = (counts) =>
    phase.ids.every((id) => (counts.get(id) ?? 0) >= floor && (counts.get(id) ?? 0) <= ceil);
  const { since, until } = phase;
  const times = settleTimes(intervals, { count, since, until, fair });
  const within = (line) => line.time >= since && line.time <= until;
  return {
    // From the spawn to the last replica's "listening" line: Node's start-up, on this load.
    upMs: phase.upAt === undefined ? 0 : phase.upAt - since,
    allOwnedMs: times.allOwnedAt === null ? null : times.allOwnedAt - since,
    balancedMs: times.balancedFrom === null ? null : times.balancedFrom - since,
    transfers: lines.filter((l) => within(l) && l.event === 'shard-moved' && l.transferred).length,
    claims: lines.filter((l) => within(l) && l.event === 'shard-elected').length,
    counts: countsOf(phase.after, phase.ids),
    fairShare: floor === ceil ? `${ceil}` : `${floor}-${ceil}`,
  };
}

/** The killed replica's shards, and the moves beyond claiming them. */
function killRow(row, phase, intervals, lines, count) {
  const orphans = countsOf(phase.before, [phase.victim])[0];
  const at = phase.since + (row.allOwnedMs ?? phase.until - phase.since);
  return {
    ...row,
    victim: phase.victim,
    orphans,
    surplus: surplus(claimedAt(at, phase, intervals, lines), count),
    reshuffled: ownerChanges(ownersOf(phase.before), ownersOf(phase.after), phase.victim),
  };
}

/**
 * Who held how many once the orphans were claimed (`at`), with the transfers made before
 * then undone (the balancer starts while claims are under way): the state the moves balance.
 */
function claimedAt(at, phase, intervals, lines) {
  const held = new Map(phase.ids.map((id) => [id, 0]));
  const ownerAt = new Map();
  for (const i of intervals) {
    if (i.from <= at && i.to > at && held.has(i.id)) {
      held.set(i.id, held.get(i.id) + 1);
      ownerAt.set(i.shard, i.id);
    }
  }
  for (const line of lines) {
    const moved = line.event === 'shard-deposed' && line.reason === 'transferred';
    if (!moved || line.time < phase.since || line.time > at || !held.has(line.id)) continue;
    held.set(line.id, held.get(line.id) + 1);
    const to = ownerAt.get(line.shard);
    if (to !== undefined) held.set(to, held.get(to) - 1);
  }
  return held;
}

/** A newcomer: the moves it needs (the surplus with it at 0) and the shards that moved. */
function joinRow(row, phase, count) {
  const before = new Map(phase.ids.map((id) => [id, 0]));
  for (const { id, owned } of phase.before.answers) before.set(id, owned.length);
  return {
    ...row,
    newcomer: phase.newcomer,
    surplus: surplus(before, count),
    reshuffled: ownerChanges(ownersOf(phase.before), ownersOf(phase.after)),
  };
}

function countsOf(round, ids) {
  const owned = new Map(round.answers.map(({ id, owned }) => [id, owned.length]));
  return ids.map((id) => owned.get(id) ?? 0);
}
