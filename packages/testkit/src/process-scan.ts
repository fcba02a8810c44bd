import { readFileSync, readdirSync } from 'node:fs';
import { childrenOf, commandLineOf, procStat } from './process-group.js';

/**
 * What still runs, from /proc: for tests that must leave no process behind. Zombies do not
 * count: they have exited and only wait for a parent (here often a PID 1 that never reaps).
 */

/** Of `pids`, those still running. */
export function running(pids: readonly number[]): number[] {
  return pids.filter((pid) => {
    const stat = procStat(String(pid));
    return stat !== null && stat.state !== 'Z' && stat.state !== 'X';
  });
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

/** Running children of `pid`, with their command lines. */
export function childProcesses(pid: number): { pid: number; cmdline: string }[] {
  return childrenOf(pid).map((child) => ({ pid: child, cmdline: commandLineOf(child) }));
}

/**
 * Running processes whose environment holds `marker` (`NAME=value`). Give every process a
 * test starts the marker: its children inherit it, so this finds all of them, whatever
 * process group or namespace they ended up in.
 */
export function runningWithMarker(marker: string): number[] {
  const pids = allPids().filter((pid) => pid !== process.pid);
  return running(pids).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(marker);
    } catch {
      return false;
    }
  });
}

/**
 * For a test's afterEach: wait up to `withinMs` for every process carrying `marker` to be
 * gone, then kill (SIGCONT, SIGKILL) whatever is left and return it, for the test to fail
 * on without leaving it to the next one.
 */
export async function leftRunning(marker: string, withinMs = 2_000): Promise<number[]> {
  const deadline = performance.now() + withinMs;
  while (runningWithMarker(marker).length > 0 && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const left = runningWithMarker(marker);
  for (const pid of left) {
    for (const signal of ['SIGCONT', 'SIGKILL'] as const) {
      try {
        process.kill(pid, signal);
      } catch {
        // Gone meanwhile.
      }
    }
  }
  return left;
}
