import { readFileSync, readdirSync } from 'node:fs';
import { procStat } from '../../src/process-group.js';

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

/**
 * Running processes whose environment holds `marker` (`NAME=value`). Give every process a
 * test starts the marker: its children inherit it, so this finds all of them, whatever
 * process group or namespace they ended up in.
 */
export function runningWithMarker(marker: string): number[] {
  const pids = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => pid !== process.pid);
  return running(pids).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(marker);
    } catch {
      return false;
    }
  });
}
