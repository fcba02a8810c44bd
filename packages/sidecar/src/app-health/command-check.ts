import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { jobEnvironment } from '../run/job-env.js';

/** One check's result: healthy or not, and in words why (for the transition's log line). */
export interface CheckResult {
  readonly healthy: boolean;
  readonly detail: string;
}

/** After the timeout's SIGTERM, how long the wrapper has to reap and exit before SIGKILL. */
const WRAPPER_GRACE_MS = 1_000;

/**
 * The top of the check's process group, run by `/bin/sh` with the command as `$1` and a pipe
 * from the sidecar as fd 3 (the sidecar never writes to it).
 * - A subshell (the watcher) reads fd 3 until end of file, which comes only when the
 *   sidecar's end closes: the sidecar died, SIGKILL included (the kernel closes a dead
 *   process's files). It then kills the whole group, so no check outlives its sidecar.
 * - The command runs in a shell of its own, without fd 3 or a stdin; the wrapper waits for
 *   it, kills and reaps the watcher, and exits with the command's code.
 * - The timeout is a SIGTERM to the wrapper alone: it kills the command's shell and reaps
 *   it before it exits. Reaping here matters: a shell killed together with the wrapper
 *   would be an orphan, and a sidecar that is a container's PID 1 (our image) inherits
 *   orphans but never reaps them; a zombie per timed-out check would pile up.
 */
const WRAPPER = [
  '(while read -r _ <&3; do :; done; kill -KILL 0) & watcher=$!',
  '/bin/sh -c "$1" 3<&- </dev/null & command=$!',
  'trap \'kill -KILL "$command"\' TERM',
  'wait "$command"; code=$?',
  'wait "$command" 2>/dev/null',
  'kill -KILL "$watcher"; wait "$watcher"',
  'exit "$code"',
].join('\n');

/**
 * `/bin/sh -c <command>`: exit 0 is healthy. It runs in a process group of its own, with the
 * environment `leasehold run` gives its command (no store URL, no admin token), stopped at
 * the timeout, its group killed after it exits (nothing it started stays) and when the
 * sidecar dies (WRAPPER).
 */
export function checkCommand(
  command: string,
  passEnv: readonly string[],
  timeoutMs: number,
): Promise<CheckResult> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', WRAPPER, 'leasehold-app-health', command], {
      env: jobEnvironment(process.env, passEnv),
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
      detached: true,
    });
    // Our end of the lifeline: it must not keep the sidecar's event loop alive.
    const lifeline = child.stdio[3] as Socket | null;
    lifeline?.unref();
    let timedOut = false;
    const timers = [
      setTimeout(() => {
        timedOut = true;
        child.kill('SIGTERM');
      }, timeoutMs),
      setTimeout(() => killGroup(child), timeoutMs + WRAPPER_GRACE_MS),
    ];
    const end = (result: CheckResult): void => {
      for (const timer of timers) clearTimeout(timer);
      killGroup(child);
      // Closed after the group is killed, so the watcher is not woken for nothing.
      lifeline?.destroy();
      resolve(result);
    };
    child.once('error', (error) =>
      end({ healthy: false, detail: `could not start: ${error.message}` }),
    );
    child.once('exit', (code, signal) => {
      if (timedOut) end({ healthy: false, detail: `no exit within ${timeoutMs} ms` });
      else end({ healthy: code === 0, detail: signal === null ? `exit ${code}` : signal });
    });
  });
}

/** SIGKILL the check's whole group (whatever the command started in it too). */
function killGroup(child: ChildProcess): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch {
    // The group is gone already.
  }
}
