import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { SIDECAR_BIN, sidecarArgv } from '@leasehold/testkit';
import { expect } from 'vitest';

/**
 * Real sidecar processes (the built `leasehold` command), as a user runs them. The
 * project's test command builds before vitest runs.
 */
export const BIN = SIDECAR_BIN;
export { sidecarArgv };

/**
 * The shared test stores, one URL each. ZooKeeper keeps an election's (empty) parent znodes,
 * so each test file gives it a chroot of its own (and removes it: zookeeper-tree.ts).
 */
export function storeUrls(sqliteDir: string, zkChroot: string) {
  return [
    ['redis', 'redis://127.0.0.1:6379'],
    ['postgres', 'postgres://postgres@127.0.0.1:5432/test'],
    ['etcd', 'etcd://127.0.0.1:2379'],
    ['zookeeper', `zk://127.0.0.1:2181${zkChroot}`],
    ['sqlite', `sqlite://${join(sqliteDir, 'leases.db')}`],
  ] as const;
}

export interface Sidecar {
  readonly id: string;
  readonly child: ChildProcess;
  readonly url: string;
  readonly exited: Promise<number | null>;
  /** Every line the sidecar logged on stdout so far (JSON). */
  readonly logLines: string[];
}

/** Starts sidecars and, on `killAll()`, leaves none behind (frozen ones included). */
export class SidecarProcesses {
  private readonly children: ChildProcess[] = [];
  /**
   * `NAME=value` in the environment of every sidecar started here, inherited by whatever
   * it starts (leasehold run's watchdogs and commands): a /proc scan for it finds them all.
   */
  readonly marker = `LHTEST_MARK=${randomUUID()}`;

  constructor(private readonly ttlMs: number) {}

  async start(
    store: string,
    election: string,
    id: string,
    extraArgs: readonly string[] = [],
    /** With a command: `leasehold run … -- <command…>`. */
    command?: readonly string[],
    /** The environment to start from; this test process's by default. */
    env: NodeJS.ProcessEnv = process.env,
  ): Promise<Sidecar> {
    const child = spawn(
      process.execPath,
      sidecarArgv(
        store,
        election,
        id,
        ['--ttl', `${this.ttlMs}ms`, '--retry-interval', '200ms', ...extraArgs],
        command,
      ).slice(1),
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...env, LHTEST_MARK: this.marker.split('=')[1] },
      },
    );
    this.children.push(child);
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    );
    const logLines: string[] = [];
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${id} did not start listening`)), 15_000);
      if (child.stdout === null) throw new Error('no stdout');
      createInterface({ input: child.stdout }).on('line', (line) => {
        logLines.push(line);
        const entry = JSON.parse(line) as { url?: string };
        if (entry.url !== undefined) {
          clearTimeout(timer);
          resolve(entry.url);
        }
      });
      child.once('exit', (code) => reject(new Error(`${id} exited with ${code} before listening`)));
    });
    return { id, child, url, exited, logLines };
  }

  killAll(): void {
    for (const child of this.children.splice(0)) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
  }
}

export async function isLeader(sidecar: Sidecar): Promise<boolean> {
  try {
    const response = await fetch(`${sidecar.url}/v1/is-leader`, {
      signal: AbortSignal.timeout(2_000),
    });
    return response.status === 200;
  } catch {
    return false;
  }
}

/** Poll until exactly one of `sidecars` leads, asserting never two; returns it. */
export async function oneLeader(sidecars: Sidecar[], withinMs: number): Promise<Sidecar> {
  const deadline = performance.now() + withinMs;
  for (;;) {
    const answers = await Promise.all(sidecars.map(isLeader));
    const leading = sidecars.filter((_, i) => answers[i]);
    expect(leading.length).toBeLessThanOrEqual(1);
    if (leading[0] !== undefined) return leading[0];
    if (performance.now() > deadline) throw new Error(`no leader within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Poll until the sidecar has logged a line matching `pattern`. */
export async function loggedLine(
  sidecar: Sidecar,
  pattern: RegExp,
  withinMs: number,
): Promise<string> {
  const deadline = performance.now() + withinMs;
  for (;;) {
    const line = sidecar.logLines.find((candidate) => pattern.test(candidate));
    if (line !== undefined) return line;
    if (performance.now() > deadline) throw new Error(`${sidecar.id} did not log ${pattern}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
