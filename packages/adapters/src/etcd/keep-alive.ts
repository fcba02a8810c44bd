import type { CallOptions } from './client.js';
import { wasNeverSent } from './errors.js';
import { failedOnHost, type HostQuarantine } from './host-quarantine.js';
import type { KeepAliveStream, StreamOpener } from './streams.js';

/** What one keep-alive got: the TTL etcd granted, and the member that answered. */
export interface KeepAliveAnswer {
  /** Whole seconds; 0 or less when the answering member knows no such lease. */
  readonly ttlSeconds: number;
  readonly host: string;
}

/** Keep-alives of several leases: the TTL granted to each, and the member that answered. */
export interface KeepAliveAnswers {
  readonly ttlSeconds: ReadonlyMap<string, number>;
  readonly host: string;
}

/** A request written on the open stream and not answered yet. */
interface Waiting {
  readonly answered: (ttlSeconds: number) => void;
}

/** The stream kept open, and per lease id its unanswered requests, oldest first. */
interface OpenStream {
  readonly stream: KeepAliveStream;
  readonly host: string;
  readonly waiting: Map<string, Waiting[]>;
  /** Why it failed, once it has: every request on it then fails with this. */
  failure: unknown;
  readonly failed: Set<(error: unknown) => void>;
}

/** A keep-alive not answered by its deadline, as gRPC reports a call's (code 4). */
export function deadlineExceeded(): Error {
  const error = new Error('4 DEADLINE_EXCEEDED: etcd did not answer the keep-alive in time');
  return Object.assign(error, { code: 4 });
}

/** When a lease was last kept alive: when that request was sent, and the TTL granted. */
interface KeptAlive {
  readonly sentAt: number;
  readonly ttlSeconds: number;
}

/**
 * Keep-alives of etcd leases on ONE LeaseKeepAlive stream kept open (issue 28). A stream
 * opened for each keep-alive was a new HTTP/2 stream per renewal and per member heartbeat,
 * and grpc-js's per-call work (and etcd's pings after each call) was most of an idle
 * sidecar's CPU. etcd answers a stream's requests one by one, in the order they came, so
 * the n-th answer for a lease id on a stream answers the n-th request for it there.
 *
 * That pairing is only trusted while no request has been given up on: a keep-alive not
 * answered by its deadline fails the whole stream (every request on it fails and the next
 * keep-alive opens another), so a late answer can never be taken for a later request's,
 * whose TTL the elector counts from that later request's start. The same on the stream's
 * error or end, and when its member went into quarantine meanwhile.
 *
 * Not etcd3's `Lease` helper: it keeps a lease alive with its own timer, on its own
 * schedule, and tells about a lost lease late. Here the elector decides when to renew.
 */
export class KeepAliveLine {
  /** The stream in use (or being opened); null: the next keep-alive opens one. */
  private current: Promise<OpenStream> | null = null;
  private closed = false;
  private readonly keptAlive = new Map<string, KeptAlive>();

