import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { LabHost } from './netlab.js';

/** The built `leasehold` command; the test command builds before vitest runs. */
const BIN = new URL('../../packages/sidecar/bin/leasehold.js', import.meta.url).pathname;

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
  /** The job's command line, after `--`. */
  readonly job: readonly string[];
  /** Options of `leasehold run` (timing). */
  readonly args: readonly string[];
  /**
   * `NAME=value` put in every candidate's environment: the sidecars, their watchdogs and
   * jobs all inherit it, so a scan for it finds whatever a test left running.
   */
  readonly marker: string;
  /** More environment for every candidate (and so its job). */
  readonly env?: Readonly<Record<string, string>>;
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
    const { store, election, job, args, marker, env = {} } = this.options;
    const [name, value] = marker.split('=');
    const argv = [
      process.execPath,
      BIN,
      'run',
      '--store',
      store,
      '--election',
      election,
      '--id',
      id,
      '--port',
      '0',
      ...args,
      ...extraArgs,
      '--',
      ...job,
    ];
    const [command = '', ...rest] = host === undefined ? argv : host.wrap(argv);
    const child = spawn(command, rest, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env, [name ?? '']: value },
    });
    const lines: string[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      if (stream !== null) createInterface({ input: stream }).on('line', (l) => lines.push(l));
    }
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const candidate: RunCandidate = { id, child, pid: child.pid ?? 0, lines, exited };
    this.all.push(candidate);
    const deadline = performance.now() + 15_000;
    while (!lines.some((line) => line.includes('"url"'))) {
      if (child.exitCode !== null || performance.now() > deadline) {
        throw new Error(`${id} did not start listening:\n${lines.join('\n')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
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
