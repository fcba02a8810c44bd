// What a Redis Cluster fault costs, from chaos raw histories (pnpm chaos --backend
// redis-cluster --scenario cluster-migrate,cluster-failover,cluster-master-kill --out DIR):
//   node bench/cluster-gaps.mjs DIR/*.json
// Per round, measured from the fault's start to the end of the round:
// - no leader: the longest time no sidecar answered "leader" (any term);
// - leader silent: the longest gap between two "leader" answers of the same term (the
//   leader kept leading, but failed renewals or a frozen process left it without answers);
// - followers blind: the longest time some follower answered "no leader" while a leader
//   was leading (a lease another master wrote last is unconfirmed until its holder renews).
import { readFileSync } from 'node:fs';

const rows = [];
for (const file of process.argv.slice(2)) {
  const history = JSON.parse(readFileSync(file, 'utf8'));
  // The last fault with a duration: the migration, the failover, the kill and promotion.
  const fault = history.marks.filter((m) => m.end > m.start).at(-1);
  const from = fault?.start ?? 0;
  const answers = history.answers
    .filter((a) => a.error === null && a.sentAt >= from)
    .sort((a, b) => a.sentAt - b.sentAt);
  rows.push({
    scenario: history.scenario,
    round: history.round,
    noLeader: longestGap(
      answers.filter((a) => a.isLeader).map((a) => a.sentAt),
      from,
    ),
    leaderSilent: Math.max(0, ...byTerm(answers.filter((a) => a.isLeader))),
    followersBlind: longestBlind(answers),
  });
}
const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
console.log('| scenario | round | no leader | leader silent | followers blind |');
console.log('| --- | --- | --- | --- | --- |');
for (const r of rows) {
  console.log(
    `| ${r.scenario} | ${r.round} | ${s(r.noLeader)} | ${s(r.leaderSilent)} | ${s(r.followersBlind)} |`,
  );
}

function longestGap(times, from) {
  let previous = from;
  let longest = 0;
  for (const t of times) {
    longest = Math.max(longest, t - previous);
    previous = t;
  }
  return longest;
}

function byTerm(leading) {
  const terms = new Map();
  for (const a of leading) terms.set(a.term, [...(terms.get(a.term) ?? []), a.sentAt]);
  return [...terms.values()].map((times) => longestGap(times, times[0]));
}

/** Per follower, the longest run of "no leader" answers while some sidecar led. */
function longestBlind(answers) {
  const leading = answers.filter((a) => a.isLeader).map((a) => a.sentAt);
  const ledAround = (t) => leading.some((l) => l <= t) && leading.some((l) => l >= t);
  let longest = 0;
  const since = new Map();
  for (const a of answers) {
    if (a.isLeader) continue;
    if (a.leader === null && ledAround(a.sentAt)) {
      if (!since.has(a.sidecar)) since.set(a.sidecar, a.sentAt);
      longest = Math.max(longest, a.sentAt - since.get(a.sidecar));
    } else since.delete(a.sidecar);
  }
  return longest;
}
