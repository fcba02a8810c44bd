// "Never two leaders of any election", as the sidecars answer it (../many-sidecars.mjs).
// Every poll asks each sidecar's GET /v1/elections at once; each answer is computed inside
// its request's [sent, received] span. Two sidecars saying "leader" of one election with
// overlapping spans may have led at the same instant: counted as a violation (conservative:
// it may also be a handover that fell between two answers, which an idle run does not do).
// A term claimed by two sidecars is one too, whenever it was seen.

export class LeaderLedger {
  /** @param {readonly string[]} names  the elections to check */
  constructor(names) {
    this.names = new Set(names);
    /** term claims by election: `${election}:${term}` → sidecar id */
    this.terms = new Map();
    this.violations = [];
    this.answers = 0;
  }

  /**
   * Ask every sidecar once, all at the same time; resolves to their views (one list of
   * `{ name, isLeader, leader, term }` each, `[]` for a sidecar that did not answer).
   */
  async poll(sidecars, electionsOf) {
    const asked = await Promise.all(
      sidecars.map(async (sidecar) => {
        const sentAt = performance.now();
        const view = await electionsOf(sidecar).catch(() => []);
        return { id: sidecar.id, sentAt, receivedAt: performance.now(), view };
      }),
    );
    const leaders = new Map();
    for (const answer of asked) {
      for (const election of answer.view) {
        if (!this.names.has(election.name) || !election.isLeader) continue;
        this.answers += 1;
        this.checkTerm(answer.id, election);
        this.checkOverlap(leaders, answer, election);
      }
    }
    return asked.map((answer) => answer.view);
  }

  checkTerm(id, { name, term }) {
    const key = `${name}:${term}`;
    const claimant = this.terms.get(key);
    if (claimant === undefined) this.terms.set(key, id);
    else if (claimant !== id)
      this.violations.push({ election: name, term, sidecars: [claimant, id] });
  }

  checkOverlap(leaders, answer, { name, term }) {
    const earlier = leaders.get(name);
    leaders.set(name, { ...answer, term });
    if (earlier === undefined || earlier.id === answer.id) return;
    const overlap = earlier.sentAt <= answer.receivedAt && answer.sentAt <= earlier.receivedAt;
    if (overlap) {
      this.violations.push({
        election: name,
        terms: [earlier.term, term],
        sidecars: [earlier.id, answer.id],
      });
    }
  }
}
