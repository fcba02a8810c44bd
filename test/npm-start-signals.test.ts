import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';

// `npm start` under a supervisor: the supervisor signals the process it started, npm. The
// start script hands the process over (exec), so the signal reaches the sidecar, which
// releases its lease and exits within its shutdown grace, leaving nothing behind.
const root = new URL('..', import.meta.url).pathname;
const SHUTDOWN_GRACE_MS = 3_000;

/** Pids of the live processes in a process group (zombies count as gone). */
function processGroup(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, , group] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(group) === pgid && state !== 'Z') members.push(Number(entry));
    } catch {
      // Exited while we looked.
    }
  }
  return members;
}

describe('npm start', () => {
  it(
    'stops the sidecar, cleanly and within the shutdown grace, on SIGTERM to npm',
    { timeout: 120_000 },
    async () => {
      const child = spawn(
        'npm',
        [
          'start',
          '--silent',
          '--',
          '--store',
          'redis://127.0.0.1:6379',
          '--election',
          `lhsu-npm-${randomUUID().slice(0, 8)}`,
          '--port',
          '0',
          '--shutdown-grace',
          `${SHUTDOWN_GRACE_MS}ms`,
        ],
        { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], detached: true },
      );
      const pgid = child.pid ?? 0;
      const lines: string[] = [];
      const output = createInterface({ input: child.stdout });
      // Every line read, once every process that shares npm's stdout has closed it.
      const allRead = new Promise((resolve) => output.once('close', resolve));
      try {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`no sidecar:\n${lines.join('\n')}`)),
            100_000,
          );
          output.on('line', (line) => {
            lines.push(line);
            if (line.includes('"url"')) {
              clearTimeout(timer);
              resolve();
            }
          });
        });
        expect(processGroup(pgid).length).toBeGreaterThan(1);

        const signalledAt = performance.now();
        process.kill(pgid, 'SIGTERM'); // npm only, as a supervisor would
        const deadline = signalledAt + SHUTDOWN_GRACE_MS + 2_000;
        while (processGroup(pgid).length > 0 && performance.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        expect(processGroup(pgid)).toEqual([]);
        expect(performance.now() - signalledAt).toBeLessThan(SHUTDOWN_GRACE_MS);
        // It released the lease and stopped, rather than being cut off. Its last lines may
        // still be in the pipe when its process is gone (seen at load 20): read them first.
        await allRead;
        expect(lines.some((line) => line.includes('"msg":"stopped"'))).toBe(true);
      } finally {
        if (processGroup(pgid).length > 0) process.kill(-pgid, 'SIGKILL');
      }
    },
  );
});
