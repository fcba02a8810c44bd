// A soak of a finding (docs/safety.md, "Findings"): a watchdog that is SIGSTOPped and
// SIGCONTed around its plan's times must still send SIGTERM and SIGKILL. Once in CI and once
// in about 2,100 rounds of this script (2026-12-07), the continued watchdog sent neither: it
// had been stopped while it read the plan's line, its `read -t` ran out within the line, and
// bash handed back the part read with its space trimmed off, or the whole line, its newline
// taken, as timed out: the plan was lost (fixed since; docs/safety.md, "Findings").
//
//   node scripts/watchdog-stop-soak.mjs [rounds=500] [stopMs=600] [maxOffsetMs=190] [parallel=1]
//   (after pnpm exec tsc -b)
//
// Each round: a watchdog runs a command of four processes (the top one and one child ignore
// SIGTERM); a plan with SIGTERM due in 100 ms and SIGKILL in 200 ms; the watchdog is stopped
// 0-maxOffsetMs later and continued `stopMs` after the SIGKILL time. maxOffsetMs 0 stops it
// 0-SOAK_SPIN_MS (default 0.3) ms after the plan is written, while it may be reading the line:
// the stop that found the cause. `parallel` rounds run at once. SOAK_WATCHDOG=<file> runs
// another watchdog script (an older one, say) in place of src/run/watchdog.bash. A round
// hangs when the watchdog has not exited 8 s later: its state, strace, variables and gdb
// backtrace are printed, then it and its command are killed. Exits 1 if any round hung.
import { execSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg as osLoadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pause } from '@leasehold/testkit';
import {
  parentDeathLauncher,
  spawnWatchdog,
  watchdogShellOrProblem,
} from '../packages/sidecar/dist/run/watched-command.js';
import {
  REPORT_FD,
  planLine,
  watchdogClockMs,
} from '../packages/sidecar/dist/run/watchdog-protocol.js';

const rounds = Number(process.argv[2] ?? 500);
const stopMs = Number(process.argv[3] ?? 600);
const maxOffsetMs = Number(process.argv[4] ?? 190);
const parallel = Number(process.argv[5] ?? 1);
const spinMs = Number(process.env.SOAK_SPIN_MS ?? 0.3);
const script = process.env.SOAK_WATCHDOG;

// spawnWatchdog's start, with another watchdog script (SOAK_WATCHDOG) when one is given.
function startWatchdog(command, args, env) {
  if (script === undefined) return spawnWatchdog(command, args, env);
  const argv = ['--norc', '--noprofile', '-p', script, ...parentDeathLauncher(), command, ...args];
  const stdio = ['pipe', 'inherit', 'inherit', 'pipe', 0];
  return spawn(watchdogShellOrProblem(), argv, { env, stdio, detached: true });
}
const dir = mkdtempSync(join(tmpdir(), 'lh-wdstop-'));
const command = join(dir, 'command.cjs');
writeFileSync(
  command,
  `const { spawn } = require('node:child_process');
   const [file, stubborn, depth = '0'] = process.argv.slice(2);
   if (depth === '0') for (const s of ['0', '1']) spawn(process.execPath, [__filename, file, s, '1'], { stdio: 'ignore' });
   process.on('SIGTERM', () => { if (stubborn !== '1') process.exit(0); });
   require('node:fs').appendFileSync(file, 'pid\\n');
   setInterval(() => {}, 1000);`,
);

const signal = (pid, name) => {
  try {
    process.kill(pid, name);
  } catch {
    // Gone already: the round goes on, and is judged by whether the watchdog exits.
  }
};

// The watchdog's variables, read from the hung bash by gdb.
const NAMES = ['now', 'term_at', 'kill_at', 'term_sent', 'kill_sent', 'seconds', 'line', 'partial'];
const VARS = NAMES.map((n) => `${n}=[%s]`).join(' ');
const GETS = NAMES.map((n) => `(char*)get_string_value("${n}")`).join(', ');

async function round(i) {
  const file = join(dir, `round-${i}.log`);
  const watchdog = startWatchdog(process.execPath, [command, file, '1'], process.env);
  const reports = [];
  createInterface({ input: watchdog.stdio[REPORT_FD] }).on('line', (l) => reports.push(l));
  const closed = new Promise((resolve) => watchdog.once('close', resolve));
  const far = watchdogClockMs() + 60_000;
  watchdog.stdin.write(planLine({ termAt: far, killAt: far + 1_000, term: 1 }));
  for (let t = 0; t < 200 && readLines(file) < 3; t += 1) await pause(50);
  const termAt = watchdogClockMs() + 100;
  watchdog.stdin.write(planLine({ termAt, killAt: termAt + 100 }));
  if (maxOffsetMs > 0) await pause(Math.floor(Math.random() * maxOffsetMs));
  else spin(Math.random() * spinMs);
  signal(watchdog.pid, 'SIGSTOP');
  while (watchdogClockMs() < termAt + 100 + stopMs) await pause(10);
  signal(watchdog.pid, 'SIGCONT');
  const outcome = await Promise.race([
    closed.then(() => 'exited'),
    pause(8_000).then(() => 'hung'),
  ]);
  if (outcome === 'hung') {
    console.log(`round ${i}: HUNG, reports ${JSON.stringify(reports)}`);
    const pid = watchdog.pid;
    execSync(
      `grep -E 'State|SigBlk|SigPnd' /proc/${pid}/status; cat /proc/${pid}/wchan; echo;` +
        ` timeout 2 strace -tt -e trace=pselect6,read -p ${pid} 2>&1 | head -12;` +
        ` gdb -p ${pid} -batch -ex bt -ex 'printf "VARS ${VARS}\\n", ${GETS}' 2>&1 |` +
        ` grep -E '^#[0-4] |^VARS|rror'; cat /proc/uptime || true`,
      { stdio: 'inherit', shell: '/bin/bash' },
    );
    // Does a newer plan, as a running sidecar would send, wake it?
    const now = watchdogClockMs();
    watchdog.stdin.write(planLine({ termAt: now, killAt: now }));
    const woken = await Promise.race([closed.then(() => true), pause(3_000).then(() => false)]);
    console.log(`round ${i}: a plan due now ${woken ? 'woke it: it exited' : 'did not wake it'}`);
    signal(pid, 'SIGKILL');
    killGroup(reports);
  }
  return outcome;
}

// The command's process group, by the pid the watchdog reported.
function killGroup(reports) {
  for (const line of reports) {
    const { event, pid } = JSON.parse(line);
    if (event === 'started') signal(-pid, 'SIGKILL');
  }
}

const loadavg = () =>
  osLoadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

function spin(ms) {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

function readLines(file) {
  try {
    return readFileSync(file, 'utf8').split('\n').length - 1;
  } catch {
    return 0;
  }
}

let hung = 0;
let next = 0;
let done = 0;
async function worker() {
  while (next < rounds) {
    const i = next++;
    if ((await round(i)) === 'hung') hung += 1;
    done += 1;
    if (done % 50 === 0) console.log(`${done} rounds, ${hung} hung (load ${loadavg()})`);
  }
}
await Promise.all(Array.from({ length: parallel }, worker));
console.log(`done: ${rounds} rounds, ${hung} hung`);
// A round's group is gone once its watchdog exited; a hung round's was killed above.
rmSync(dir, { recursive: true, force: true });
process.exit(hung > 0 ? 1 : 0);
