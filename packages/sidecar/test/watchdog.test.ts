import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { WATCHDOG_SCRIPT, WatchedCommand, spawnWatchdog } from '../src/run/watched-command.js';
import {
  REPORT_FD,
  planLine,
  watchdogClockMs,
  type StopPlan,
  type WatchdogReport,
} from '../src/run/watchdog-protocol.js';
import { leftRunning, running, until } from '@leasehold/testkit';

/**
 * The watchdog process on its own, driven the way the sidecar drives it: plans on its
 * stdin, reports on fd 3. The command under it records its pid, its children's pids and
 * each SIGTERM (with the time on the watchdog's clock, /proc/uptime) in a file.
 */

const dir = mkdtempSync(join(tmpdir(), 'lhrn-watchdog-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * argv: <file> <stubborn: 1 to ignore SIGTERM>. Starts two children in its group, one of
 * which ignores SIGTERM and starts a grandchild of its own; all record their pids.
 */
const COMMAND = `
  const { spawn } = require('node:child_process');
  const { appendFileSync } = require('node:fs');
  const [file, stubborn, depth = '0'] = process.argv.slice(2);
  const { readFileSync } = require('node:fs');
  const now = () => Math.round(Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1000);
  const log = (line) => appendFileSync(file, line + '\\n');
  if (depth === '0') {
    for (const childStubborn of ['0', '1'])
      spawn(process.execPath, [__filename, file, childStubborn, '1'], { stdio: 'ignore' });
  } else if (depth === '1' && stubborn === '1') {
    spawn(process.execPath, [__filename, file, '1', '2'], { stdio: 'ignore' });
  }
  process.on('SIGTERM', () => {
    log('term ' + depth + ' ' + now());
    if (stubborn !== '1') process.exit(0);
  });
  log('pid ' + depth + ' ' + process.pid);
  if (depth === '0') log('leasehold-term ' + process.env.LEASEHOLD_TERM);
  setInterval(() => {}, 1000);
`;

const commandFile = join(dir, 'command.cjs');
writeFileSync(commandFile, COMMAND);

interface Recorded {
  readonly pids: number[];
  /** Host monotonic times at which the top command got SIGTERM. */
  readonly terms: number[];
}

function recorded(file: string): Recorded {
  let lines: string[] = [];
  try {
    lines = readFileSync(file, 'utf8').trim().split('\n');
  } catch {
    // Not written yet.
  }
  const fields = lines.map((line) => line.split(' '));
  return {
    pids: fields.filter((f) => f[0] === 'pid').map((f) => Number(f[2])),
    terms: fields.filter((f) => f[0] === 'term' && f[1] === '0').map((f) => Number(f[2])),
  };
}

interface Watchdog {
  readonly child: ChildProcess;
  readonly file: string;
  readonly reports: WatchdogReport[];
  readonly exited: Promise<number | null>;
  send(plan: StopPlan): void;
}

/** In the environment of every process these tests start, and so of their descendants. */
const MARKER = `LHRN_WATCHDOG_TEST=${process.pid}`;
const env = { ...process.env, LHRN_WATCHDOG_TEST: String(process.pid) };
const watchdogs: ChildProcess[] = [];
afterEach(async () => {
  for (const child of watchdogs.splice(0)) child.kill('SIGKILL');
  // A test must not leave anything running: fail it, after cleaning up for the next one.
  expect(await leftRunning(MARKER)).toEqual([]);
});

let nextFile = 0;
function startWatchdog(stubborn: boolean, firstPlan: StopPlan): Watchdog {
  const file = join(dir, `command-${nextFile++}.log`);
  const child = spawnWatchdog(process.execPath, [commandFile, file, stubborn ? '1' : '0'], env);
  watchdogs.push(child);
  const reports: WatchdogReport[] = [];
  createInterface({ input: child.stdio[REPORT_FD] as Readable }).on('line', (line) =>
    reports.push(JSON.parse(line) as WatchdogReport),
  );
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  const send = (plan: StopPlan): void => {
    child.stdin?.write(planLine(plan));
  };
  child.stdin?.write(planLine({ ...firstPlan, term: 1 }));
  return { child, file, reports, exited, send };
}

/** A plan far enough ahead that nothing is signalled during the test unless it says so. */
const later = (): StopPlan => ({
  termAt: watchdogClockMs() + 60_000,
  killAt: watchdogClockMs() + 61_000,
});

/** Wait for the command and its three descendants to have started; returns their pids. */
async function groupStarted(watchdog: Watchdog): Promise<number[]> {
  await until(
    'recorded(watchdog.file).pids.length === 4',
    10_000,
    () => recorded(watchdog.file).pids.length === 4,
  );
  const { pids } = recorded(watchdog.file);
  expect(running(pids)).toEqual(pids);
  return pids;
}

describe('the watchdog', () => {
  it('kills the whole group at once when the pipe from the sidecar closes', async () => {
    const watchdog = startWatchdog(true, later());
    const pids = await groupStarted(watchdog);
    const closedAt = performance.now();
    watchdog.child.stdin?.end();
    expect(await watchdog.exited).toBe(0);
    const tookMs = performance.now() - closedAt;
    expect(running(pids)).toEqual([]);
    expect(tookMs).toBeLessThan(1_000);
    expect(watchdog.reports).toContainEqual({
      event: 'signalled',
      signal: 'SIGKILL',
      why: 'sidecar-gone',
      lateMs: 0,
    });
  });

  it('sends SIGTERM, then SIGKILL, when the last plan comes due without a newer one', async () => {
    const watchdog = startWatchdog(true, later());
    const pids = await groupStarted(watchdog);
    const termAt = watchdogClockMs() + 300;
    const killAt = termAt + 400;
    watchdog.send({ termAt, killAt });
    expect(await watchdog.exited).toBe(0);
    const goneAt = watchdogClockMs();
    const [term] = recorded(watchdog.file).terms;
    // Never before its time (that would stop a healthy leader's command), and promptly.
    expect(term).toBeGreaterThanOrEqual(termAt);
    expect(term).toBeLessThan(termAt + 300);
    expect(goneAt).toBeGreaterThanOrEqual(killAt);
    expect(goneAt).toBeLessThan(killAt + 1_000);
    expect(running(pids)).toEqual([]);
    expect(watchdog.reports.map((r) => r.event)).toEqual([
      'started',
      'signalled',
      'signalled',
      'exited',
    ]);
  });

  it('reports how late its signals went out, as when the host held it back past their time', async () => {
    const watchdog = startWatchdog(true, later());
    await groupStarted(watchdog);
    // A plan whose times passed 700 and 600 ms ago: what a watchdog finds when the host let
    // it run again only then.
    const now = watchdogClockMs();
    watchdog.send({ termAt: now - 700, killAt: now - 600 });
    expect(await watchdog.exited).toBe(0);
    const signalled = watchdog.reports.filter(
      (r): r is Extract<WatchdogReport, { event: 'signalled' }> => r.event === 'signalled',
    );
    expect(signalled.map((r) => r.signal)).toEqual(['SIGTERM', 'SIGKILL']);
    const [term, kill] = signalled.map((r) => r.lateMs);
    expect(term).toBeGreaterThanOrEqual(700 - 20); // the clock counts in 10 ms steps
    expect(kill).toBeGreaterThanOrEqual(600 - 20);
    expect(kill).toBeLessThan(10_000);
  });

  // A plan line the watchdog had begun to read when its wait ran out (it was SIGSTOPped or
  // starved mid-line): bash's `read -t` hands back the part it read, and the rest comes with
  // the next read. Split at the space, the default IFS trimmed that space off the piece, the
  // joined line "<termAt><killAt>" was no plan, and the watchdog kept the older plan: it
  // signalled nothing (docs/safety.md, "Findings"). Its wait is at most 250 ms, so the rest
  // of the line is sent once 750 ms have passed on its clock.
  it.each([
    ['just after the space', (termAt: number, killAt: number) => [`${termAt} `, `${killAt}\n`]],
    ['just before the space', (termAt: number, killAt: number) => [`${termAt}`, ` ${killAt}\n`]],
  ])('takes a plan line split %s across a wait that ran out', async (_where, pieces) => {
    const watchdog = startWatchdog(false, later());
    const pids = await groupStarted(watchdog);
    const termAt = watchdogClockMs();
    const [head = '', tail = ''] = pieces(termAt, termAt + 300);
    try {
      watchdog.child.stdin?.write(head);
      await until(
        '750 ms passed on the watchdog clock',
        5_000,
        () => watchdogClockMs() >= termAt + 750,
      );
      watchdog.child.stdin?.write(tail);
      await until('the plan due now was carried out', 5_000, () =>
        watchdog.reports.some((r) => r.event === 'signalled'),
      );
      expect(await watchdog.exited).toBe(0);
      expect(watchdog.reports[1]).toMatchObject({
        event: 'signalled',
        signal: 'SIGTERM',
        why: 'plan',
      });
      expect(running(pids)).toEqual([]);
    } finally {
      // A watchdog that missed the plan leaves the command's group running.
      const started = watchdog.reports.find((r) => r.event === 'started');
      if (started?.event === 'started' && running(pids).length > 0) {
        process.kill(-started.pid, 'SIGKILL');
      }
    }
  });

  it('takes every plan queued while it was stopped before it signals by any', async () => {
    // A watchdog held back (SIGSTOP here) finds the sidecar's lines queued: a plan that has
    // come due and the renewal sent after it. The renewal is the one in force.
    const watchdog = startWatchdog(true, later());
    const pids = await groupStarted(watchdog);
    watchdog.child.kill('SIGSTOP');
    const due = watchdogClockMs();
    watchdog.send({ termAt: due, killAt: due + 100 });
    watchdog.send(later());
    watchdog.child.kill('SIGCONT');
    // Then a plan due soon: its SIGTERM must be the first signal.
    const termAt = watchdogClockMs() + 300;
    watchdog.send({ termAt, killAt: termAt + 300 });
    expect(await watchdog.exited).toBe(0);
    const [term] = recorded(watchdog.file).terms;
    expect(term).toBeGreaterThanOrEqual(termAt);
    expect(running(pids)).toEqual([]);
  });

  it('keeps the command running while newer plans push the deadline later', async () => {
    const watchdog = startWatchdog(false, later());
    const pids = await groupStarted(watchdog);
    const firstTermAt = watchdogClockMs() + 300;
    let lastTermAt = firstTermAt;
    watchdog.send({ termAt: firstTermAt, killAt: firstTermAt + 500 });
    // Renewals: every 100 ms the deadline moves 300 ms ahead, for a second.
    while (watchdogClockMs() < firstTermAt + 700) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      lastTermAt = watchdogClockMs() + 300;
      watchdog.send({ termAt: lastTermAt, killAt: lastTermAt + 500 });
    }
    expect(recorded(watchdog.file).terms).toEqual([]);
    expect(running(pids)).toEqual(pids);
    // The renewals stop: the last plan is carried out.
    expect(await watchdog.exited).toBe(0);
    const [term] = recorded(watchdog.file).terms;
    expect(term).toBeGreaterThanOrEqual(lastTermAt);
    expect(running(pids)).toEqual([]);
  });

  it('does not start a command whose first plan has already run out', async () => {
    const past = watchdogClockMs() - 1;
    const watchdog = startWatchdog(false, { termAt: past, killAt: past });
    expect(await watchdog.exited).toBe(0);
    expect(watchdog.reports).toEqual([
      { event: 'failed', message: 'the lease ran out before the command could start' },
    ]);
    expect(recorded(watchdog.file).pids).toEqual([]);
  });

  it('starts by the newest plan already in its pipe, not by a start order that ran out', async () => {
    // A watchdog slow to start (a busy host) finds renewals queued behind its start order.
    const past = watchdogClockMs() - 1;
    const child = spawnWatchdog(process.execPath, [commandFile, join(dir, 'queued.log'), '0'], env);
    watchdogs.push(child);
    const reports: WatchdogReport[] = [];
    createInterface({ input: child.stdio[REPORT_FD] as Readable }).on('line', (line) =>
      reports.push(JSON.parse(line) as WatchdogReport),
    );
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    child.stdin?.write(`${planLine({ termAt: past, killAt: past, term: 1 })}${planLine(later())}`);
    await until(`reports.some((r) => r.event === 'started')`, 10_000, () =>
      reports.some((r) => r.event === 'started'),
    );
    expect(reports.map((r) => r.event)).not.toContain('failed');
    // Stopped by a plan, group and all: a SIGKILL of the watchdog alone (afterEach) takes
    // only the command's top process along (its parent-death signal), not the children it
    // may have started by then (CI, Node 22: four left running).
    const now = watchdogClockMs();
    child.stdin?.write(planLine({ termAt: now, killAt: now }));
    expect(await exited).toBe(0);
  });

  it('ignores SIGINT, SIGTERM and SIGHUP sent to itself: the sidecar decides', async () => {
    const watchdog = startWatchdog(false, later());
    const pids = await groupStarted(watchdog);
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) watchdog.child.kill(signal);
    expect(recorded(watchdog.file).terms).toEqual([]);
    // Signals are delivered before the watchdog reads on: it is still there to stop the
    // command by the plan, and exits by itself, not by a signal.
    const termAt = watchdogClockMs();
    watchdog.send({ termAt, killAt: termAt + 300 });
    expect(await watchdog.exited).toBe(0);
    expect(watchdog.child.signalCode).toBeNull();
    expect(recorded(watchdog.file).terms).toHaveLength(1);
    expect(running(pids)).toEqual([]);
  });

  it('exits without starting anything when the sidecar is gone before the start order', async () => {
    const child = spawnWatchdog(process.execPath, [commandFile, join(dir, 'never.log'), '0'], env);
    watchdogs.push(child);
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    child.stdin?.end();
    expect(await exited).toBe(0);
    expect(recorded(join(dir, 'never.log')).pids).toEqual([]);
  });

  it('leaves the command the default action of SIGTERM, and reports how it ended', async () => {
    // The watchdog itself shrugs SIGTERM off; a command that sets no handler must not.
    const sleeper = spawnWatchdog('sleep', ['60'], env);
    watchdogs.push(sleeper);
    const reports: WatchdogReport[] = [];
    createInterface({ input: sleeper.stdio[REPORT_FD] as Readable }).on('line', (line) =>
      reports.push(JSON.parse(line) as WatchdogReport),
    );
    const now = watchdogClockMs();
    sleeper.stdin?.write(planLine({ termAt: now + 200, killAt: now + 30_000, term: 1 }));
    await until('the sleeper exited', 10_000, () => reports.find((r) => r.event === 'exited'));
    expect(reports.map((r) => r.event)).toEqual(['started', 'signalled', 'exited']);
    expect(reports.at(-1)).toEqual({ event: 'exited', code: null, signal: 'SIGTERM' });

    const failing = spawnWatchdog('sh', ['-c', 'exit 3'], env);
    watchdogs.push(failing);
    const failed: WatchdogReport[] = [];
    createInterface({ input: failing.stdio[REPORT_FD] as Readable }).on('line', (line) =>
      failed.push(JSON.parse(line) as WatchdogReport),
    );
    failing.stdin?.write(planLine({ ...later(), term: 1 }));
    await until('the failing command exited', 10_000, () =>
      failed.find((r) => r.event === 'exited'),
    );
    expect(failed.at(-1)).toEqual({ event: 'exited', code: 3, signal: null });
  });
});

