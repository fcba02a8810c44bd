import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { leftRunning, until } from '@leasehold/testkit';
import {
  BIN,
  SidecarProcesses,
  loggedLine,
  oneLeader,
  storeUrls,
} from './helpers/sidecar-processes.js';
import { removeZooKeeperTree } from './helpers/zookeeper-tree.js';

const sqliteDir = mkdtempSync(join(tmpdir(), 'leasehold-proc-'));
afterAll(() => rmSync(sqliteDir, { recursive: true, force: true }));
// ZooKeeper keeps an election's (empty) parent znodes: under a chroot of this file's own.
const zkChroot = `/lhzk-proc-${randomUUID().slice(0, 8)}`;
afterAll(() => removeZooKeeperTree('127.0.0.1:2181', zkChroot));

const BACKENDS = storeUrls(sqliteDir, zkChroot);

const TTL_MS = 2_000;
const processes = new SidecarProcesses(TTL_MS);
afterEach(() => processes.killAll());

const start = (store: string, election: string, id: string) => processes.start(store, election, id);

describe.each(BACKENDS)('three sidecar processes on %s', (_backend, store) => {
  it(
    'report one leader, hand over on SIGTERM, take over after SIGKILL, and a resumed SIGSTOPped leader answers 503 first',
    { timeout: 60_000 },
    async () => {
      const election = `proc-${randomUUID().slice(0, 8)}`;
      const sidecars = await Promise.all(
        ['s1', 's2', 's3'].map((id) => start(store, election, id)),
      );

      // SIGTERM: the leader releases; another leads within milliseconds, the old one exits 0.
      const first = await oneLeader(sidecars, 10_000);
      first.child.kill('SIGTERM');
      const rest = sidecars.filter((s) => s !== first);
      const handoverStarted = performance.now();
      const second = await oneLeader(rest, 2_000);
      expect(performance.now() - handoverStarted).toBeLessThan(2_000);
      expect(await first.exited).toBe(0);

      // SIGKILL: no release; the survivor takes over after the lease runs out.
      second.child.kill('SIGKILL');
      const survivor = rest.filter((s) => s !== second);
      const restarted = await start(store, election, first.id);
      const third = await oneLeader([...survivor, restarted], TTL_MS + 3_000);

      // SIGSTOP: another takes over; on SIGCONT the first answer is already 503.
      third.child.kill('SIGSTOP');
      const others = [...survivor, restarted].filter((s) => s !== third);
      await oneLeader(others, TTL_MS + 3_000);
      const firstAnswer = fetch(`${third.url}/v1/is-leader`, {
        signal: AbortSignal.timeout(5_000),
      });
      third.child.kill('SIGCONT');
      expect((await firstAnswer).status).toBe(503);
    },
  );
});

