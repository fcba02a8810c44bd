import { readFileSync, writeFileSync } from 'node:fs';
import {
  type LabHost,
  ProcessGroup,
  SIDECAR_BIN,
  stopOutsideSqliteWrite,
  until,
} from '@leasehold/testkit';

/**
 * Real sidecar processes: the built `leasehold` command, as users run it, each in a process
 * group of its own so that a kill takes everything it started, optionally inside a lab host
 * (its path to the store breakable) and under a fake wall clock.
 */

/** Where Debian's faketime package puts the library (scripts/services.sh installs it). */
const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

export interface SidecarOptions {
  readonly candidate: string;
  readonly store: string;
  readonly election: string;
  readonly namespace: string;
  readonly ttlMs: number;
  readonly retryMs: number;
  /** Run inside this lab host (default: the root namespace, on loopback). */
  readonly host?: LabHost;
  /** Give this sidecar a wall clock of its own, moved with `WallClock.jump`. */
  readonly wallClock?: WallClock;
  readonly extraArgs?: readonly string[];
  /** Run as `leasehold run … -- <command>` instead of the plain sidecar. */
  readonly command?: readonly string[];
  /**
   * A YAML file naming several elections (`elections:`), given instead of `--election`; with
   * `runJobs`, the sidecar runs as `leasehold run` with the file's `jobs:`.
   */
  readonly configFile?: string;
  readonly runJobs?: boolean;
  /**
   * Enable the admin routes (transfer, drain) with this token, given in the environment so
   * it stays off the command line; in a lab host (a non-loopback bind) without TLS too.
   */
  readonly adminToken?: string;
}

/** An admin route's answer: its status and its JSON body (null when it had none). */
export interface AdminAnswer {
  readonly status: number;
  readonly body: Record<string, unknown> | null;
}

/**
 * An offset for one process's wall clock (libfaketime reads it from a file, at most a second
 * late). The monotonic clock is left alone, as it is when NTP or an operator steps the clock.
 */
export class WallClock {
  constructor(readonly file: string) {
    writeFileSync(file, '+0\n');
  }

  /** Move the wall clock to `offset` from the real one: `+1h`, `-1h`, `+0`. */
  jump(offset: string): void {
    writeFileSync(this.file, `${offset}\n`);
  }

  /** The environment that puts a process under this clock. */
  environment(): Record<string, string> {
    return {
      LD_PRELOAD: LIBFAKETIME,
      FAKETIME_TIMESTAMP_FILE: this.file,
      FAKETIME_CACHE_DURATION: '1',
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
    };
  }
}

export class Sidecar {
  private constructor(
    /** `<candidate>#<n>`: the n-th process of this candidate in the round. */
    readonly name: string,
    readonly candidate: string,
    readonly url: string,
    readonly process: ProcessGroup,
    private readonly adminToken: string | null,
  ) {}

  /**
   * Start one and wait until it listens. `onLine` sees every line it logs, from the first.
   */
  static async start(
    name: string,
    options: SidecarOptions,
    onLine: (line: string) => void,
  ): Promise<Sidecar> {
    const { host, wallClock } = options;
    const { configFile } = options;
    const argv = [
      process.execPath,
      SIDECAR_BIN,
      ...(options.command === undefined && options.runJobs !== true ? [] : ['run']),
      ...['--store', options.store, '--id', options.candidate],
      ...(configFile === undefined ? ['--election', options.election] : ['--config', configFile]),
      ...['--store-prefix', options.namespace, '--port', '0'],
      ...['--host', host === undefined ? '127.0.0.1' : '0.0.0.0'],
      ...['--ttl', `${options.ttlMs}ms`, '--retry-interval', `${options.retryMs}ms`],
      ...(options.adminToken !== undefined && host !== undefined
        ? ['--allow-insecure-admin', 'true']
        : []),
      ...(options.extraArgs ?? []),
      ...(options.command === undefined ? [] : ['--', ...options.command]),
    ];
    const [command = '', ...args] = host === undefined ? argv : host.wrap(argv);
    const child = new ProcessGroup(command, args, {
      env: {
        ...process.env,
        ...(wallClock?.environment() ?? {}),
        ...(options.adminToken === undefined ? {} : { LEASEHOLD_ADMIN_TOKEN: options.adminToken }),
      },
    });
    let port: string | null = null;
    child.onLine((line, stream) => {
      if (stream !== 'stdout') return;
      onLine(line);
      port ??= /"url":"http:\/\/[^"]*:(\d+)"/.exec(line)?.[1] ?? null;
    });
    try {
      const listening = await until(`${name} listening`, 30_000, () => {
        child.assertRunning(`${name} starting`);
        return port ?? undefined;
      });
      const address = host === undefined ? '127.0.0.1' : host.address;
      const url = `http://${address}:${listening}`;
      return new Sidecar(name, options.candidate, url, child, options.adminToken ?? null);
    } catch (error) {
      await child.kill();
      throw error;
    }
  }

  /** The sidecar's pid (`ip netns exec` execs it), also its process group's id. */
  get pid(): number {
    return this.process.pgid;
  }

  get running(): boolean {
    return !this.process.hasExited;
  }

  /** SIGKILL, and wait until nothing of it is left. */
  kill(): Promise<void> {
    return this.process.kill();
  }

  /** SIGSTOP its group, but not inside an SQLite commit (testkit stopOutsideSqliteWrite). */
  async freeze(): Promise<void> {
    await stopOutsideSqliteWrite(this.pid, (signal) => this.process.signal(signal));
  }

  thaw(): void {
    this.process.signal('SIGCONT');
  }

  /** SIGTERM: stop reporting leadership, release, exit. */
  async stop(withinMs = 15_000): Promise<void> {
    this.process.signal('SIGTERM');
    await until(`${this.name} to exit after SIGTERM`, withinMs, () => !this.running);
  }

  /**
   * POST an admin route (`/v1/transfer`, `/v1/drain`, `/v1/undrain`) with the admin token.
   * Errors name the route, never the token.
   */
  async admin(path: string, body: object = {}, withinMs = 20_000): Promise<AdminAnswer> {
    if (this.adminToken === null) throw new Error(`${this.name} was started without admin`);
    const response = await fetch(`${this.url}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${this.adminToken}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(withinMs),
    }).catch((error: unknown) => {
      throw new Error(`POST ${path} to ${this.name}: ${(error as Error).message}`);
    });
    const text = await response.text();
    let parsed: Record<string, unknown> | null = null;
    try {
      parsed = text === '' ? null : (JSON.parse(text) as Record<string, unknown>);
    } catch {
      throw new Error(`POST ${path} to ${this.name}: ${response.status}, not JSON: ${text}`);
    }
    return { status: response.status, body: parsed };
  }

  /** Resident memory in bytes (Linux), or null once it has exited. */
  residentBytes(): number | null {
    try {
      const status = readFileSync(`/proc/${this.process.pgid}/status`, 'utf8');
      const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
      return kb === undefined ? null : Number(kb) * 1024;
    } catch {
      return null;
    }
  }
}