/**
 * The watchdog's `wait_seconds` alone, in a bash that defines it from the script and sets
 * the watchdog's state: how long the main loop waits for input before it looks again.
 */
function waitSeconds(state: Record<string, number>): string {
  const script = readFileSync(WATCHDOG_SCRIPT, 'utf8');
  const definition = /^wait_seconds\(\) \{\n[\s\S]*?\n\}\n/m.exec(script)?.[0];
  if (definition === undefined) throw new Error('watchdog.bash has no wait_seconds()');
  const constants = 'RUNNING_POLL_MS=250 STOPPING_POLL_MS=20';
  const assignments = Object.entries(state).map(([name, value]) => `${name}=${value}`);
  const program = `${constants} ${assignments.join(' ')}\n${definition}wait_seconds; echo "$seconds"`;
  return execFileSync('bash', ['-c', program], { encoding: 'utf8' }).trim();
}

describe('how long the watchdog waits between looks', () => {
  const base = { now: 100_000, term_sent: 0, kill_sent: 0, exited: 0 };

  it('waits until the next signal is due, at most one poll', () => {
    expect(waitSeconds({ ...base, term_at: 100_100, kill_at: 101_000 })).toBe('0.100');
    expect(waitSeconds({ ...base, term_at: 160_000, kill_at: 161_000 })).toBe('0.250');
  });

  it('polls the group every 20 ms, never 0, after a SIGKILL whose SIGTERM was never sent', () => {
    // The sidecar died before the plan's TERM time (a SIGKILL at once, no SIGTERM after
    // it): once the TERM time had passed, the wait came out 0 and the loop spun until the
    // group was gone ("expected '0.000' to be '0.020'" before).
    const killedAtOnce = { ...base, kill_sent: 1, term_at: 99_000, kill_at: 99_500 };
    expect(waitSeconds(killedAtOnce)).toBe('0.020');
    expect(waitSeconds({ ...killedAtOnce, kill_at: 130_000 })).toBe('0.020');
  });
});

