/**
 * Which etcd members to keep calls away from for a while.
 *
 * A member cut off from the rest of its cluster still accepts connections: it answers
 * nothing that needs a quorum (every txn, linearizable read and keep-alive waits out its
 * deadline), and right after the cut it may still believe it leads and answer a keep-alive
 * for a lease granted since with TTL 0. etcd3 picks a host at random for every call, so a
 * third of a leader's renewals went to such a member and each cost a whole request timeout;
 * with a short TTL a healthy cluster deposed its leader several times in a row (the chaos
 * suite's etcd-member-cut). A member whose call failed that way is skipped for
 * `QUARANTINE_MS` while another member is not skipped; then it gets calls again.
 *
 * Never all of them: with every member in quarantine calls go wherever etcd3 sends them, so an
 * outage of the whole cluster costs nothing once it is over (the reason etcd3's own circuit
 * breaker is off, see client.ts).
 */
export const QUARANTINE_MS = 5_000;

/** Thrown instead of calling a member in quarantine: the call goes to another member. */
export class HostSkippedError extends Error {
  constructor(host: string) {
    super(`etcd member ${host} skipped: it failed a call less than ${QUARANTINE_MS} ms ago`);
    this.name = 'HostSkippedError';
  }
}

export class HostQuarantine {
  private readonly until = new Map<string, number>();
  private readonly hosts: readonly string[];

  constructor(
    hosts: readonly string[],
    private readonly now: () => number = () => performance.now(),
  ) {
    this.hosts = hosts.map(hostName);
  }

  /** The member should not get this call: it is in quarantine and another member is not. */
  skips(host: string): boolean {
    const name = hostName(host);
    return this.isQuarantined(name) && this.hosts.some((h) => h !== name && !this.isQuarantined(h));
  }

  /** A call to the member failed without an answer from the cluster (see `failedOnHost`). */
  failed(host: string): void {
    if (this.hosts.length > 1) this.until.set(hostName(host), this.now() + QUARANTINE_MS);
  }

  /** The member answered for the cluster: it is healthy again. */
  answered(host: string): void {
    this.until.delete(hostName(host));
  }

  private isQuarantined(name: string): boolean {
    const until = this.until.get(name);
    if (until === undefined) return false;
    if (this.now() < until) return true;
    this.until.delete(name);
    return false;
  }
}

/** etcd3 names a host by its address, with or without a scheme: compare without. */
function hostName(host: string): string {
  return host.replace(/^[a-z]+:\/\//i, '');
}

/** gRPC status codes of a member that cannot serve: DEADLINE_EXCEEDED, UNAVAILABLE. */
const NO_ANSWER_CODES = new Set([4, 14]);
/** etcd's words for a member without a working quorum behind it. */
const NO_QUORUM = /no leader|leader changed|timed out|leader fail/i;

/**
 * The call failed because the member could not answer for the cluster, not because the
 * cluster said no: worth trying another member next time.
 */
export function failedOnHost(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return (typeof code === 'number' && NO_ANSWER_CODES.has(code)) || NO_QUORUM.test(error.message);
}
