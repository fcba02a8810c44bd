import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import {
  jobRuns,
  type JobRun,
  type LabHost,
  leftRunning,
  RedisServer,
  SIDECAR_BIN,
  sidecarArgv,
  until,
} from '@leasehold/testkit';

/** The lease of these tests: short, to keep them quick. */
export const TEST_TTL_MS = 2_000;
/**
 * Timing for `leasehold run` candidates on that lease. The command's SIGTERM comes
 * 250 + 800 ms before the deadline: a job that needs 500 ms to stop fits with room to
 * spare, and a healthy leader's renewal (every 500 ms) always comes first.
 */
export const TEST_RUN_ARGS: readonly string[] = [
  '--ttl',
  `${TEST_TTL_MS}ms`,
  '--renew-interval',
  '500ms',
  '--retry-interval',
  '200ms',
  '--command-grace',
  '800ms',
];

/**
 * Timing for `leasehold run` candidates whose admin or per-election routes a test asks: a
 * longer lease than TEST_RUN_ARGS', since the first request to a route off the fast path
 * loads Fastify, which on a loaded machine stalls the sidecar past a 2 s lease's SIGTERM point.
 */
export const ROUTES_RUN_ARGS: readonly string[] = [
  '--ttl',
  '6s',
  '--renew-interval',
  '1s',
  '--retry-interval',
  '200ms',
  '--command-grace',
  '800ms',
];

export interface RunCandidate {
  readonly id: string;
  /** The sidecar process (`ip netns exec` execs it, so in a lab host too). */
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything it wrote on stdout and stderr so far, for failure messages. */
  readonly lines: string[];
  readonly exited: Promise<number | null>;
}

export interface RunCandidatesOptions {
  readonly store: string;
  readonly election: string;
  /**
   * The job's command line, after `--`; null for `leasehold run` without one, whose jobs
   * (and elections) come from the config file in `args` (`jobs:`, docs/run.md).
   */
  readonly job: readonly string[] | null;
  /** Options of `leasehold run` (timing). */
  readonly args: readonly string[];
  /**
   * `NAME=value` put in every candidate's environment: the sidecars, their watchdogs and
   * jobs all inherit it, so a scan for it finds whatever a test left running.
   */
  readonly marker: string;
  /** More environment for every candidate (and so its job). */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Each sidecar leads a process group of its own (its pid is the group id), so that a
   * test can signal the group as a supervisor would, without signalling the test runner.
   */
  readonly ownGroup?: boolean;
}

/** `leasehold run` candidates, each in the root namespace or in a lab host. */
export class RunCandidates {
  readonly all: RunCandidate[] = [];

  constructor(private readonly options: RunCandidatesOptions) {}

  /** Start one; resolves once it listens (it may already lead and run the job by then). */
  async start(
    id: string,
    host?: LabHost,
    extraArgs: readonly string[] = [],
  ): Promise<RunCandidate> {
    const { store, election, job, args, marker, env = {}, ownGroup = false } = this.options;
    const [name, value] = marker.split('=');
    const options = [...args, ...extraArgs];
    const argv =
      job === null
        ? [
            process.execPath,
            SIDECAR_BIN,
            'run',
            '--store',
            store,
            '--id',
            id,
            '--port',
            '0',
            ...options,
          ]
        : sidecarArgv(store, election, id, options, job);
    const [command = '', ...rest] = host === undefined ? argv : host.wrap(argv);
    const child = spawn(command, rest, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env, [name ?? '']: value },
      detached: ownGroup,
    });
    const lines: string[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      if (stream !== null) createInterface({ input: stream }).on('line', (l) => lines.push(l));
    }
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const candidate: RunCandidate = { id, child, pid: child.pid ?? 0, lines, exited };
    this.all.push(candidate);
    await until(`${id} listening`, 15_000, () =>
      lines.some((line) => line.includes('"url"')) || child.exitCode !== null ? true : undefined,
    );
    if (child.exitCode !== null) throw new Error(`${id} exited:\n${lines.join('\n')}`);
    return candidate;
  }

  byId(id: string): RunCandidate {
    const found = this.all.find(
      (candidate) => candidate.id === id && candidate.child.exitCode === null,
    );
    if (found === undefined) throw new Error(`no live candidate ${id}`);
    return found;
  }

  /** SIGCONT (for frozen ones) and SIGKILL every candidate; their watchdogs kill the jobs. */
  async killAll(): Promise<void> {
    for (const candidate of this.all) {
      candidate.child.kill('SIGCONT');
      candidate.child.kill('SIGKILL');
    }
    await Promise.all(this.all.map((candidate) => candidate.exited));
  }

  /** Every candidate's output, for a failure message. */
  logs(): string {
    return this.all.map((c) => `--- ${c.id}\n${c.lines.slice(-40).join('\n')}`).join('\n');
  }
}

