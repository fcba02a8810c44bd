import { Agent, request } from 'node:http';
import type { Answer, LoggedChange, Mark } from './history.js';
import { now, pause } from '@leasehold/testkit';

/**
 * Records a round: asks every sidecar `GET /v1/leader` over and over (one request in flight
 * per sidecar, so each sidecar's answers are in order), keeps the leadership changes the
 * sidecars log, and the scenario's marks. A sidecar of several elections is asked `GET
 * /v1/elections` instead, one request for all of them, and each election's line of it is
 * kept as an answer of its own. Times are ms since the round began.
 */

export interface Watched {
  readonly name: string;
  readonly candidate: string;
  readonly url: string;
  /** The elections of a sidecar of several, each answered for on its own; else absent. */
  readonly elections?: readonly string[];
}

/** One request as it went: when, its parsed body, and why it failed (any status but 200). */
interface Exchange {
  readonly sentAt: number;
  readonly receivedAt: number;
  readonly body: unknown;
  readonly error: string | null;
}

/** A `GET /v1/leader` answer, as far as the recorder reads it. */
interface LeaderBody {
  isLeader: boolean;
  leader: string | null;
  term: number | null;
  leaseRemainingMs: number;
  termRegressions?: { count: number };
}

/** A `GET /v1/elections` answer. */
interface ElectionsBody {
  elections: { name: string; isLeader: boolean; leader: string | null; term: number | null }[];
}

/** The key of one sidecar's answers for one election (or its only one). */
function keyOf(sidecar: string, election?: string): string {
  return election === undefined ? sidecar : `${sidecar}\u0000${election}`;
}

/** How long an answer may take before the request is given up (a frozen sidecar). */
export const ANSWER_TIMEOUT_MS = 400;

/** `process.hrtime` less `now()`: both read the monotonic clock, a constant apart. */
const HOST_MONOTONIC_OFFSET_MS = Number(process.hrtime.bigint()) / 1e6 - now();

export class Recorder {
  private readonly origin = now();

  constructor(private readonly answerTimeoutMs = ANSWER_TIMEOUT_MS) {}

  private readonly answers: Answer[] = [];
  private readonly changes: LoggedChange[] = [];
  private readonly marks: Mark[] = [];
  private readonly latest = new Map<string, Answer>();
  private readonly perSidecar = new Map<string, Answer[]>();
  private readonly polls = new Map<string, { stop: () => void; done: Promise<void> }>();

  /** Round time of a host monotonic time (`process.hrtime`, what other processes stamp). */
  fromHostMonotonic(hostMs: number): number {
    return hostMs - HOST_MONOTONIC_OFFSET_MS - this.origin;
  }

  /** Ms since the round began: the time base of everything recorded. */
  time(): number {
    return now() - this.origin;
  }

  /** Start polling a sidecar every `pollMs` (after each answer) until `unwatch` or `stop`. */
  watch(target: Watched, pollMs: number): void {
    if (this.polls.has(target.name)) return;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    let active = true;
    let wake: (() => void) | null = null;
    const done = (async () => {
      while (active) {
        for (const answer of await this.ask(target, agent)) this.keep(answer);
        await Promise.race([pause(pollMs), new Promise<void>((resolve) => (wake = resolve))]);
      }
      agent.destroy();
    })();
    this.polls.set(target.name, {
      stop: () => {
        active = false;
        wake?.();
      },
      done,
    });
  }

