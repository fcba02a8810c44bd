import type { Elector } from '@leasehold/core';
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import type { Logger } from 'pino';

/**
 * `leasehold run -- <command…>`: the command runs only while this instance leads. It is
 * started when elected (with LEASEHOLD_TERM, the fencing term, in its environment), sent
 * SIGTERM and then SIGKILL after the grace period when leadership ends, and when it exits
 * by itself the sidecar resigns, so that another instance runs it.
 *
 * Leadership can end before the command has stopped (a frozen host, a lost store): the
 * term is what keeps a late write out, so pass LEASEHOLD_TERM along with your writes.
 */
export interface LeaderOnlyCommandOptions {
  readonly command: string;
  readonly args: readonly string[];
  readonly elector: Elector;
  readonly graceMs: number;
  readonly logger: Logger;
}

export class LeaderOnlyCommand {
  private child: ChildProcess | null = null;
  private childExited: Promise<void> = Promise.resolve();
  /** Starts and stops run one after another: a new term waits for the last command's exit. */
  private queue: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: LeaderOnlyCommandOptions) {
    const { elector } = options;
    elector.on('elected', ({ term }) => this.enqueue(() => this.start(term)));
    elector.on('deposed', ({ reason }) => this.enqueue(() => this.terminate(`deposed: ${reason}`)));
  }

  /** Stop the command (SIGTERM, then SIGKILL after the grace period) and start no other. */
  stop(): Promise<void> {
    this.stopped = true;
    return this.enqueue(() => this.terminate('shutting down'));
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(work, work);
    return this.queue;
  }

  private async start(term: number): Promise<void> {
    const { command, args, elector, logger } = this.options;
    // Elected and deposed again while the last command was still stopping.
    if (this.stopped || elector.currentTerm() !== term) return;
    const child = spawn(command, args, {
      stdio: 'inherit',
      env: {
        ...process.env,
        LEASEHOLD_TERM: String(term),
        LEASEHOLD_ID: elector.id,
        LEASEHOLD_ELECTION: elector.election,
      },
    });
    this.child = child;
    logger.info(
      { event: 'command-started', pid: child.pid, term },
      `started ${command} (term ${term})`,
    );
    this.childExited = new Promise((resolve) => {
      child.once('error', (error) => {
        logger.error({ event: 'command-failed', err: error, term }, `could not start ${command}`);
      });
      child.once('close', (code, signal) => {
        if (this.child === child) this.child = null;
        const leading = !this.stopped && elector.currentTerm() === term;
        logger.info(
          { event: 'command-exited', code, signal, term },
          `${command} exited (${signal ?? `code ${String(code)}`})${leading ? ' while leading: resigning so another instance runs it' : ''}`,
        );
        if (leading) void elector.resign();
        resolve();
      });
    });
  }

  private async terminate(why: string): Promise<void> {
    const child = this.child;
    if (child === null) return;
    const { graceMs, logger } = this.options;
    logger.info(
      { event: 'command-stopping', pid: child.pid, why },
      `stopping the command (${why})`,
    );
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'grace-over'>((resolve) => {
      timer = setTimeout(() => resolve('grace-over'), graceMs);
    });
    const outcome = await Promise.race([this.childExited.then(() => 'exited' as const), graceOver]);
    clearTimeout(timer);
    if (outcome === 'grace-over') {
      logger.warn(
        { event: 'command-killed', pid: child.pid, graceMs },
        `the command did not exit within ${graceMs} ms of SIGTERM: SIGKILL`,
      );
      child.kill('SIGKILL');
      await this.childExited;
    }
  }
}

/**
 * Whether `command` names an executable file, itself or on PATH: checked before the
 * sidecar starts, so a typo is exit code 2 at once, not a failure at every election.
 */
export function findExecutable(command: string, path = process.env.PATH ?? ''): string | null {
  const candidates =
    isAbsolute(command) || command.includes('/')
      ? [command]
      : path
          .split(delimiter)
          .filter((dir) => dir !== '')
          .map((dir) => join(dir, command));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // Not here; try the next directory.
    }
  }
  return null;
}
