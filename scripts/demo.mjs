// `pnpm demo`: three leasehold sidecars compete for one lease; a live view shows who leads,
// and single keys stop, kill or freeze the leader so a person can watch another take over.
// Run `node scripts/demo.mjs --help` for flags and keys. Needs the sidecar's dist/ (pnpm build).
import { maskUrl } from '@leasehold/adapters';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { createInterface, emitKeypressEvents } from 'node:readline';
import { parseArgs } from 'node:util';

const root = resolve(new URL('..', import.meta.url).pathname);
const SIDECAR = join(root, 'packages/sidecar/bin/leasehold.js');

const FRAME_MS = 200;
// Well under a frame: a frozen sidecar must show "no answer" without stalling the view.
const POLL_TIMEOUT_MS = 300;
const CHANGES_SHOWN = 8;
const STOP_GRACE_MS = 3_000;

const HELP = `Usage: pnpm demo [options]
       node scripts/demo.mjs [options]

Starts three leasehold sidecars (demo-1, demo-2, demo-3) in one election and
shows, live, which one leads. Stop, kill or freeze the leader and watch another
take over.

Options:
  --store <url>      store to elect on; default sqlite://.leasehold/demo.db
                     (this host only), or redis://127.0.0.1:6379, postgres://…,
                     etcd://…, zk://127.0.0.1:2181
  --ttl <duration>   lease time to live, default 3s: a frozen or killed leader
                     is replaced after at most this long
  --election <name>  election name, default demo-<random>
  --log-dir <dir>    where each sidecar's log and demo.log (what happened) go,
                     default .leasehold/demo-logs
  -h, --help         show this help

Keys:
  s      stop the leader (SIGTERM): it releases the lease on its way out,
         another leads within milliseconds
  k      kill the leader (SIGKILL): no release, another leads once the
         lease expires
  f      freeze the leader (SIGSTOP): it can neither renew nor answer,
         another leads once the lease expires
  r      resume every frozen sidecar, restart every stopped one
  1 2 3  stop that sidecar, or restart / resume it if stopped / frozen
  q      quit (Ctrl-C too), stopping all three sidecars
`;

