import { readFileSync, readdirSync } from 'node:fs';

/**
 * Process groups, as the sidecar stops them (the watchdog, watchdog.bash, does the same in
 * bash: signal the group, and count it gone once no member but zombies is left).
 */

/** How often to look whether a group is gone: /proc is scanned each time. */
const GROUP_POLL_MS = 20;

/** Send `signal` to every process of the group; false when the group has no process. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a process of the group still runs. Zombies do not count: a process whose parent
 * died is handed to PID 1, and not every PID 1 reaps (a container's often does not), so a
 * dead member can stay listed in its group for good. Where /proc is missing, any member
 * counts.
 */
export function groupAlive(pgid: number): boolean {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  }
  return pids.some((pid) => {
    const stat = procStat(pid);
    return stat !== null && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X';
  });
}

/**
 * Resolve once no process of the group runs, sending `signal` to it every poll while any
 * does (a process that forked just as the last signal went out is caught by the next).
 */
export async function groupGone(pgid: number, signal?: NodeJS.Signals): Promise<void> {
  while (groupAlive(pgid)) {
    if (signal !== undefined) signalGroup(pgid, signal);
    await new Promise((resolve) => setTimeout(resolve, GROUP_POLL_MS));
  }
}

/** State, parent and process group of a process from /proc/<pid>/stat, or null if gone. */
export function procStat(pid: string): { state: string; ppid: number; pgrp: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', ppid: Number(fields[1]), pgrp: Number(fields[2]) };
}