/** The sidecar's address, from its "listening" log line. */
export function urlOf(candidate: RunCandidate): string {
  for (const line of candidate.lines) {
    const match = /"url":"([^"]+)"/.exec(line);
    if (match?.[1] !== undefined) return match[1];
  }
  throw new Error(`${candidate.id} has not logged its url`);
}

/** What a test gives for its candidates: the marker is made per test, the election may be. */
export type CandidateOptions = Omit<RunCandidatesOptions, 'election' | 'marker'> & {
  readonly election?: string;
};

/** A test file's candidates: see runCandidatesPerTest. */
export interface CandidatesPerTest {
  /** A temporary directory of the file's, removed after its last test. */
  readonly dir: string;
  /** This test's candidates, with a fresh marker (and election unless given). */
  candidates(options: CandidateOptions): RunCandidates;
  /** This test's candidates, if it made them. */
  readonly current: RunCandidates | null;
}

/**
 * The set-up every `leasehold run` test file shares; call once, at its top. After each test
 * every candidate is killed and nothing carrying its marker may be left running.
 */
export function runCandidatesPerTest(name: string): CandidatesPerTest {
  const dir = mkdtempSync(join(tmpdir(), `lhrn-${name}-`));
  let current: RunCandidates | null = null;
  let marker = '';
  afterEach(async () => {
    await current?.killAll();
    current = null;
    // Every sidecar, watchdog and job carries the marker: none may outlive the test.
    expect(await leftRunning(marker)).toEqual([]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return {
    dir,
    candidates(options) {
      marker = `LHRN_MARK=${randomUUID()}`;
      const election = options.election ?? `lhrn-${name}-${randomUUID().slice(0, 8)}`;
      current = new RunCandidates({ ...options, election, marker });
      return current;
    },
    get current() {
      return current;
    },
  };
}

/** A test file's candidates on a Redis server of its own: see runCandidatesOnRedis. */
export interface CandidatesOnRedis extends CandidatesPerTest {
  /** The file's Redis server: started before its first test, closed after its last. */
  readonly redis: RedisServer;
  /**
   * Figures the tests measured, for the report (and bench/): printed after the file's last
   * test, so visible with --reporter=verbose or on failure.
   */
  readonly measured: string[];
}

/**
 * runCandidatesPerTest for a file whose tests also run on a Redis server of their own and
 * measure figures; its output is labelled `run-<name>`. Call once, at the file's top.
 */
export function runCandidatesOnRedis(name: string): CandidatesOnRedis {
  const perTest = runCandidatesPerTest(name);
  const measured: string[] = [];
  let redis: RedisServer | undefined;
  beforeAll(async () => {
    redis = await RedisServer.start();
  }, 30_000);
  afterAll(async () => {
    await redis?.close();
    if (measured.length > 0) process.stdout.write(`run-${name}:\n  ${measured.join('\n  ')}\n`);
  });
  return {
    dir: perTest.dir,
    candidates: (options) => perTest.candidates(options),
    get current() {
      return perTest.current;
    },
    get redis() {
      if (redis === undefined) throw new Error('the Redis server starts in beforeAll');
      return redis;
    },
    measured,
  };
}

/** The job run of `id` writing now (a stamp in the last 100 ms), if any. */
export function runningFor(file: string, id: string): JobRun | undefined {
  const now = Number(process.hrtime.bigint()) / 1e6;
  return jobRuns(file).find((run) => run.id === id && now - run.last < 100);
}

/** What the tests read of a candidate's JSON log lines. */
export interface LogEvent {
  readonly event?: string;
  readonly election?: string;
  readonly term?: number;
  readonly reason?: string;
}

/** `candidate`'s log so far, one event a JSON line (other lines passed over). */
export function logEvents(candidate: RunCandidate): LogEvent[] {
  return candidate.lines.flatMap((line) => {
    try {
      return [JSON.parse(line) as LogEvent];
    } catch {
      return [];
    }
  });
}