// `pnpm demo -- --ttl 5s` passes the "--" on; npm strips it. Accept both.
const args = process.argv.slice(2);
if (args[0] === '--') args.shift();
let options;
try {
  options = parseArgs({
    args,
    options: {
      store: { type: 'string', default: `sqlite://${join(root, '.leasehold/demo.db')}` },
      ttl: { type: 'string', default: '3s' },
      election: { type: 'string', default: `demo-${randomBytes(3).toString('hex')}` },
      'log-dir': { type: 'string', default: join(root, '.leasehold/demo-logs') },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values;
} catch (error) {
  process.stderr.write(`demo: ${error.message}\n\n${HELP}`);
  process.exit(2);
}
if (options.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

const logDir = resolve(options['log-dir']);
mkdirSync(logDir, { recursive: true });
const demoLog = join(logDir, 'demo.log');
writeFileSync(demoLog, '');

const tty = process.stdout.isTTY === true;
const ansi = (code) => (tty ? code : '');
const style = {
  bold: (text) => `${ansi('\x1b[1m')}${text}${ansi('\x1b[22m')}`,
  dim: (text) => `${ansi('\x1b[2m')}${text}${ansi('\x1b[22m')}`,
  green: (text) => `${ansi('\x1b[1;32m')}${text}${ansi('\x1b[0m')}`,
  cyan: (text) => `${ansi('\x1b[1;36m')}${text}${ansi('\x1b[0m')}`,
  yellow: (text) => `${ansi('\x1b[33m')}${text}${ansi('\x1b[0m')}`,
};

/** @typedef {{time: number, text: string}} Change */
/** @type {Change[]} */
const changes = [];
/** What the last key did; until the first key, a hint about what to press. */
let statusLine = null;
/** Tell the person what just happened (the view's bottom line, or a line of output). */
function say(text) {
  statusLine = text;
  if (!tty) process.stdout.write(`${text}\n`);
}

/** The last action aimed at a leader, so the next election can say how long the takeover took. */
let pendingTakeover = null;

function clock(time) {
  const date = new Date(time);
  const pad = (n, width = 2) => String(n).padStart(width, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

function note(text, time = Date.now()) {
  changes.push({ time, text });
  if (changes.length > CHANGES_SHOWN) changes.shift();
  appendFileSync(demoLog, `${new Date(time).toISOString()} ${text}\n`);
  // Without a terminal to redraw, the story is told line by line.
  if (!tty) process.stdout.write(`${clock(time)}  ${text}\n`);
}

/** A path as a person would type it from here. */
function shown(path) {
  const fromHere = relative(process.cwd(), path);
  return fromHere.startsWith('..') ? path : fromHere;
}

const candidates = [1, 2, 3].map((slot) => ({
  slot,
  id: `demo-${slot}`,
  /** @type {import('node:child_process').ChildProcess | null} */
  child: null,
  /** @type {Promise<void>} */
  exited: Promise.resolve(),
  url: null,
  /** starting | running | stopping | stopped */
  phase: 'stopped',
  frozen: false,
  /** The last GET /v1/leader body, or null when the last poll got no answer. */
  answer: null,
  polling: false,
  /** Bumped on every start, freeze and resume, so a poll sent before one is discarded. */
  epoch: 0,
  ended: '',
  lastStderr: '',
  log: createWriteStream(join(logDir, `demo-${slot}.log`)),
}));

function start(c) {
  const child = spawn(
    process.execPath,
    [
      SIDECAR,
      '--store',
      options.store,
      '--election',
      options.election,
      '--id',
      c.id,
      '--port',
      '0',
      '--ttl',
      options.ttl,
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  Object.assign(c, { child, url: null, phase: 'starting', frozen: false, answer: null });
  c.epoch += 1;
  c.exited = new Promise((done) => child.once('exit', () => done()));
  appendFileSync(demoLog, `${new Date().toISOString()} started ${c.id}, pid ${child.pid}\n`);

  createInterface({ input: child.stdout }).on('line', (line) => {
    c.log.write(`${line}\n`);
    onSidecarLine(c, child, line);
  });
  createInterface({ input: child.stderr }).on('line', (line) => {
    c.log.write(`${line}\n`);
    c.lastStderr = line;
  });
  child.once('exit', (code, signal) => {
    if (c.child !== child) return;
    const listening = c.url !== null;
    Object.assign(c, { phase: 'stopped', frozen: false, answer: null, url: null });
    c.ended = signal === null ? `exit ${code}` : signal;
    appendFileSync(demoLog, `${new Date().toISOString()} ${c.id} ended: ${c.ended}\n`);
    // Exit code 2 is a bad flag or store URL: the other two would fail the same way.
    if (!listening && code === 2) {
      void quit(2, `${c.id} could not start: ${c.lastStderr}`);
    }
  });
}

function onSidecarLine(c, child, line) {
  let entry;
  try {
    entry = JSON.parse(line);
  } catch {
    return;
  }
  if (typeof entry.url === 'string' && c.child === child) c.url = entry.url;
  if (entry.event === 'elected') {
    let took = '';
    if (pendingTakeover !== null && entry.time >= pendingTakeover.time) {
      took = ` (${entry.time - pendingTakeover.time} ms after ${pendingTakeover.what})`;
      pendingTakeover = null;
    }
    note(`${c.id} elected leader, term ${entry.term}${took}`, entry.time);
  } else if (entry.event === 'deposed') {
    note(`${c.id} no longer leader (term ${entry.term}): ${entry.reason}`, entry.time);
  }
}

async function poll(c) {
  if (c.polling || c.url === null || c.phase === 'stopped') return;
  c.polling = true;
  const epoch = c.epoch;
  let answer = null;
  try {
    const response = await fetch(`${c.url}/v1/leader`, {
      signal: AbortSignal.timeout(POLL_TIMEOUT_MS),
    });
    answer = await response.json();
  } catch {
    // No answer in time: frozen, busy or gone. The view says so.
  } finally {
    c.polling = false;
  }
  if (c.epoch !== epoch) return;
  c.answer = answer;
  // "starting" lasts until the first answer: a sidecar that has just bound its port can be
  // too busy to answer the first poll in time.
  if (answer !== null && c.phase === 'starting') c.phase = 'running';
}

/** The candidate that last said it leads, if it is still running and not frozen. */
function leader() {
  return candidates.find((c) => c.phase === 'running' && !c.frozen && c.answer?.isLeader);
}

function act(verb, signal, c, wasLeader) {
  const time = Date.now();
  c.child.kill(signal);
  const what = `you ${verb} ${c.id}`;
  note(`${what} (${signal})`, time);
  pendingTakeover = wasLeader ? { time, what } : pendingTakeover;
}

function stop(c) {
  const wasLeader = c === leader();
  c.phase = 'stopping';
  act('stopped', 'SIGTERM', c, wasLeader);
  say(
    wasLeader
      ? `${c.id} releases the lease as it stops: the others take over at once`
      : `${c.id} stops`,
  );
}

function kill(c) {
  act('killed', 'SIGKILL', c, true);
  say(`${c.id} died holding the lease: the others wait for it to expire (--ttl ${options.ttl})`);
}

function freeze(c) {
  act('froze', 'SIGSTOP', c, true);
  Object.assign(c, { frozen: true, answer: null });
  c.epoch += 1;
  say(`${c.id} is frozen and cannot renew: the others take over when the lease expires`);
}

function resume(c) {
  c.child.kill('SIGCONT');
  note(`you resumed ${c.id} (SIGCONT)`);
  c.frozen = false;
  c.epoch += 1;
  say(`${c.id} resumed: it checks its own deadline first, so it never claims an expired lease`);
}

function restart(c) {
  note(`you restarted ${c.id}`);
  start(c);
  say(`${c.id} restarts and joins as a follower`);
}

function onLeaderKey(action) {
  const current = leader();
  if (current === undefined) {
    say('no sidecar leads right now: wait for one to be elected');
    return;
  }
  action(current);
}

function onKey(text, key) {
  if (quitting !== null) return;
  if ((key?.ctrl && key.name === 'c') || text === 'q') {
    void quit(0);
    return;
  }
  if (text === 's') onLeaderKey(stop);
  else if (text === 'k') onLeaderKey(kill);
  else if (text === 'f') onLeaderKey(freeze);
  else if (text === 'r') {
    const idle = candidates.filter((c) => c.frozen || c.phase === 'stopped');
    for (const c of idle) (c.frozen ? resume : restart)(c);
    if (idle.length === 0) say('nothing is stopped or frozen');
    else if (idle.length > 1) say(`${idle.map((c) => c.id).join(' and ')} rejoin as followers`);
  } else if (['1', '2', '3'].includes(text)) {
    const c = candidates[Number(text) - 1];
    if (c.frozen) resume(c);
    else if (c.phase === 'stopped') restart(c);
    else if (c.phase === 'stopping') say(`${c.id} is already stopping`);
    else stop(c);
  }
}

// ---- the view ----

const COLUMNS = [
  { title: '#', width: 1 },
  { title: 'id', width: 6 },
  { title: 'pid', width: 7 },
  { title: 'state', width: 9 },
  { title: 'term', width: 4, right: true },
  { title: 'lease ms', width: 8, right: true },
  { title: 'sees leader', width: 11 },
  { title: 'store', width: 5 },
  { title: 'detail', width: 0 },
];

function row(cells, styleState = (text) => text) {
  return cells
    .map((cell, i) => {
      const { width, right } = COLUMNS[i];
      const text = right ? cell.padStart(width) : cell.padEnd(width);
      return i === 3 ? styleState(text) : text;
    })
    .join('  ')
    .trimEnd();
}

function candidateRow(c) {
  const a = c.answer;
  const pid = c.child === null ? '-' : String(c.child.pid);
  const cells = (state, rest) => [String(c.slot), c.id, pid, state, ...rest];
  if (c.phase === 'stopped') return row(cells('stopped', ['-', '-', '-', '-', c.ended]), style.dim);
  if (c.frozen) return row(cells('FROZEN', ['-', '-', '-', '-', 'no answer']), style.cyan);
  if (c.phase === 'starting') return row(cells('starting', ['-', '-', '-', '-', '']));
  if (a === null) {
    const state = c.phase === 'stopping' ? 'stopping' : 'no answer';
    return row(cells(state, ['-', '-', '-', '-', '']), style.yellow);
  }
  const state = c.phase === 'stopping' ? 'stopping' : a.isLeader ? 'LEADER' : 'follower';
  const rest = [
    a.term === null ? '-' : String(a.term),
    a.isLeader ? String(a.leaseRemainingMs) : '-',
    a.leader ?? '(none)',
    a.store.healthy ? 'ok' : 'DOWN',
    a.store.healthy ? '' : (a.store.error?.message ?? ''),
  ];
  return row(cells(state, rest), a.isLeader ? style.green : undefined);
}

/** Cut a line to the terminal width, counting only visible characters. */
function fit(line, width) {
  let room = width;
  const take = (text) => {
    const kept = text.slice(0, Math.max(0, room));
    room -= kept.length;
    return kept;
  };
  const [plain, ...styled] = line.split('\x1b');
  let out = take(plain);
  for (const part of styled) {
    // Every escape in the view is a colour (SGR) sequence, which ends with "m".
    const end = part.indexOf('m') + 1;
    out += `\x1b${part.slice(0, end)}${take(part.slice(end))}`;
  }
  return out;
}

function frame() {
  const lines = [
    `${style.bold('leasehold demo')}   election ${options.election}   ttl ${options.ttl}`,
    style.dim(`store ${maskUrl(options.store)}`),
    '',
    style.dim(row(COLUMNS.map((column) => column.title))),
    ...candidates.map(candidateRow),
    '',
    style.bold('what happened'),
    ...changes.map((change) => `${style.dim(clock(change.time))}  ${change.text}`),
    ...Array(CHANGES_SHOWN - changes.length).fill(''),
    '',
    `keys  ${style.bold('s')} stop leader  ${style.bold('k')} kill leader  ${style.bold('f')} freeze leader  ${style.bold('r')} resume/restart all`,
    `      ${style.bold('1 2 3')} stop / start / resume one   ${style.bold('q')} quit`,
    '',
    `> ${statusLine ?? hint()}`,
    style.dim(`logs in ${shown(logDir)}/`),
  ];
  const width = process.stdout.columns ?? 80;
  // Overwrite in place and clear each line's tail instead of clearing the screen: no flicker.
  return `\x1b[H${lines.map((line) => `${fit(line, width)}\x1b[K`).join('\n')}\x1b[J`;
}

function hint() {
  const current = leader();
  return current === undefined
    ? 'waiting for a leader…'
    : `${current.id} leads: press s, k or f to stop, kill or freeze it`;
}

function render() {
  if (tty) process.stdout.write(frame());
}

function tick() {
  for (const c of candidates) void poll(c);
  render();
}

// ---- terminal and shutdown ----

let terminalTaken = false;

function takeTerminal() {
  if (tty) {
    // Alternate screen: the user's scrollback is back untouched when the demo ends.
    process.stdout.write('\x1b[?1049h\x1b[?25l\x1b[2J');
    terminalTaken = true;
  }
  emitKeypressEvents(process.stdin);
  if (process.stdin.isTTY) process.stdin.setRawMode(true);
  process.stdin.on('keypress', onKey);
  process.stdin.resume();
}

function restoreTerminal() {
  if (process.stdin.isTTY) process.stdin.setRawMode(false);
  process.stdin.pause();
  if (terminalTaken) process.stdout.write('\x1b[?25h\x1b[?1049l');
  terminalTaken = false;
}

/** @type {Promise<void> | null} */
let quitting = null;
let ticker;

function quit(exitCode, message) {
  quitting ??= (async () => {
    clearInterval(ticker);
    note('quitting: stopping every sidecar');
    statusLine = 'stopping the sidecars…';
    render();
    const running = candidates.filter((c) => c.child !== null && c.phase !== 'stopped');
    for (const c of running) {
      // A SIGSTOPped process keeps a SIGTERM pending until it is continued.
      if (c.frozen) c.child.kill('SIGCONT');
      c.child.kill('SIGTERM');
    }
    const allExited = Promise.all(running.map((c) => c.exited));
    const graceOver = new Promise((done) => setTimeout(done, STOP_GRACE_MS).unref());
    await Promise.race([allExited, graceOver]);
    for (const c of running) if (c.phase !== 'stopped') c.child.kill('SIGKILL');
    await allExited;
    restoreTerminal();
    if (message !== undefined) process.stderr.write(`demo: ${message}\n`);
    process.stdout.write(`demo over; what happened is in ${shown(demoLog)}\n`);
    process.exit(exitCode);
  })();
  return quitting;
}

// The last line of defence when exiting by any other path: no sidecar outlives the demo.
process.on('exit', () => {
  for (const c of candidates) {
    if (c.child !== null && c.child.exitCode === null && c.child.signalCode === null) {
      c.child.kill('SIGCONT');
      c.child.kill('SIGKILL');
    }
  }
  restoreTerminal();
});
process.on('SIGINT', () => void quit(0));
process.on('SIGTERM', () => void quit(143));
process.on('SIGHUP', () => void quit(129));
process.on('uncaughtException', (error) => void quit(1, error.stack ?? String(error)));
process.on('unhandledRejection', (error) => void quit(1, String(error?.stack ?? error)));
// A closed terminal (SIGHUP) makes writes fail; shutdown must still reach the sidecars.
process.stdout.on('error', () => {});

takeTerminal();
for (const c of candidates) start(c);
ticker = setInterval(tick, FRAME_MS);
tick();
