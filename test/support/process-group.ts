import { readFileSync, readdirSync } from 'node:fs';

/**
 * The processes of a process group that still run, from /proc: a test that started a group
 * checks that none survives it. Zombies do not count: they have exited and only wait for a
 * parent (on this machine often a PID 1 that never reaps).
 */
export function liveMembers(pgid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        // "pid (comm) state ppid pgrp …"; comm may contain spaces and parentheses.
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return Number(pgrp) === pgid && state !== 'Z' && state !== 'X';
      } catch {
        return false; // gone while we looked
      }
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

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // Nothing left to signal.
  }
}
