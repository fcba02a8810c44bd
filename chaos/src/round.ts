import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Answer, RoundHistory, ScenarioCheck } from './history.js';
import type { Lab } from './lab.js';
import { type Backend, type JobRun, type LabHost, until } from '@leasehold/testkit';
import { RoundCommands } from './commands.js';
import { Recorder } from './recorder.js';
import { Sidecar, type SidecarOptions, type WallClock } from './sidecars.js';
import type { PlainStore } from './store-pool.js';

/** The election's timing in a run; every sidecar of a round gets the same. */
export interface Timing {
  readonly ttlMs: number;
  readonly retryMs: number;
  /** Pause between one answer of a sidecar and the next request to it. */
  readonly pollMs: number;
  /** How long an answer may take before the request counts as unanswered. */
  readonly answerTimeoutMs: number;
}

export interface StartOptions {
  readonly host?: LabHost;
  readonly wallClock?: WallClock;
  /** Another store than the round's plain one (a scenario's own topology). */
  readonly store?: string;
  /** Enable the admin routes (transfer, drain) with the round's token. */
  readonly admin?: boolean;
  /** More flags for the sidecar (`--app-version`, `--standby`). */
  readonly extraArgs?: readonly string[];
}

export interface LeaderQuery {
  /** Give up after this long (default: the round's failover bound). */
  readonly within?: number;
  /** Only a sidecar other than these. */
  readonly except?: readonly Sidecar[];
  /** Only an answer received after this round time (default: now). */
  readonly after?: number;
  /** Of this election (a round of several; default: the first). */
  readonly election?: string;
}

/**
 * One round of a scenario: its sidecars, its recording, its checks. Scenarios drive it;
 * `finish()` waits for the election to settle, stops everything the round started, and
 * hands back the history.
 */
export class Round {
  readonly recorder: Recorder;
  /** Commands mode: the leader-only job every sidecar runs, and its stamps. */
  readonly commands: RoundCommands | null;
  /**
   * A round of several elections: their names (`<election>-e1`, …), every sidecar in each,
   * given in a YAML file of the round; null in a round of one (`election`).
   */
  readonly elections: readonly string[] | null;
  /** The YAML file of a round of several elections (and, with commands, a job each). */
  private readonly configFile: string | null;
  private readonly sidecars: Sidecar[] = [];
  private readonly startsPerCandidate = new Map<string, number>();
  private readonly checks: ScenarioCheck[] = [];
  private readonly cleanups: (() => Promise<void> | void)[] = [];
  private readonly hosts = new Set<LabHost>();
  private outageMs = 0;
  /** The admin token of the round's sidecars started with `admin` (never logged). */
  private readonly adminToken = randomBytes(16).toString('hex');

  constructor(
    readonly scenario: string,
    readonly backend: Backend,
    readonly number: number,
    readonly election: string,
    /** The sidecars' store prefix (namespace) for the whole run. */
    readonly namespace: string,
    readonly store: PlainStore,
    readonly lab: Lab,
    readonly timing: Timing,
    private readonly baseBoundMs: number,
    withCommands: boolean,
    /** How many elections every sidecar takes part in (1: the usual round). */
    electionCount = 1,
  ) {
    this.recorder = new Recorder(timing.answerTimeoutMs);
    const { recorder } = this;
    this.elections =
      electionCount > 1
        ? Array.from({ length: electionCount }, (_, i) => `${election}-e${i + 1}`)
        : null;
    this.commands = withCommands
      ? new RoundCommands(
          () => recorder.time(),
          (hostMs) => recorder.fromHostMonotonic(hostMs),
          this.elections !== null,
        )
      : null;
    this.configFile = this.elections === null ? null : this.writeConfig(this.elections);
  }

  /**
   * The YAML file of a round of several elections: `elections:`, and with commands one job
   * per election, each the stamping job (it stamps its election: LEASEHOLD_ELECTION).
   */
  private writeConfig(elections: readonly string[]): string {
    const dir = mkdtempSync(join(tmpdir(), 'lhch-config-'));
    this.onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    const job = this.commands?.job;
    const lines = [
      `elections: ${JSON.stringify(elections)}`,
      ...(job === undefined
        ? []
        : [
            'jobs:',
            ...elections.map((e) => `  - { election: ${e}, command: ${JSON.stringify(job)} }`),
          ]),
    ];
    const file = join(dir, 'leasehold.yaml');
    writeFileSync(file, `${lines.join('\n')}\n`);
    return file;
  }

  /** The key of `election`'s answers: undefined in a round of one election. */
  private electionOf(election?: string): string | undefined {
    return this.elections === null ? undefined : (election ?? this.elections[0]);
  }

