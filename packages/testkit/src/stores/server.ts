import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import type { LabHost } from '../netlab.js';
import { ProcessGroup, stopGroup } from '../process-group.js';
import { until } from '../wait.js';

/**
 * A private store server of the suite's own, never the shared ones: started inside a lab
 * host (or the root namespace), in a process group, waited for until it answers.
 */

/**
 * `pgbouncer`: PostgreSQL behind Debian's PgBouncer in session pooling. `redis-cluster`: a
 * Redis Cluster of three masters with a replica each.
 */
export type Backend =
  'redis' | 'redis-cluster' | 'postgres' | 'pgbouncer' | 'etcd' | 'zookeeper' | 'sqlite';

export const BACKENDS: readonly Backend[] = [
  'redis',
  'redis-cluster',
  'postgres',
  'pgbouncer',
  'etcd',
  'zookeeper',
  'sqlite',
];

/** What every store fixture offers a scenario. */
export interface StoreFixture {
  readonly backend: Backend;
  /** The URL sidecars use, from the root namespace or any lab host. */
  readonly url: string;
  close(): Promise<void>;
}

/** A store whose server can crash and come back. */
export interface RestartableStore extends StoreFixture {
  /** SIGKILL the server and start it again on the same data. Resolves once it answers. */
  restart(): Promise<void>;
}

/** Where one member of a replicated store runs, and how its peers and clients reach it. */
export interface MemberPlace {
  /** The lab host it runs in; undefined: the root namespace, on loopback. */
  readonly host: LabHost | undefined;
  /** Where clients reach it. */
  readonly clientAddress: string;
  /** Where the other members reach it (unused by a single server). */
  readonly peerAddress: string;
}

export interface ServerSpec {
  readonly name: string;
  /** Where it runs; undefined: the root namespace. */
  readonly host: LabHost | undefined;
  readonly argv: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Resolves true once the server answers. */
  readonly ready: () => Promise<boolean>;
}

/** One server process, restartable with the same command line. */
export class ServerProcess {
  private group: ProcessGroup | null = null;

  constructor(private readonly spec: ServerSpec) {}

  async start(withinMs = 30_000): Promise<void> {
    const argv =
      this.spec.host === undefined ? [...this.spec.argv] : this.spec.host.wrap(this.spec.argv);
    const [command = '', ...args] = argv;
    const group = new ProcessGroup(command, args, { env: this.spec.env ?? process.env });
    this.group = group;
    try {
      await until(
        `${this.spec.name} to answer`,
        withinMs,
        async () => {
          group.assertRunning(this.spec.name);
          return this.spec.ready();
        },
        50,
      );
    } catch (error) {
      const tail = group.lines.slice(-5).join('\n');
      await this.kill();
      throw new Error(`${(error as Error).message}\n${tail}`, { cause: error });
    }
  }

  get running(): boolean {
    return this.group !== null && !this.group.hasExited;
  }

  /** SIGKILL the whole group (no chance to save anything) and wait until it is gone. */
  async kill(): Promise<void> {
    const group = this.group;
    this.group = null;
    await group?.kill();
  }

  /** SIGTERM (a clean shutdown), SIGKILL after `withinMs`; resolves once the group is gone. */
  async stop(withinMs = 10_000): Promise<void> {
    const group = this.group;
    if (group === null) return;
    await stopGroup(group.pgid, withinMs);
    await this.kill();
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  signal(signal: NodeJS.Signals): void {
    this.group?.signal(signal);
  }
}

/** A member of a replicated store: one server process. */
export interface Member {
  readonly process: ServerProcess;
}

/**
 * A store of one or more member processes with one temporary directory for their data:
 * etcd clusters and ZooKeeper ensembles. Members of a new cluster wait for each other, so
 * they start together.
 */
export abstract class MemberGroup<M extends Member> implements RestartableStore {
  abstract readonly backend: Backend;
  abstract readonly members: readonly M[];
  abstract get url(): string;

  constructor(protected readonly dir: string) {}

  /** Start every member together; on a failure, close what was started and rethrow. */
  protected async startMembers(): Promise<void> {
    try {
      await Promise.all(this.members.map((m) => m.process.start()));
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  /** Kill every member and start them again on their data. */
  async restart(): Promise<void> {
    await Promise.all(this.members.map((m) => m.process.kill()));
    await Promise.all(this.members.map((m) => m.process.start()));
  }

  async close(): Promise<void> {
    await Promise.all(this.members.map((m) => m.process.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Run a store's command-line tool to its end; rejects with its output when it fails. */
export function tool(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        env: options.env ?? process.env,
        timeout: options.timeoutMs ?? 10_000,
        killSignal: 'SIGKILL',
      },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${command} ${args.join(' ')}: ${stderr || error.message}`));
        else resolve(stdout);
      },
    );
  });
}

/** GET over plain HTTP; resolves the body, rejects on an error or after `timeoutMs`. */
export async function httpGet(url: string, timeoutMs = 2_000): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return response.text();
}
