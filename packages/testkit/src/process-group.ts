import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { pause } from './wait.js';

/** Groups started and not yet seen to exit: what an interrupted run must not leave behind. */
const live = new Set<ProcessGroup>();

/** SIGKILL every group this process started that may still run (on an interrupt). */
export function killEveryGroup(): void {
  for (const group of live) {
    group.signal('SIGCONT');
    group.signal('SIGKILL');
  }
}

/**
 * A process started as the leader of a process group of its own, so that stopping it
 * stops whatever it started too, and a test can check that nothing of it survived.
 */
export class ProcessGroup {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  /** Every line the process wrote on stdout and stderr so far (for failure messages). */
  readonly lines: string[] = [];
  private readonly lineListeners: ((line: string, stream: 'stdout' | 'stderr') => void)[] = [];

  constructor(command: string, args: readonly string[], options: SpawnOptions = {}) {
    this.child = spawn(command, args, { ...options, detached: true, stdio: 'pipe' });
    live.add(this);
    this.exited = new Promise((resolve) =>
      this.child.once('exit', () => {
        live.delete(this);
        resolve();
      }),
    );
    for (const [name, stream] of [
      ['stdout', this.child.stdout],
      ['stderr', this.child.stderr],
    ] as const) {
      if (stream === null) continue;
      createInterface({ input: stream }).on('line', (line) => {
        this.lines.push(line);
        for (const listener of this.lineListeners) listener(line, name);
      });
    }
  }

  /** Call `listener` with every line written from now on. */
  onLine(listener: (line: string, stream: 'stdout' | 'stderr') => void): void {
    this.lineListeners.push(listener);
  }

  /** Whether the group's leader has exited. */
  get hasExited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  get pgid(): number {
    if (this.child.pid === undefined) throw new Error('the process did not start');
    return this.child.pid;
  }

  /** Send `signal` to every process of the group (no-op when the group is gone). */
  signal(signal: NodeJS.Signals): void {
    signalGroup(this.pgid, signal);
  }

  /** Whether any process of the group is still running (zombies do not count). */
  alive(): boolean {
    return liveMembers(this.pgid).length > 0;
  }

  /** SIGKILL the whole group and wait until the leader has exited and no member is left. */
  async kill(withinMs = 5_000): Promise<void> {
    this.signal('SIGCONT');
    this.signal('SIGKILL');
    await this.exited;
    const deadline = performance.now() + withinMs;
    while (this.alive()) {
      if (performance.now() > deadline) throw new Error(`process group ${this.pgid} survived`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Throws, with what the process wrote, once it has exited: for waits that need it alive. */
  assertRunning(what: string): void {
    if (this.hasExited) {
      throw new Error(`${what}: the process exited:\n${this.lines.join('\n')}`);
    }
  }
}

/**
 * The processes of a process group that still run, from /proc: a test that started a group
 * checks that none survives it. Zombies do not count: they have exited and only wait for a
 * parent (on this machine often a PID 1 that never reaps).
 */
export function liveMembers(pgid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      const [state, , pgrp] = statFields(Number(name)) ?? [];
      return Number(pgrp) === pgid && state !== 'Z' && state !== 'X';
    })
    .map(Number);
}

/** SIGTERM the group, wait up to `withinMs` for it to be gone; SIGKILL what is left. */
export async function stopGroup(pgid: number, withinMs: number): Promise<number[]> {
  signalGroup(pgid, 'SIGTERM');
  const deadline = performance.now() + withinMs;
  while (liveMembers(pgid).length > 0 && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const left = liveMembers(pgid);
  if (left.length > 0) {
    signalGroup(pgid, 'SIGCONT');
    signalGroup(pgid, 'SIGKILL');
  }
  return left;
}

/** Send `signal` to process group `pgid` (no-op when it is gone). */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  signalProcess(-pgid, signal);
}

/** How often stopOutsideSqliteWrite stops before it leaves the process stopped anyway. */
const MOST_STOPS = 20;

/**
 * Stop a process with `signal` (its own, or its group's), but not while `holderPid`, the
 * process with the store connection, holds SQLite's write lock (a POSIX lock on byte 120 of
 * the -shm file, held through each commit and its fsync): stopped then, it would keep every
 * other candidate out until it runs again. No store can take a lock from a live process
 * (docs/stores.md, SQLite); a test of a frozen leader does not mean that. Other stores take
 * no such lock, so the first stop is the one. Returns how many stops it took.
 */
export async function stopOutsideSqliteWrite(
  holderPid: number,
  signal: (signal: 'SIGSTOP' | 'SIGCONT') => void,
): Promise<number> {
  const writeLock = new RegExp(
    `^\\d+: POSIX\\s+ADVISORY\\s+WRITE\\s+${holderPid}\\s+\\S+\\s+120\\s+120$`,
    'm',
  );
  for (let attempt = 1; ; attempt += 1) {
    signal('SIGSTOP');
    if (attempt === MOST_STOPS || !writeLock.test(readFileSync('/proc/locks', 'utf8'))) {
      return attempt;
    }
    signal('SIGCONT');
    await pause(5);
  }
}

/** Send `signal` to one process (no-op when it is gone: a process that exited is as killed). */
export function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** The live processes whose parent is `pid` (from /proc). */
export function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      const fields = statFields(Number(name));
      return fields !== null && Number(fields[1]) === pid && !['Z', 'X'].includes(fields[0] ?? '');
    })
    .map(Number);
}

/** The parent of `pid`, or null once it is gone. */
export function parentOf(pid: number): number | null {
  const fields = statFields(pid);
  return fields === null ? null : Number(fields[1]);
}

/** The command line of `pid`, its arguments joined by spaces ('' once it is gone). */
export function commandLineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** A process's state, parent and process group from /proc/PID/stat, or null once it is gone. */
export function procStat(
  pid: number | string,
): { state: string; ppid: number; pgrp: number } | null {
  const fields = statFields(Number(pid));
  return fields === null
    ? null
    : { state: fields[0] ?? '', ppid: Number(fields[1]), pgrp: Number(fields[2]) };
}

/** Whether any process of group `pgid` still runs (zombies do not count). */
export function groupAlive(pgid: number): boolean {
  return liveMembers(pgid).length > 0;
}

/** "state ppid pgrp …" of /proc/PID/stat (after the command name), or null once it is gone. */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}
