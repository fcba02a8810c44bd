import { Agent, request } from 'node:http';
import type { Answer, LoggedChange, Mark } from './history.js';
import { now, pause } from '@leasehold/testkit';

/**
 * Records a round: asks every sidecar `GET /v1/leader` over and over (one request in flight
 * per sidecar, so each sidecar's answers are in order), keeps the leadership changes the
 * sidecars log, and the scenario's marks. Times are ms since the round began.
 */

export interface Watched {
  readonly name: string;
  readonly candidate: string;
  readonly url: string;
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
        const answer = await this.ask(target, agent);
        this.answers.push(answer);
        if (answer.error === null) this.latest.set(target.name, answer);
        const own = this.perSidecar.get(target.name) ?? [];
        own.push(answer);
        this.perSidecar.set(target.name, own);
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

  /** The sidecar's last answer (not counting failed requests). */
  lastAnswer(name: string): Answer | undefined {
    return this.latest.get(name);
  }

  /** Every answer (and failed request) of one sidecar so far, in order. */
  answersOf(name: string): readonly Answer[] {
    return this.perSidecar.get(name) ?? [];
  }

  /** Keep a line a sidecar logged if it is a leadership change. */
  logged(target: Pick<Watched, 'name' | 'candidate'>, line: string): void {
    const receivedAt = this.time();
    let entry: { event?: unknown; term?: unknown; reason?: unknown };
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
    this.changes.push({
      sidecar: target.name,
      candidate: target.candidate,
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

  private ask(target: Watched, agent: Agent): Promise<Answer> {
    const sentAt = this.time();
    const base = { sidecar: target.name, candidate: target.candidate, sentAt };
    const failed = (error: string): Answer => ({
      ...base,
      receivedAt: this.time(),
      error,
      isLeader: false,
      leader: null,
      term: null,
      leaseRemainingMs: 0,
      termRegressions: 0,
    });
    return new Promise((resolve) => {
      const req = request(
        `${target.url}/v1/leader`,
        { agent, timeout: this.answerTimeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', (error) => resolve(failed(error.message)));
          res.on('end', () => {
            const receivedAt = this.time();
            try {
              const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
                isLeader: boolean;
                leader: string | null;
                term: number | null;
                leaseRemainingMs: number;
                termRegressions?: { count: number };
              };
              resolve({
                ...base,
                receivedAt,
                error: res.statusCode === 200 ? null : `HTTP ${res.statusCode ?? '?'}`,
                isLeader: body.isLeader,
                leader: body.leader,
                term: body.term,
                leaseRemainingMs: body.leaseRemainingMs,
                termRegressions: body.termRegressions?.count ?? 0,
              });
            } catch (error) {
              resolve(failed(`unreadable answer: ${(error as Error).message}`));
            }
          });
        },
      );
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
