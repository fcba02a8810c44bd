// What bench/shards.mjs concludes from what the replicas said: their shard-elected /
// shard-deposed log lines (each stamped by the replica's clock, the machine's one clock) make
// a timeline of who owned which shard when; their GET /v1/shards/{name} answers, each between
// a send and a receive time, are the independent check that no shard had two owners.

/** ⌊count / n⌋ and ⌈count / n⌉: what each of n replicas should own. */
export function fairShare(count, n) {
  return { floor: Math.floor(count / n), ceil: Math.ceil(count / n) };
}

/**
 * Shards above the fair share and gaps below it, over `counts` (replica → owned; a newcomer
 * at 0): the larger is the fewest moves that balance them (core's planMoves, docs/shards.md).
 */
export function surplus(counts, count) {
  const { floor, ceil } = fairShare(count, counts.size);
  let above = 0;
  let below = 0;
  for (const owned of counts.values()) {
    above += Math.max(0, owned - ceil);
    below += Math.max(0, floor - owned);
  }
  return Math.max(above, below);
}

/**
 * The ownership timeline from log lines `{id, time, event, shard, term}`: every
 * shard-elected opens an interval, its shard-deposed closes it; `ends` closes a replica's
 * open intervals at a time (its SIGKILL, or the end of the run).
 * @returns {{ id: string, shard: number, term: number, from: number, to: number }[]}
 */
export function ownershipIntervals(lines, ends, endOfRun) {
  const open = new Map();
  const intervals = [];
  const close = (key, to) => {
    intervals.push({ ...open.get(key), to });
    open.delete(key);
  };
  for (const line of [...lines].sort((a, b) => a.time - b.time)) {
    const key = `${line.id}:${line.shard}`;
    if (line.event === 'shard-elected') {
      if (open.has(key)) close(key, line.time);
      open.set(key, { id: line.id, shard: line.shard, term: line.term, from: line.time });
    } else if (line.event === 'shard-deposed' && open.has(key)) {
      close(key, line.time);
    }
  }
  for (const [key, interval] of open) close(key, ends.get(interval.id) ?? endOfRun);
  return intervals;
}

/** Pairs of intervals of one shard, of two replicas, that overlap: how long each. */
export function overlaps(intervals) {
  const found = [];
  const byShard = new Map();
  for (const interval of intervals) {
    byShard.set(interval.shard, [...(byShard.get(interval.shard) ?? []), interval]);
  }
  for (const [shard, list] of byShard) {
    list.sort((a, b) => a.from - b.from);
    let latest = null;
    for (const interval of list) {
      if (latest !== null && interval.from < latest.to && interval.id !== latest.id) {
        found.push({ shard, ids: [latest.id, interval.id], ms: latest.to - interval.from });
      }
      if (latest === null || interval.to > latest.to) latest = interval;
    }
  }
  return found;
}

/**
 * Answers that prove two owners: a replica still answering that it owns a shard under an
 * older term after another's answer showed a newer term (the newer answer received before
 * the older one was even asked). Two answers of one round naming one shard need not be two
 * owners (a transfer between them); these are, whatever the round.
 * @param {{ id: string, sent: number, recv: number, owned: { shard: number, term: number }[] }[]} answers
 */
export function staleAnswers(answers) {
  const terms = new Map(); // shard → term → { maxSent, minRecv, ids }
  for (const { id, sent, recv, owned } of answers) {
    for (const { shard, term } of owned) {
      const byTerm = terms.get(shard) ?? new Map();
      terms.set(shard, byTerm);
      const seen = byTerm.get(term) ?? { maxSent: -Infinity, minRecv: Infinity, ids: new Set() };
      byTerm.set(term, seen);
      seen.maxSent = Math.max(seen.maxSent, sent);
      seen.minRecv = Math.min(seen.minRecv, recv);
      seen.ids.add(id);
    }
  }
  const found = [];
  for (const [shard, byTerm] of terms) {
    let older = null;
    for (const [term, seen] of [...byTerm].sort(([a], [b]) => a - b)) {
      if (older !== null && older.maxSent > seen.minRecv) found.push({ shard, term });
      if (older === null || seen.maxSent > older.maxSent) older = seen;
    }
  }
  return found;
}

/**
 * Walk the intervals' start and end times from `since` to `until`: the first instant every
 * shard is owned, and the instant from which every one stays owned and `counts` stays fair
 * (`fair(counts)`) to the end, or null.
 */
export function settleTimes(intervals, { count, since, until, fair }) {
  const times = [
    since,
    ...new Set(intervals.flatMap((i) => [i.from, i.to]).filter((t) => t > since && t < until)),
  ].sort((a, b) => a - b);
  let allOwnedAt = null;
  let balancedFrom = null;
  for (const t of times) {
    const live = intervals.filter((i) => i.from <= t && i.to > t);
    const counts = new Map();
    for (const { id } of live) counts.set(id, (counts.get(id) ?? 0) + 1);
    const owned = new Set(live.map((i) => i.shard)).size === count;
    if (owned && allOwnedAt === null) allOwnedAt = t;
    if (owned && fair(counts)) balancedFrom ??= t;
    else balancedFrom = null;
  }
  return { allOwnedAt, balancedFrom };
}

/** Owner per shard, from one round of answers (the first answer naming it wins). */
export function ownersOf(round) {
  const owners = new Map();
  for (const { id, owned } of round.answers) {
    for (const { shard } of owned) if (!owners.has(shard)) owners.set(shard, id);
  }
  return owners;
}

/** Shards whose owner differs between two rounds' owners, leaving out `except`'s shards. */
export function ownerChanges(before, after, except = null) {
  let changed = 0;
  for (const [shard, owner] of before) {
    if (owner !== except && after.get(shard) !== owner) changed += 1;
  }
  return changed;
}