  /** Stop polling one sidecar (once it is gone for good). */
  async unwatch(name: string): Promise<void> {
    const poll = this.polls.get(name);
    if (poll === undefined) return;
    this.polls.delete(name);
    poll.stop();
    await poll.done;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.polls.keys()].map((name) => this.unwatch(name)));
  }

  private keep(answer: Answer): void {
    const key = keyOf(answer.sidecar, answer.election);
    this.answers.push(answer);
    if (answer.error === null) this.latest.set(key, answer);
    const own = this.perSidecar.get(key) ?? [];
    own.push(answer);
    this.perSidecar.set(key, own);
  }

  /** The sidecar's last answer (for `election`, of several), not counting failed requests. */
  lastAnswer(name: string, election?: string): Answer | undefined {
    return this.latest.get(keyOf(name, election));
  }

  /** Every answer (and failed request) of one sidecar (for `election`) so far, in order. */
  answersOf(name: string, election?: string): readonly Answer[] {
    return this.perSidecar.get(keyOf(name, election)) ?? [];
  }

  /**
   * Keep a line a sidecar logged if it is a leadership change (of a sidecar of several
   * elections: of one of them, which the line names).
   */
  logged(target: Pick<Watched, 'name' | 'candidate' | 'elections'>, line: string): void {
    const receivedAt = this.time();
    let entry: { event?: unknown; term?: unknown; reason?: unknown; election?: unknown };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      return;
    }
    if (
      (entry.event !== 'elected' && entry.event !== 'deposed') ||
      typeof entry.term !== 'number'
    ) {
      return;
    }
    const { elections } = target;
    const election = typeof entry.election === 'string' ? entry.election : null;
    if (elections !== undefined && (election === null || !elections.includes(election))) return;
    this.changes.push({
      sidecar: target.name,
      candidate: target.candidate,
      ...(elections === undefined || election === null ? {} : { election }),
      receivedAt,
      event: entry.event,
      term: entry.term,
      reason: typeof entry.reason === 'string' ? entry.reason : null,
    });
  }

  /** Mark an instant of the scenario. */
  mark(name: string, detail: string | null = null): void {
    const at = this.time();
    this.marks.push({ name, start: at, end: null, detail });
  }

  /** Mark a stretch: returns the function that ends it. */
  begin(name: string, detail: string | null = null): () => void {
    const start = this.time();
    return () => {
      this.marks.push({ name, start, end: this.time(), detail });
    };
  }

  recorded(): { answers: Answer[]; changes: LoggedChange[]; marks: Mark[] } {
    const byStart = (a: { start: number }, b: { start: number }): number => a.start - b.start;
    return {
      answers: [...this.answers],
      changes: [...this.changes],
      marks: [...this.marks].sort(byStart),
    };
  }

  /** Ask once: one answer, or one per election of a sidecar of several. */
  private async ask(target: Watched, agent: Agent): Promise<Answer[]> {
    const { elections } = target;
    const path = elections === undefined ? '/v1/leader' : '/v1/elections';
    const exchange = await this.get(`${target.url}${path}`, agent);
    const base = { sidecar: target.name, candidate: target.candidate };
    if (elections === undefined) return [leaderAnswer(base, exchange)];
    return elections.map((election) => electionAnswer({ ...base, election }, exchange));
  }

  /** One GET with the answer timeout; never rejects (a failure is the exchange's error). */
  private get(url: string, agent: Agent): Promise<Exchange> {
    const sentAt = this.time();
    const failed = (error: string): Exchange => ({
      sentAt,
      receivedAt: this.time(),
      body: null,
      error,
    });
    return new Promise((resolve) => {
      const req = request(url, { agent, timeout: this.answerTimeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (error) => resolve(failed(error.message)));
        res.on('end', () => {
          const receivedAt = this.time();
          try {
            const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            const error = res.statusCode === 200 ? null : `HTTP ${res.statusCode ?? '?'}`;
            resolve({ sentAt, receivedAt, body, error });
          } catch (error) {
            resolve({ ...failed(`unreadable answer: ${(error as Error).message}`), receivedAt });
          }
        });
      });
      // After this process's own event loop was blocked (another round's synchronous `ip` or
      // `nft`, a GC pause), the socket's timer fires before the poll phase reads an answer
      // that arrived meanwhile: look once more after that phase (setImmediate) before calling
      // it a timeout. The answer then proves less (a wider [sentAt, receivedAt]), never more.
      let ended = false;
      req.on('response', (res) => res.once('end', () => (ended = true)));
      req.on('timeout', () =>
        setImmediate(() => {
          if (!ended) req.destroy(new Error('timeout'));
        }),
      );
      req.on('error', (error: NodeJS.ErrnoException) =>
        resolve(failed(error.code ?? error.message)),
      );
      req.end();
    });
  }
}

type AnswerBase = Pick<Answer, 'sidecar' | 'candidate' | 'election'>;

/** A `GET /v1/leader` exchange as an answer (a failed one says nobody leads). */
function leaderAnswer(base: AnswerBase, exchange: Exchange): Answer {
  const { sentAt, receivedAt, error } = exchange;
  const body = exchange.body as LeaderBody | null;
  if (body === null) {
    return {
      ...base,
      sentAt,
      receivedAt,
      error,
      ...NO_ONE,
      leaseRemainingMs: 0,
      termRegressions: 0,
    };
  }
  return {
    ...base,
    sentAt,
    receivedAt,
    error,
    isLeader: body.isLeader,
    leader: body.leader,
    term: body.term,
    leaseRemainingMs: body.leaseRemainingMs,
    termRegressions: body.termRegressions?.count ?? 0,
  };
}

/** One election's line of a `GET /v1/elections` exchange as an answer of its own. */
function electionAnswer(base: AnswerBase & { election: string }, exchange: Exchange): Answer {
  const { sentAt, receivedAt } = exchange;
  const unknown = { leaseRemainingMs: null, termRegressions: null };
  const body = exchange.body as ElectionsBody | null;
  const line = body?.elections?.find((e) => e.name === base.election);
  if (exchange.error !== null || line === undefined) {
    const error = exchange.error ?? `${base.election} missing from GET /v1/elections`;
    return { ...base, sentAt, receivedAt, error, ...NO_ONE, ...unknown };
  }
  const { isLeader, leader, term } = line;
  return { ...base, sentAt, receivedAt, error: null, isLeader, leader, term, ...unknown };
}

/** What a failed request says: nobody leads, as far as it shows. */
const NO_ONE = { isLeader: false, leader: null, term: null } as const;