describe("the sidecar's side", () => {
  it('starts the command on begin(), with the term', async () => {
    const file = join(dir, 'begin.log');
    const watched = new WatchedCommand({
      command: process.execPath,
      args: [commandFile, file, '0'],
      env,
    });
    const reports: WatchdogReport[] = [];
    watched.begin(
      { ...later(), term: 42 },
      { onReport: (report) => reports.push(report), onWatchdogDied: () => {} },
    );
    await until('recorded(file).pids.length === 3', 10_000, () => recorded(file).pids.length === 3);
    expect(readFileSync(file, 'utf8')).toContain('leasehold-term 42\n');
    const now = watchdogClockMs();
    watched.plan({ termAt: now, killAt: now + 300 });
    await watched.gone;
    const events = reports.map((r) => r.event);
    // SIGTERM, then the top command's exit and the SIGKILL for its stubborn child in either
    // order: on a busy host the exit may be seen only after the SIGKILL's time (1 run in ~19).
    expect(events.slice(0, 2)).toEqual(['started', 'signalled']);
    expect(events.slice(2).sort()).toEqual(['exited', 'signalled']);
    expect(running(recorded(file).pids)).toEqual([]);
  });

  it('kills the group itself when the watchdog dies', async () => {
    const file = join(dir, 'watched.log');
    const reports: WatchdogReport[] = [];
    const died: string[] = [];
    const watched = new WatchedCommand({
      command: process.execPath,
      args: [commandFile, file, '1'],
      env,
    });
    watched.begin(
      { ...later(), term: 1 },
      {
        onReport: (report) => reports.push(report),
        onWatchdogDied: (how) => died.push(how),
      },
    );
    await until('recorded(file).pids.length === 4', 10_000, () => recorded(file).pids.length === 4);
    const { pids } = recorded(file);
    process.kill(watched.watchdogPid, 'SIGKILL');
    await watched.gone;
    expect(died).toEqual(['SIGKILL']);
    expect(running(pids)).toEqual([]);
  });
});