  /** The round's commands; for scenarios that need them (`commandsOnly`). */
  get jobs(): RoundCommands {
    if (this.commands === null) throw new Error(`${this.scenario} needs --commands`);
    return this.commands;
  }

  /**
   * A lab host for this round (`name`: up to 3 letters or digits). Rounds on different
   * backends run at once, so each backend gets hosts of its own; its path to the store is
   * healed when the round ends.
   */
  host(name: string): LabHost {
    const host = this.lab.host(`${name}${HOST_SUFFIX[this.backend]}`);
    this.hosts.add(host);
    return host;
  }

  /** The longest a failover may take in this round, counting the outages it allowed. */
  get failoverBoundMs(): number {
    return this.baseBoundMs + this.outageMs;
  }

  /** Start a sidecar and record it from its first answer. */
  async start(candidate: string, options: StartOptions = {}): Promise<Sidecar> {
    const n = (this.startsPerCandidate.get(candidate) ?? 0) + 1;
    this.startsPerCandidate.set(candidate, n);
    const name = `${candidate}#${n}`;
    const elections = this.elections === null ? {} : { elections: this.elections };
    const target = { name, candidate, ...elections };
    const sidecar = await Sidecar.start(
      name,
      {
        candidate,
        store: options.store ?? this.store.url,
        election: this.election,
        namespace: this.namespace,
        ttlMs: this.timing.ttlMs,
        retryMs: this.timing.retryMs,
        ...(options.host === undefined ? {} : { host: options.host }),
        ...(options.wallClock === undefined ? {} : { wallClock: options.wallClock }),
        ...(options.admin === true ? { adminToken: this.adminToken } : {}),
        extraArgs: [
          ...(this.commands === null ? [] : RoundCommands.runOptions(this.timing.ttlMs)),
          ...(options.extraArgs ?? []),
        ],
        ...this.commandOptions(),
      },
      (line) => this.recorder.logged(target, line),
    );
    this.sidecars.push(sidecar);
    this.recorder.watch({ ...target, url: sidecar.url }, this.timing.pollMs);
    return sidecar;
  }

  /** How a sidecar gets its elections and jobs: flags, or the round's YAML file. */
  private commandOptions(): Partial<SidecarOptions> {
    if (this.configFile !== null) {
      return { configFile: this.configFile, runJobs: this.commands !== null };
    }
    return this.commands === null ? {} : { command: this.commands.job };
  }

  /** Start several, a few at a time (each start costs half a second of a core). */
  async startAll(
    candidates: readonly string[],
    options: StartOptions = {},
    atOnce = 4,
  ): Promise<Sidecar[]> {
    const started: Sidecar[] = [];
    for (let i = 0; i < candidates.length; i += atOnce) {
      const batch = candidates.slice(i, i + atOnce);
      started.push(...(await Promise.all(batch.map((c) => this.start(c, options)))));
    }
    return started;
  }

  /** Everything every sidecar of the round wrote, each line after its sidecar's name. */
  logs(): string {
    return this.sidecars
      .flatMap((s) => s.process.lines.map((line) => `${s.name} ${line}\n`))
      .join('');
  }

  get running(): Sidecar[] {
    return this.sidecars.filter((s) => s.running);
  }

  /** The sidecar's latest answer (for `election`; default the first), if it ever answered. */
  answer(sidecar: Sidecar, election?: string): Answer | undefined {
    return this.recorder.lastAnswer(sidecar.name, this.electionOf(election));
  }

  /** Wait until a sidecar reports leadership in an answer received after `after`. */
  leader(query: LeaderQuery = {}): Promise<Sidecar> {
    const after = query.after ?? this.recorder.time();
    const except = new Set(query.except ?? []);
    const of = query.election === undefined ? '' : ` of ${query.election}`;
    return until(`a leader${of}`, query.within ?? this.failoverBoundMs, () =>
      this.running.find((s) => {
        const answer = this.answer(s, query.election);
        return !except.has(s) && answer?.isLeader === true && answer.receivedAt > after;
      }),
    );
  }

  /**
   * Wait until one sidecar has answered "leader" under one term, and nothing else, for the
   * last `forMs`: the election has settled (a wait for a lost lease, or a stale leader's
   * deadline, would have shown within a TTL).
   */
  stableLeader(forMs: number, within: number, election?: string): Promise<Sidecar> {
    const of = election === undefined ? '' : ` of ${election}`;
    return until(`a leader that stays${of}`, within, () => {
      const since = this.recorder.time() - forMs;
      return this.running.find((s) => {
        const own = this.recorder.answersOf(s.name, this.electionOf(election));
        const recent = own.filter((a) => a.sentAt >= since);
        const term = recent[0]?.term;
        return (
          own.some((a) => a.sentAt < since && a.isLeader && a.term === term) &&
          recent.length > 0 &&
          recent.every((a) => a.error === null && a.isLeader && a.term === term)
        );
      });
    });
  }

