// Candidate processes of one implementation on one store, started and watched by a
// scenario: their events (../lib/candidate-host.mjs), signals, and is-leader questions.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export const now = () => performance.timeOrigin + performance.now();

const CANDIDATES = new URL('../candidates/', import.meta.url).pathname;
/** leasehold's store namespace in the shared stores (the alternatives use lhpf-bench-*). */
export const BENCH_NAMESPACE = 'lhpf_bench';

export class Pool {
  /**
   * @param {{ implementation: string, store: string, election: string, ttlMs: number,
   *   retryMs: number, wrap?: (argv: string[]) => string[] }} options
   */
  constructor(options) {
    this.options = options;
    /** @type {Map<string, import('node:child_process').ChildProcess>} id → process */
    this.processes = new Map();
    this.listeners = new Set();
    this.leader = null;
    this.events = [];
    this.seq = 0;
    this.answers = new Map();
    this.listeners.add((event) => {
      if (event.event === 'elected') this.leader = event.id;
      if ((event.event === 'deposed' || event.event === 'stopping') && this.leader === event.id) {
        this.leader = null;
      }
    });
  }

  /** Start a process running `count` candidates (ids `id` or `id-0`…); resolves once started. */
  async start(id, { count = 1, wrap = this.options.wrap, version } = {}) {
    const { implementation, store, election, ttlMs, retryMs } = this.options;
    const argv = [
      process.execPath,
      `${CANDIDATES}${implementation}.mjs`,
      ...['--store', store, '--election', election, '--id', id],
      ...['--ttl', String(ttlMs), '--retry', String(retryMs), '--count', String(count)],
      ...['--namespace', BENCH_NAMESPACE],
      ...(version === undefined ? [] : ['--app-version', version]),
    ];
    const [command, ...args] = wrap ? wrap(argv) : argv;
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    const ids = count === 1 ? [id] : Array.from({ length: count }, (_, i) => `${id}-${i}`);
    for (const candidate of ids) this.processes.set(candidate, child);
    child.on('message', (message) => {
      if (typeof message?.seq === 'number') this.answers.get(message.seq)?.(message);
    });
    child.on('error', () => {});
    createInterface({ input: child.stdout }).on('line', (line) => {
      let event;
      try {
        event = JSON.parse(line);
      } catch {
        return;
      }
      this.events.push(event);
      for (const listener of [...this.listeners]) listener(event);
    });
    const started = ids.map((candidate) =>
      this.waitFor((e) => e.event === 'started' && e.id === candidate, 30_000),
    );
    await Promise.all(started);
    return child;
  }

  /** The next event matching `predicate`, or a rejection after `timeoutMs`. */
  waitFor(predicate, timeoutMs) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (event) => {
        if (!predicate(event)) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(event);
      };
      this.listeners.add(listener);
    });
  }

  /** A leader, waiting for one if none is known. */
  async currentLeader(timeoutMs) {
    if (this.leader !== null) return this.leader;
    return (await this.waitFor((e) => e.event === 'elected', timeoutMs)).id;
  }

  /** What candidate `id`'s own code answers now; null when it does not answer in time. */
  isLeader(id, timeoutMs = 2_000) {
    return this.ask(id, { type: 'is-leader', id }, timeoutMs);
  }

  /** Candidate `id` hands leadership to `to`: its answer ({outcome} or {error}), or null. */
  transfer(id, to, timeoutMs = 30_000) {
    return this.ask(id, { type: 'transfer', id, to }, timeoutMs);
  }

  /** Send `message` to `id`'s process and wait for the answer with its sequence number. */
  ask(id, message, timeoutMs) {
    const child = this.processes.get(id);
    if (child === undefined || !child.connected) return Promise.resolve(null);
    const seq = (this.seq += 1);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.answers.delete(seq);
        resolve(null);
      }, timeoutMs);
      this.answers.set(seq, (reply) => {
        clearTimeout(timer);
        this.answers.delete(seq);
        resolve(reply);
      });
      child.send({ ...message, seq }, () => {});
    });
  }

  stop(id) {
    this.processes.get(id)?.send({ type: 'stop', id }, () => {});
  }

  signal(id, signal) {
    this.processes.get(id)?.kill(signal);
  }

  /** Wait until the process of `id` has exited, then forget its candidates. */
  async exited(id) {
    const child = this.processes.get(id);
    if (child === undefined) return;
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise((resolve) => child.once('exit', resolve));
    }
    for (const [candidate, process] of this.processes) {
      if (process === child) this.processes.delete(candidate);
    }
  }

  /** SIGKILL every process (a stopped one is continued first, so it dies now). */
  async destroy() {
    const children = new Set(this.processes.values());
    for (const child of children) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
    await Promise.all(
      [...children].map((child) =>
        child.exitCode === null && child.signalCode === null
          ? new Promise((resolve) => child.once('exit', resolve))
          : undefined,
      ),
    );
    this.processes.clear();
  }
}
