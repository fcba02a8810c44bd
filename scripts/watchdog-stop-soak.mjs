// A soak of one open finding (docs/safety.md, "Findings"): a watchdog that is SIGSTOPped and
// SIGCONTed around its plan's times must still send SIGTERM and SIGKILL. Once in CI and once
// in about 2,100 rounds of this script (2026-12-07), the continued watchdog sent neither and
// sat in bash's `read -t` (pselect) for good, with the command's group left running.
//
//   node scripts/watchdog-stop-soak.mjs [rounds=500] [stopMs=600]   (after pnpm exec tsc -b)
//
// Each round: a watchdog runs a command of four processes (the top one and one child ignore
// SIGTERM); a plan with SIGTERM due in 100 ms and SIGKILL in 200 ms; the watchdog is stopped
// 0-190 ms later and continued `stopMs` after the SIGKILL time. A round hangs when the
// watchdog has not exited 8 s later: its state, strace and gdb backtrace are printed, then it
// and its command are killed. Exits 1 if any round hung.
import { execSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pause } from '@leasehold/testkit';
import { spawnWatchdog } from '../packages/sidecar/dist/run/watched-command.js';
import {
  REPORT_FD,
  planLine,
  watchdogClockMs,
} from '../packages/sidecar/dist/run/watchdog-protocol.js';

const rounds = Number(process.argv[2] ?? 500);
const stopMs = Number(process.argv[3] ?? 600);
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

async function round(i) {
  const file = join(dir, `round-${i}.log`);
  const watchdog = spawnWatchdog(process.execPath, [command, file, '1'], process.env);
  const reports = [];
  createInterface({ input: watchdog.stdio[REPORT_FD] }).on('line', (l) => reports.push(l));
  const closed = new Promise((resolve) => watchdog.once('close', resolve));
  const far = watchdogClockMs() + 60_000;
  watchdog.stdin.write(planLine({ termAt: far, killAt: far + 1_000, term: 1 }));
  for (let t = 0; t < 200 && readLines(file) < 3; t += 1) await pause(50);
  const termAt = watchdogClockMs() + 100;
  watchdog.stdin.write(planLine({ termAt, killAt: termAt + 100 }));
  await pause(Math.floor(Math.random() * 190));
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
        ` timeout 3 strace -tt -p ${pid} 2>&1 | head -8;` +
        ` gdb -p ${pid} -batch -ex bt 2>&1 | grep '^#' | head -8 || true`,
      { stdio: 'inherit', shell: '/bin/bash' },
    );
    // Does a newer plan, as a running sidecar would send, wake it?
    const now = watchdogClockMs();
    watchdog.stdin.write(planLine({ termAt: now, killAt: now }));
    const woken = await Promise.race([closed.then(() => true), pause(3_000).then(() => false)]);
    console.log(`round ${i}: a plan due now ${woken ? 'woke it: it exited' : 'did not wake it'}`);
    execSync(`pkill -KILL -f '[r]ound-${i}.log' || true`);
    signal(pid, 'SIGKILL');
  }
  return outcome;
}

function readLines(file) {
  try {
    return readFileSync(file, 'utf8').split('\n').length - 1;
  } catch {
    return 0;
  }
}

let hung = 0;
for (let i = 0; i < rounds; i += 1) {
  if ((await round(i)) === 'hung') hung += 1;
  if (i % 50 === 49) console.log(`${i + 1} rounds, ${hung} hung`);
}
console.log(`done: ${rounds} rounds, ${hung} hung`);
execSync(`pkill -KILL -f '[${dir[0]}]${dir.slice(1)}' || true`);
rmSync(dir, { recursive: true, force: true });
process.exit(hung > 0 ? 1 : 0);