describe('shutdown while the store does not answer', () => {
  // Accepts connections and never answers: every store call hangs until its own timeout,
  // so a clean shutdown takes a while and the signal handling can be watched.
  let silentStore: Server;
  const connections: Socket[] = [];
  let storeUrl = '';
  beforeAll(async () => {
    silentStore = createServer((socket) => {
      connections.push(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => silentStore.listen(0, '127.0.0.1', resolve));
    const address = silentStore.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    storeUrl = `redis://127.0.0.1:${address.port}`;
  });
  afterAll(() => {
    for (const socket of connections) socket.destroy();
    silentStore.close();
  });

  it('shuts down within its grace period even when the store never answers', async () => {
    // Every step of the shutdown gets what is left of the grace (the release would wait
    // 5 s for this store otherwise, and the process would exit 1 at the end of its grace).
    const sidecar = await processes.start(storeUrl, 'stuck', 'stuck', ['--shutdown-grace', '1s']);
    const signalledAt = performance.now();
    sidecar.child.kill('SIGTERM');
    expect(await sidecar.exited).toBe(0);
    expect(performance.now() - signalledAt).toBeLessThan(1_500);
    await loggedLine(sidecar, /"msg":"stopped"/, 1_000);
    expect(sidecar.logLines.join('\n')).not.toMatch(/longer than the grace period/);
  });
});

describe('the leasehold command', () => {
  it.each([
    [
      ['--ttl', 'soon'],
      'leasehold: invalid ttl (flag --ttl): "soon"; a duration such as 10s or 500ms (at least 1s)',
    ],
    [
      ['--ttl', '10s', '--renew-interval', '6s'],
      'leasehold: invalid renew-interval (flag --renew-interval): "6s"; must be at least 10 ms and less than ttl / 2 (5000 ms)',
    ],
    [
      ['--store', 'redis://u:hunter2@127.0.0.1:1/0?bogus=1'],
      'leasehold: invalid store parameter bogus',
    ],
  ])('exits 2 with one line for %j', (args, line) => {
    const result = spawnSync(process.execPath, [BIN, ...args, '--port', '0'], {
      encoding: 'utf8',
      env: { ...process.env, LEASEHOLD_STORE: `sqlite://${join(sqliteDir, 'x.db')}` },
      timeout: 20_000,
    });
    expect(result.status).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(line);
    expect(result.stderr).not.toContain('hunter2');
  });

  it(
    'takes one signal delivered twice at once (npm start forwards what it gets) as one',
    { timeout: 30_000 },
    async () => {
      const sidecar = await start(BACKENDS[0][1], `twice-${randomUUID().slice(0, 8)}`, 'twice');
      await oneLeader([sidecar], 10_000);
      sidecar.child.kill('SIGINT');
      sidecar.child.kill('SIGINT');
      // A clean shutdown (0), not the second signal's exit at once (130).
      expect(await sidecar.exited).toBe(0);
      expect(sidecar.logLines.join('\n')).not.toContain('second signal');
    },
  );

  it('prints the effective configuration with secrets masked', () => {
    const result = spawnSync(
      process.execPath,
      [
        BIN,
        'config',
        '--store',
        'redis://app:hunter2@cache:6379',
        '--admin-token',
        'secret-token-0123456789',
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('store: redis://app:***@cache:6379');
    expect(result.stdout).toContain('adminToken: "***"');
    expect(result.stdout).not.toContain('hunter2');
    expect(result.stdout).not.toContain('secret-token');
  });

  it('prints --help and --version', () => {
    const help = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('serve');
    expect(help.stdout).toContain('status');
    const version = spawnSync(process.execPath, [BIN, '--version'], { encoding: 'utf8' });
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('summarises a running sidecar with `leasehold status`', { timeout: 40_000 }, async () => {
    const election = `status-${randomUUID().slice(0, 8)}`;
    const sidecar = await start(BACKENDS[0][1], election, 'solo');
    await oneLeader([sidecar], 10_000);
    const status = () =>
      spawnSync(process.execPath, [BIN, 'status', '--url', sidecar.url], {
        encoding: 'utf8',
        timeout: 20_000,
      });
    const result = status();
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/leader\s+solo\s+← this instance/);
    expect(result.stdout).toMatch(/store\s+healthy/);
    expect(result.stdout).toMatch(/^members\s+solo \(priority 0, leader\)$/m);
    expect(result.stdout).toMatch(/^history\s+\S/m);
    await start(BACKENDS[0][1], election, 'second');
    await until('two members', 10_000, async () => {
      const answer = await fetch(`${sidecar.url}/v1/members`);
      return ((await answer.json()) as { members: unknown[] }).members.length === 2;
    });
    const members = status()
      .stdout.split('\n')
      .filter((line) => /\(priority 0/.test(line));
    expect(members.map((line) => line.replace(/^(members)?\s+/, '').split(' ')[0]).sort()).toEqual([
      'second',
      'solo',
    ]);
  });
});

describe('leasehold run', () => {
  // The default command grace (5 s) does not fit a 2 s lease.
  const RUN_ARGS = ['--command-grace', '500ms'];
  // Once the sidecars are killed, their watchdogs and commands must be gone too.
  afterEach(async () => {
    processes.killAll();
    expect(await leftRunning(processes.marker)).toEqual([]);
  });

  it('exits at once on a second signal, and its command with it', { timeout: 60_000 }, async () => {
    // The clean shutdown waits out the command's whole 20 s grace (it ignores SIGTERM), so
    // the second signal lands inside it however slow this machine is. (A store that does
    // not answer made it last about a second: at load 17 the second signal came too late.)
    // The command says when it ignores SIGTERM: a SIGTERM sent between its start and its
    // `trap` ended it (CI: "bash exited (SIGTERM)" 31 ms later, and the sidecar exited 0).
    const trapped = join(sqliteDir, `second-signal-${randomUUID()}.trapped`);
    const sidecar = await processes.start(
      `sqlite://${join(sqliteDir, 'second-signal.db')}`,
      'second-signal',
      'patient',
      ['--ttl', '60s', '--command-grace', '20s', '--shutdown-grace', '30s'],
      ['bash', '-c', 'trap "" TERM; : > "$0"; while :; do sleep 1; done', trapped],
    );
    await loggedLine(sidecar, /"event":"command-started"/, 15_000);
    await until('the command ignores SIGTERM', 15_000, () =>
      existsSync(trapped) ? true : undefined,
    );
    const firstAt = performance.now();
    sidecar.child.kill('SIGTERM');
    await loggedLine(sidecar, /shutting down/, 5_000);
    // A person's second Ctrl-C, not one signal delivered twice (see the test of that).
    await until(
      'performance.now() - firstAt > 600',
      1_000,
      () => performance.now() - firstAt > 600,
    );
    const secondAt = performance.now();
    sidecar.child.kill('SIGTERM');
    expect(await sidecar.exited).toBe(143);
    // At once: not after the command's 20 s grace.
    expect(performance.now() - secondAt).toBeLessThan(2_000);
    await loggedLine(sidecar, /second signal: exiting at once/, 1_000);
    // Its pipe closed, the watchdog kills the command's group (afterEach checks the tree).
  });
  // The command: logs its start (with the term it was given), its SIGTERM and its exit to a
  // shared file; the candidate named second exits by itself once the file named third
  // exists; after SIGTERM it takes the fourth argument's milliseconds to exit.
  const commandScript = `
    const { appendFileSync, existsSync } = require('node:fs');
    const [file, exitsId, exitWhenExists, stopMs = '0'] = process.argv.slice(1);
    const id = process.env.LEASEHOLD_ID;
    const log = (entry) => appendFileSync(file, JSON.stringify({ ...entry, id, at: Date.now() }) + '\\n');
    log({ event: 'start', term: process.env.LEASEHOLD_TERM });
    process.on('SIGTERM', () => {
      log({ event: 'sigterm' });
      if (exitsId !== 'stubborn') setTimeout(() => { log({ event: 'exit' }); process.exit(0); }, Number(stopMs));
    });
    if (id === exitsId) setInterval(() => {
      if (existsSync(exitWhenExists)) { log({ event: 'exit' }); process.exit(3); }
    }, 20);
    setInterval(() => {}, 1000);
  `;
  interface CommandEvent {
    readonly event: 'start' | 'sigterm' | 'exit';
    readonly id: string;
    readonly at: number;
    readonly term?: string;
  }
  const events = (file: string): CommandEvent[] => {
    try {
      return readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as CommandEvent);
    } catch {
      return [];
    }
  };
  async function eventsUntil(
    file: string,
    done: (all: CommandEvent[]) => boolean,
    withinMs: number,
  ): Promise<CommandEvent[]> {
    const deadline = performance.now() + withinMs;
    for (;;) {
      const all = events(file);
      if (done(all)) return all;
      if (performance.now() > deadline)
        throw new Error(`not within ${withinMs} ms: ${JSON.stringify(all)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  const starts = (all: CommandEvent[]) => all.filter((e) => e.event === 'start');

  it(
    'runs the command on the leader only, and stops it before another starts on SIGTERM',
    { timeout: 30_000 },
    async () => {
      const file = join(sqliteDir, `run-${randomUUID().slice(0, 8)}.log`);
      const election = `run-${randomUUID().slice(0, 8)}`;
      const command = [process.execPath, '-e', commandScript, file, 'nobody', ''];
      const [a, b] = await Promise.all(
        ['a', 'b'].map((id) => processes.start(BACKENDS[0][1], election, id, RUN_ARGS, command)),
      );
      const [first] = starts(await eventsUntil(file, (all) => starts(all).length === 1, 10_000));
      const leader = [a, b].find((s) => s?.id === first?.id);
      if (leader === undefined || first === undefined) throw new Error('no leader');
      leader.child.kill('SIGTERM');
      const all = await eventsUntil(file, (e) => starts(e).length === 2, 5_000);
      expect(await leader.exited).toBe(0);
      const stopped = all.find((e) => e.event === 'sigterm' && e.id === first.id);
      const second = starts(all)[1];
      expect(second?.id).not.toBe(first.id);
      // Never two at once: the first command had its SIGTERM before the next one started.
      expect(stopped?.at).toBeLessThanOrEqual(second?.at ?? 0);
      expect(BigInt(second?.term ?? 0)).toBeGreaterThan(BigInt(first.term ?? 0));
    },
  );

  it(
    'resigns when the command exits, so another instance runs it',
    { timeout: 30_000 },
    async () => {
      const file = join(sqliteDir, `run-${randomUUID().slice(0, 8)}.log`);
      const election = `run-${randomUUID().slice(0, 8)}`;
      const exitNow = `${file}.exit`;
      const command = [process.execPath, '-e', commandScript, file, 'a', exitNow];
      const a = await processes.start(BACKENDS[0][1], election, 'a', RUN_ARGS, command);
      await eventsUntil(file, (all) => starts(all).length === 1, 10_000);
      const b = await processes.start(BACKENDS[0][1], election, 'b', RUN_ARGS, command);
      // Only once b competes: alone, a would simply be elected again after resigning.
      await until('b to see a lead', 10_000, async () => {
        const body = (await (await fetch(`${b.url}/v1/leader`)).json()) as {
          leader: string | null;
        };
        return body.leader === 'a';
      });
      writeFileSync(exitNow, '');
      const all = await eventsUntil(file, (e) => starts(e).some((s) => s.id === 'b'), 10_000);
      expect(all.map((e) => `${e.event} ${e.id}`).slice(0, 3)).toEqual([
        'start a',
        'exit a',
        'start b',
      ]);
      // a resigned but keeps running as a candidate.
      expect(a.child.exitCode).toBeNull();
    },
  );

  it(
    'kills a command that ignores SIGTERM after the command grace',
    { timeout: 30_000 },
    async () => {
      const file = join(sqliteDir, `run-${randomUUID().slice(0, 8)}.log`);
      const command = [process.execPath, '-e', commandScript, file, 'stubborn', ''];
      const sidecar = await processes.start(
        BACKENDS[0][1],
        `run-${randomUUID().slice(0, 8)}`,
        'a',
        ['--command-grace', '300ms'],
        command,
      );
      const [started] = starts(await eventsUntil(file, (all) => starts(all).length === 1, 10_000));
      sidecar.child.kill('SIGTERM');
      const all = await eventsUntil(file, (e) => e.some((x) => x.event === 'sigterm'), 5_000);
      expect(await sidecar.exited).toBe(0);
      await loggedLine(sidecar, /did not exit within 300 ms of SIGTERM: SIGKILL/, 1_000);
      const pid = Number(JSON.parse((await loggedLine(sidecar, /command-started/, 0)) ?? '{}').pid);
      expect(() => process.kill(pid, 0)).toThrow();
      expect(all.filter((e) => e.event === 'start')).toEqual([started]);
    },
  );

  it('exits 2 when the command grace does not fit in the shutdown grace', () => {
    const result = spawnSync(
      process.execPath,
      [BIN, 'run', '--store', BACKENDS[0][1], '--command-grace', '20s', '--', process.execPath],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(result.status).toBe(2);
    expect(result.stderr.trim()).toBe(
      'leasehold: invalid command-grace (flag --command-grace): "20s"; must be below the shutdown grace (10s, the default)',
    );
  });

  it(
    'fits the command grace into a short lease when none is set, and logs it',
    { timeout: 30_000 },
    async () => {
      const file = join(sqliteDir, `run-${randomUUID().slice(0, 8)}.log`);
      const command = [process.execPath, '-e', commandScript, file, '', ''];
      const sidecar = await processes.start(
        BACKENDS[0][1],
        `run-${randomUUID().slice(0, 8)}`,
        'a',
        ['--ttl', '3s'],
        command,
      );
      await eventsUntil(file, (all) => starts(all).length === 1, 10_000);
      // 3 s × 0.99 − 20 ms − 1 s renewal interval − 500 ms.
      expect(await loggedLine(sidecar, /"event":"command-grace"/, 1_000)).toContain(
        '"commandGraceMs":1450',
      );
    },
  );

  it.each([
    [
      ['--ttl', '10s', '--command-grace', '9s'],
      {},
      '--command-grace 9s does not fit --ttl 10s: a lease renewed every 3333 ms leaves the command at most 6047 ms',
    ],
    [
      ['--ttl', '10s', '--renew-interval', '4.9s'],
      { LEASEHOLD_COMMAND_GRACE: '5s' },
      'LEASEHOLD_COMMAND_GRACE=5s does not fit --ttl 10s and --renew-interval 4.9s: a lease renewed every 4900 ms leaves the command at most 4480 ms',
    ],
  ])(
    'exits 2 naming both values when the command grace does not fit in the lease: %j %j',
    (args, env, line) => {
      const result = spawnSync(
        process.execPath,
        [BIN, 'run', '--store', BACKENDS[0][1], ...args, '--', process.execPath],
        { encoding: 'utf8', timeout: 20_000, env: { ...process.env, ...env } },
      );
      expect(result.status).toBe(2);
      const lines = result.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`leasehold: ${line}`);
      expect(lines[0]).toMatch(/use a shorter command grace or a longer ttl$/);
    },
  );

  it(
    'starts the command on the default SQLite store, where the election is won during start-up',
    { timeout: 30_000 },
    async () => {
      const cwd = mkdtempSync(join(sqliteDir, 'default-'));
      const file = join(cwd, 'events.log');
      const child = spawn(
        process.execPath,
        [BIN, 'run', '--port', '0', ...RUN_ARGS, '--', process.execPath, '-e', commandScript, file],
        {
          cwd,
          stdio: ['ignore', 'pipe', 'ignore'],
          env: {
            ...process.env,
            LEASEHOLD_TTL: '2s',
            LHTEST_MARK: processes.marker.split('=')[1],
          },
        },
      );
      const exited = new Promise((resolve) => child.once('exit', resolve));
      let listening = false;
      if (child.stdout !== null) {
        createInterface({ input: child.stdout }).on('line', (line) => {
          listening ||= line.includes('"url"');
        });
      }
      try {
        const [first] = starts(await eventsUntil(file, (all) => starts(all).length === 1, 10_000));
        expect(first?.term).toBe('1');
        // Stopped the way a running sidecar is: its signal handlers are set once it listens.
        await until('listening', 10_000, () => listening);
      } finally {
        child.kill('SIGTERM');
      }
      expect(await exited).toBe(0);
      expect(events(file).map((e) => e.event)).toEqual(['start', 'sigterm', 'exit']);
    },
  );

  it(
    'resigns over HTTP only after the command has exited: the next leader starts it after that',
    { timeout: 30_000 },
    async () => {
      const file = join(sqliteDir, `run-${randomUUID().slice(0, 8)}.log`);
      const election = `run-${randomUUID().slice(0, 8)}`;
      const token = 'lhrn-admin-token-0123456789';
      // The command takes 400 ms to exit after SIGTERM.
      const command = [process.execPath, '-e', commandScript, file, 'nobody', '', '400'];
      const args = [...RUN_ARGS, '--admin-token', token];
      const a = await processes.start(BACKENDS[0][1], election, 'a', args, command);
      await eventsUntil(file, (all) => starts(all).length === 1, 10_000);
      const b = await processes.start(BACKENDS[0][1], election, 'b', args, command);
      await until('b to see a lead', 10_000, async () => {
        const body = (await (await fetch(`${b.url}/v1/leader`)).json()) as { leader: unknown };
        return body.leader === 'a';
      });
      const response = await fetch(`${a.url}/v1/resign`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
      expect(await response.json()).toEqual({ resigned: true, lease: 'released' });
      const all = await eventsUntil(file, (e) => starts(e).some((x) => x.id === 'b'), 10_000);
      expect(all.map((e) => `${e.event} ${e.id}`)).toEqual([
        'start a',
        'sigterm a',
        'exit a',
        'start b',
      ]);
      const exitA = all.find((e) => e.event === 'exit' && e.id === 'a');
      const startB = all.find((e) => e.event === 'start' && e.id === 'b');
      expect(startB?.at).toBeGreaterThanOrEqual(exitA?.at ?? Infinity);
    },
  );

  it(
    'starts its watchdog whatever the start-up files of its user do, as under a service manager',
    { timeout: 30_000 },
    async () => {
      // Started by systemd or as a container's first process there is no SHLVL, and bash
      // reads ~/.bashrc for `bash -c` when its stdin is a socket; BASH_ENV is read by every
      // non-interactive bash. Start-up files that answer for bash must not be asked.
      const home = mkdtempSync(join(sqliteDir, 'home-'));
      const answerForBash = 'echo 3; exit 0\n';
      writeFileSync(join(home, '.bashrc'), answerForBash);
      writeFileSync(join(home, 'bash-env'), answerForBash);
      const env = { ...process.env };
      delete env.SHLVL;
      const file = join(sqliteDir, `run-${randomUUID().slice(0, 8)}.log`);
      const election = `run-${randomUUID().slice(0, 8)}`;
      const command = [process.execPath, '-e', commandScript, file, 'nobody', ''];
      await processes.start(BACKENDS[0][1], election, 'a', RUN_ARGS, command, {
        ...env,
        HOME: home,
        BASH_ENV: join(home, 'bash-env'),
      });
      const [started] = starts(await eventsUntil(file, (all) => starts(all).length === 1, 10_000));
      expect(started?.id).toBe('a');
    },
  );

  it('exits 2 with one line when the command does not exist', () => {
    const result = spawnSync(
      process.execPath,
      [BIN, 'run', '--store', BACKENDS[0][1], '--', 'no-such-command-here'],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(result.status).toBe(2);
    expect(result.stderr.trim()).toBe(
      'leasehold: invalid command: "no-such-command-here"; an executable file, by path or on PATH',
    );
  });

  it('exits 1 with one line when there is no bash for the watchdog', () => {
    // The command by its path, so that a PATH without bash finds it all the same.
    const result = spawnSync(
      process.execPath,
      [BIN, 'run', '--store', BACKENDS[0][1], '--', process.execPath],
      { encoding: 'utf8', timeout: 20_000, env: { ...process.env, PATH: '/nonexistent' } },
    );
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe(
      "leasehold: the watchdog of leasehold run needs bash 4 or later on PATH and Linux's /proc: no bash found",
    );
  });
});