  /**
   * Wait until `sidecar` answers that its lease was just renewed (its remaining time rose).
   * Not in a round of several elections: GET /v1/elections does not say the remaining time.
   */
  async renewed(sidecar: Sidecar, within = this.timing.ttlMs * 2): Promise<void> {
    if (this.elections !== null) throw new Error('renewed() needs a round of one election');
    let previous = this.answer(sidecar);
    await until(
      `${sidecar.name} to renew`,
      within,
      () => {
        const latest = this.answer(sidecar);
        if (latest === undefined || latest === previous) return false;
        const rose =
          previous !== undefined &&
          latest.isLeader &&
          (latest.leaseRemainingMs ?? 0) > (previous.leaseRemainingMs ?? 0) + this.timing.pollMs;
        previous = latest;
        return rose;
      },
      2,
    );
  }

  async kill(sidecar: Sidecar, detail = sidecar.name): Promise<void> {
    this.recorder.mark('SIGKILL', detail);
    await sidecar.kill();
    await this.recorder.unwatch(sidecar.name);
  }

  /** SIGTERM: the sidecar stops its command, releases and exits. */
  async stop(sidecar: Sidecar): Promise<void> {
    this.recorder.mark('SIGTERM', sidecar.name);
    await sidecar.stop();
    await this.recorder.unwatch(sidecar.name);
  }

  /** Run `work` as a stretch of the round's marks (a fault, from its start to its end). */
  async fault<T>(name: string, detail: string | null, work: () => Promise<T> | T): Promise<T> {
    const end = this.recorder.begin(name, detail);
    try {
      return await work();
    } finally {
      end();
    }
  }

  mark(name: string, detail: string | null = null): void {
    this.recorder.mark(name, detail);
  }

  check(name: string, ok: boolean, detail: string): void {
    this.checks.push({ name, ok, detail });
  }

  /** This round may go without a leader `ms` longer (a store down on purpose). */
  allowOutage(ms: number): void {
    this.outageMs += Math.max(0, Math.round(ms));
  }

  /** Run at the end of the round, after its sidecars are gone (latest first). */
  onCleanup(cleanup: () => Promise<void> | void): void {
    this.cleanups.unshift(cleanup);
  }

  /**
   * Let the election settle (one leader for a whole TTL), stop every sidecar and run the
   * cleanups. Returns the history with `error` if the scenario failed.
   */
  async finish(scenarioError: unknown): Promise<RoundHistory> {
    let error = scenarioError === null ? null : describe(scenarioError);
    const cleanupErrors: string[] = [];
    try {
      if (error === null) {
        const within = this.failoverBoundMs + this.timing.ttlMs;
        // Every election at once: each settles in its own time, all within the bound.
        await Promise.all(
          (this.elections ?? [undefined]).map((e) =>
            this.stableLeader(this.timing.ttlMs, within, e),
          ),
        );
      }
    } catch (settleError) {
      error = describe(settleError);
    }
    const endedAt = this.recorder.time();
    await this.recorder.stop();
    for (const host of this.hosts) host.healStore();
    await Promise.all(
      this.sidecars.map((s) => s.kill().catch((e: unknown) => cleanupErrors.push(describe(e)))),
    );
    let jobs: JobRun[] | null = null;
    if (this.commands !== null) {
      try {
        jobs = await this.commands.finish();
      } catch (jobsError) {
        cleanupErrors.push(describe(jobsError));
        jobs = this.commands.runs();
      }
    }
    for (const cleanup of this.cleanups) {
      try {
        await cleanup();
      } catch (cleanupError) {
        cleanupErrors.push(describe(cleanupError));
      }
    }
    const errors = [error, ...cleanupErrors.map((e) => `cleanup: ${e}`)].filter((e) => e !== null);
    return {
      scenario: this.scenario,
      backend: this.backend,
      round: this.number,
      election: this.election,
      ...(this.elections === null ? {} : { elections: this.elections }),
      ttlMs: this.timing.ttlMs,
      failoverBoundMs: this.failoverBoundMs,
      startedAt: 0,
      endedAt,
      ...this.recorder.recorded(),
      jobs,
      checks: [...this.checks],
      error: errors.length === 0 ? null : errors.join('; '),
    };
  }
}

/** One letter per backend for its rounds' lab hosts (postgres and pgbouncer share a first). */
const HOST_SUFFIX: Record<Backend, string> = {
  redis: 'r',
  'redis-cluster': 'c',
  postgres: 'p',
  pgbouncer: 'b',
  etcd: 'e',
  zookeeper: 'z',
  sqlite: 's',
};

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