  constructor(
    private readonly streams: StreamOpener,
    private readonly quarantine: HostQuarantine,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** One keep-alive: the TTL granted (≤ 0: the member knows no such lease), and who said so. */
  async keepAlive(leaseId: string, callOptions: CallOptions): Promise<KeepAliveAnswer> {
    const { ttlSeconds, host } = await this.keepAliveMany([leaseId], callOptions);
    return { ttlSeconds: ttlSeconds.get(leaseId) ?? 0, host };
  }

  /**
   * Keep-alives of every lease, written together on the stream. Rejects when any is not
   * answered by the deadline in `callOptions`, or the stream fails first; a stream that could
   * not reach its member at all is retried on the next member, as a unary call is.
   */
  async keepAliveMany(
    leaseIds: readonly string[],
    callOptions: CallOptions,
  ): Promise<KeepAliveAnswers> {
    const ids = [...new Set(leaseIds)];
    if (ids.length === 0) return { ttlSeconds: new Map(), host: '' };
    for (let attempt = 1; ; attempt += 1) {
      let host = '';
      try {
        const open = await this.streamToUse();
        host = open.host;
        const ttlSeconds = await this.askOn(open, ids, deadlineOf(callOptions));
        if ([...ttlSeconds.values()].every((ttl) => ttl > 0)) this.quarantine.answered(host);
        return { ttlSeconds, host };
      } catch (error) {
        if (host !== '' && failedOnHost(error)) this.quarantine.failed(host);
        if (attempt >= this.streams.hostCount || !wasNeverSent(error)) throw error;
      }
    }
  }

  /**
   * Whether etcd runs the lease for at least `ms` more by the last keep-alive that found it
   * live: etcd extended it no earlier than that request was sent, by the TTL it answered.
   * (A lease revoked since is not known here: a write on it then fails.)
   */
  runsAtLeast(leaseId: string, ms: number): boolean {
    const kept = this.keptAlive.get(leaseId);
    return kept !== undefined && kept.sentAt + kept.ttlSeconds * 1_000 - this.now() >= ms;
  }

  /** The store closed: the stream is cancelled and none is opened again. */
  close(): void {
    this.closed = true;
    void this.current?.then(
      (open) => this.fail(open, new Error('the etcd store was closed')),
      () => undefined,
    );
    this.current = null;
    this.keptAlive.clear();
  }

  /** The open stream, unless it failed or its member is to be avoided now: then a new one. */
  private async streamToUse(): Promise<OpenStream> {
    for (;;) {
      if (this.closed) throw new Error('the etcd store was closed');
      const current = (this.current ??= this.openStream());
      let open: OpenStream;
      try {
        open = await current;
      } catch (error) {
        if (this.current === current) this.current = null;
        throw error;
      }
      if (open.failure === undefined && !this.quarantine.skips(open.host)) return open;
      this.fail(open, new Error(`etcd member ${open.host} is in quarantine`));
      if (this.current === current) this.current = null;
    }
  }

  /** A stream with no deadline: each request on it has its own (askOn). */
  private async openStream(): Promise<OpenStream> {
    const { stream, host } = await this.streams.keepAlive({});
    const open: OpenStream = {
      stream,
      host,
      waiting: new Map(),
      failure: undefined,
      failed: new Set(),
    };
    stream.on('data', (response) => this.answer(open, String(response.ID), response.TTL));
    stream.on('error', (error) => this.fail(open, error));
    stream.on('end', () =>
      this.fail(open, new Error('etcd closed the keep-alive stream before answering')),
    );
    return open;
  }
  /** Write one request per lease and wait for every answer, or the deadline. */
  private askOn(
    open: OpenStream,
    ids: readonly string[],
    deadline: number,
  ): Promise<Map<string, number>> {
    const sentAt = this.now();
    return new Promise<Map<string, number>>((resolve, reject) => {
      const answers = new Map<string, number>();
      const timer = setTimeout(() => this.fail(open, deadlineExceeded()), deadline - Date.now());
      const failed = (error: unknown): void => {
        clearTimeout(timer);
        reject(error);
      };
      open.failed.add(failed);
      const answered = (id: string, ttlSeconds: number): void => {
        answers.set(id, ttlSeconds);
        if (ttlSeconds > 0) this.noteKeptAlive(id, sentAt, ttlSeconds);
        if (answers.size < ids.length) return;
        clearTimeout(timer);
        open.failed.delete(failed);
        resolve(answers);
      };
      for (const id of ids) this.send(open, id, (ttl) => answered(id, ttl));
    });
  }

  private send(open: OpenStream, id: string, answered: (ttlSeconds: number) => void): void {
    const queue = open.waiting.get(id) ?? [];
    queue.push({ answered });
    open.waiting.set(id, queue);
    open.stream.write({ ID: id });
  }

  private answer(open: OpenStream, id: string, ttl: string | number): void {
    if (open.failure !== undefined) return;
    const queue = open.waiting.get(id);
    const waiting = queue?.shift();
    if (queue?.length === 0) open.waiting.delete(id);
    waiting?.answered(Number(ttl));
  }

  /** The stream is done for: every request on it fails, and it is cancelled. */
  private fail(open: OpenStream, error: unknown): void {
    if (open.failure !== undefined) return;
    open.failure = error;
    open.waiting.clear();
    for (const failed of open.failed) failed(error);
    open.failed.clear();
    open.stream.cancel();
  }

  private noteKeptAlive(id: string, sentAt: number, ttlSeconds: number): void {
    this.keptAlive.set(id, { sentAt, ttlSeconds });
    // Forget leases that have run out by now, so the map does not grow with old ones.
    if (this.keptAlive.size <= KEPT_ALIVE_PRUNE_AT) return;
    for (const [leaseId, kept] of this.keptAlive) {
      if (kept.sentAt + kept.ttlSeconds * 1_000 < sentAt) this.keptAlive.delete(leaseId);
    }
  }
}

/** How many leases' last keep-alives are remembered before the run-out ones are forgotten. */
const KEPT_ALIVE_PRUNE_AT = 4_096;

function deadlineOf(callOptions: CallOptions): number {
  const { deadline } = callOptions;
  if (deadline instanceof Date) return deadline.getTime();
  return typeof deadline === 'number' ? deadline : Date.now() + 5_000;
}
