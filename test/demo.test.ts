import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// `pnpm demo` as a person uses it: in a terminal (tmux), reading the screen and pressing keys.
// It runs the built sidecar; the project's test command builds before vitest runs.
const root = new URL('..', import.meta.url).pathname;
const TTL_MS = 2_000;

interface Row {
  readonly id: string;
  readonly pid: number;
  readonly state: string;
  readonly term: number | null;
}

/** The candidate rows of the demo's table: `#  id  pid  state  term  …`. */
function rows(screen: string): Row[] {
  return [...screen.matchAll(/^[123] {2}(demo-[123]) {2}(\d+) +(no answer|\S+) +(\d+|-) /gm)].map(
    ([, id, pid, state, term]) => ({
      id: id as string,
      pid: Number(pid),
      state: state as string,
      term: term === '-' ? null : Number(term),
    }),
  );
}

/** The row that shows LEADER, if it passes `also`. */
function leaderRow(table: Row[], also: (row: Row & { term: number }) => boolean) {
  const row = table.find((r) => r.state === 'LEADER');
  return row !== undefined && row.term !== null && also({ ...row, term: row.term })
    ? { ...row, term: row.term }
    : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

describe('pnpm demo', () => {
  it(
    'shows a leader, a handover when it is stopped, a takeover when the next is frozen, and quits leaving no sidecar behind',
    { timeout: 60_000 },
    async () => {
      const socket = `leasehold-demo-${randomUUID().slice(0, 8)}`;
      const dir = mkdtempSync(join(tmpdir(), 'leasehold-demo-'));
      const logDir = join(dir, 'logs');
      const tmux = (...args: string[]): string => {
        const result = spawnSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
        if (result.error !== undefined || result.status !== 0) {
          throw new Error(
            `tmux ${args[0]} failed (is tmux installed?): ${result.error?.message ?? result.stderr}`,
          );
        }
        return result.stdout;
      };
      /** Read the screen until `found` returns something; at most one LEADER on any screen. */
      const waitFor = async <T>(
        what: string,
        withinMs: number,
        found: (rows: Row[], screen: string) => T | undefined,
      ): Promise<T> => {
        const deadline = performance.now() + withinMs;
        for (;;) {
          const screen = tmux('capture-pane', '-p', '-t', 'demo');
          const table = rows(screen);
          expect(table.filter((row) => row.state === 'LEADER').length).toBeLessThanOrEqual(1);
          const result = found(table, screen);
          if (result !== undefined) return result;
          if (performance.now() > deadline) {
            throw new Error(`${what} not seen within ${withinMs} ms; the screen:\n${screen}`);
          }
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      };
      const command = [
        process.execPath,
        'scripts/demo.mjs',
        `--store sqlite://${join(dir, 'demo.db')}`,
        `--log-dir ${logDir}`,
        `--ttl ${TTL_MS}ms`,
        // The shell reports the exit status: tmux's own #{pane_dead_status} is sometimes empty.
        '; echo "demo exited with status $?"',
      ].join(' ');
      /** Every sidecar the demo started, from the demo's own log. */
      const startedPids = (): number[] => {
        let log = '';
        try {
          log = readFileSync(join(logDir, 'demo.log'), 'utf8');
        } catch {
          // The demo did not get as far as starting anything.
        }
        return [...log.matchAll(/ pid (\d+)$/gm)].map(([, pid]) => Number(pid));
      };

      try {
        // remain-on-exit keeps the pane, and the exit status printed in it, after the demo ends.
        tmux(
          '-f',
          '/dev/null',
          'new-session',
          '-d',
          '-s',
          'demo',
          '-x',
          '120',
          '-y',
          '40',
          '-c',
          root,
          command,
          ';',
          'set-option',
          '-w',
          '-t',
          'demo',
          'remain-on-exit',
          'on',
        );

        const first = await waitFor('a leader', 20_000, (table) => {
          const row = leaderRow(table, () => true);
          return row && { ...row, shownPids: table.map((r) => r.pid) };
        });
        const pids = startedPids();
        expect(pids).toHaveLength(3);
        expect(first.shownPids).toEqual(pids);

        // s: the leader stops and releases; another leads under a higher term, long before
        // the lease could have expired.
        tmux('send-keys', '-t', 'demo', 's');
        const second = await waitFor(
          'a new leader after stopping the first',
          10_000,
          (table, text) => {
            if (table.find((row) => row.id === first.id)?.state !== 'stopped') return undefined;
            const row = leaderRow(table, (r) => r.id !== first.id && r.term > first.term);
            const handover =
              row &&
              new RegExp(
                `${row.id} elected leader, term ${row.term} \\((\\d+) ms after you stopped ${first.id}\\)`,
              ).exec(text);
            return handover ? { ...row, handoverMs: Number(handover[1]) } : undefined;
          },
        );
        expect(second.handoverMs).toBeLessThan(TTL_MS);

        // f: the new leader freezes; the remaining one takes over once the lease runs out.
        tmux('send-keys', '-t', 'demo', 'f');
        await waitFor('a third leader after freezing the second', TTL_MS + 10_000, (table) =>
          table.find((row) => row.id === second.id)?.state === 'FROZEN'
            ? leaderRow(
                table,
                (row) => row.id !== first.id && row.id !== second.id && row.term > second.term,
              )
            : undefined,
        );

        // q: the demo stops every sidecar (the frozen one too) and exits 0.
        tmux('send-keys', '-t', 'demo', 'q');
        const exitStatus = await waitFor(
          'the demo exiting',
          10_000,
          (_table, text) => /^demo exited with status (\d+)$/m.exec(text)?.[1],
        );
        expect(exitStatus).toBe('0');
        expect(startedPids().filter(isAlive)).toEqual([]);
      } finally {
        spawnSync('tmux', ['-L', socket, 'kill-server']);
        // Only if the demo failed to clean up: do not leave sidecars running after the test.
        for (const pid of startedPids().filter(isAlive)) {
          process.kill(pid, 'SIGCONT');
          process.kill(pid, 'SIGKILL');
        }
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
