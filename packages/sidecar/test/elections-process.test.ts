import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runningWithMarker, until } from '@leasehold/testkit';
import { BIN, SidecarProcesses, storeUrls, type Sidecar } from './helpers/sidecar-processes.js';
import { removeZooKeeperTree } from './helpers/zookeeper-tree.js';

/**
 * Several elections in one sidecar (issue 27), as a user runs them: two sidecar processes
 * taking part in three elections each, on real stores. Each election has exactly one
 * leader; a move of one election (a transfer, a SIGKILL, a resign) leaves the others
 * where they are, terms unchanged; the routes and metrics name each election; a SIGTERM
 * releases every lease at once.
 */

const sqliteDir = mkdtempSync(join(tmpdir(), 'leasehold-elections-'));
afterAll(() => rmSync(sqliteDir, { recursive: true, force: true }));
const zkChroot = `/lhzk-elections-${randomUUID().slice(0, 8)}`;
afterAll(() => removeZooKeeperTree('127.0.0.1:2181', zkChroot));

// Long enough that a loaded machine does not miss renewals (a lease lost to load would
// move an election the test expects to stay); the SIGTERM step still tells a release
// (milliseconds) from an expiry (a whole TTL).
const TTL_MS = 10_000;
const execFileAsync = promisify(execFile);
const TOKEN = 'elections-test-admin-token';
const processes = new SidecarProcesses(TTL_MS);
afterEach(() => {
  processes.killAll();
  return until('no sidecar left running', 10_000, () =>
    runningWithMarker(processes.marker).length === 0 ? true : undefined,
  );
});

const STORES = storeUrls(sqliteDir, zkChroot).filter(([name]) =>
  ['redis', 'sqlite', 'postgres'].includes(name),
);

interface ElectionLine {
  readonly name: string;
  readonly isLeader: boolean;
  readonly leader: string | null;
  readonly term: number | null;
}

async function elections(sidecar: Sidecar): Promise<ElectionLine[]> {
  const response = await fetch(`${sidecar.url}/v1/elections`, {
    signal: AbortSignal.timeout(5_000),
  });
  return ((await response.json()) as { elections: ElectionLine[] }).elections;
}

/**
 * Who leads each election once every one has a leader, asserting at every look that no
 * election has two; by name, the leading sidecar's id and its term.
 */
async function leaders(
  sidecars: readonly Sidecar[],
  names: readonly string[],
  withinMs: number,
  wanted: (led: Map<string, { id: string; term: number }>) => boolean = () => true,
): Promise<Map<string, { id: string; term: number }>> {
  let last = new Map<string, { id: string; term: number }>();
  await until(
    `one leader of each of ${names.join(', ')}`,
    withinMs,
    async () => {
      const answers = await Promise.all(sidecars.map(elections));
      last = new Map();
      for (const name of names) {
        const leading = sidecars.flatMap((sidecar, index) => {
          const line = answers[index]?.find((each) => each.name === name);
          return line?.isLeader === true ? [{ id: sidecar.id, term: line.term ?? -1 }] : [];
        });
        expect(leading.length, `leaders of ${name}`).toBeLessThanOrEqual(1);
        if (leading[0] !== undefined) last.set(name, leading[0]);
      }
      return last.size === names.length && wanted(last) ? true : undefined;
    },
    25,
  );
  return last;
}

/** What the sidecar logged of losing leadership: why an election moved that should not have. */
function deposals(sidecar: Sidecar): string {
  return sidecar.logLines.filter((line) => line.includes('"deposed"')).join('\n');
}

function admin(sidecar: Sidecar, path: string): Promise<Response> {
  return fetch(`${sidecar.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}` },
    signal: AbortSignal.timeout(15_000),
  });
}

describe.each(STORES)('two sidecars of three elections each on %s', (_backend, store) => {
  it(
    'lead each election once, move one election at a time, and release all on SIGTERM',
    // The resign of a to s3 below failed on PostgreSQL in 2 of 4 CI rehearsals and 1 of 27
    // runs of this file under load: s1 resigned while s3, just started, had claimed but not
    // yet LISTENed; s3 heard of the release only at its next grid read (a renew interval),
    // long after s1 took a back at the end of its hold-off (2 retry intervals, 400 ms).
    // Fixed twice over: an elector looks again once its watch is in place (core
    // watch-in-place.test), and a resigner on a grid stands back a heartbeat period and a
    // retry interval (core resign-grid.test). The first fix alone: 0 failures in 25 runs
    // under load.
    { timeout: 120_000 },
    async () => {
      const prefix = `m${randomUUID().slice(0, 8)}`;
      const [a, b, c] = ['a', 'b', 'c'].map((name) => `${prefix}-${name}`) as [
        string,
        string,
        string,
      ];
      const names = [a, b, c];
      const start = (id: string) =>
        processes.start(store, a, id, [
          ...['--election', b, '--election', c],
          ...['--admin-token', TOKEN],
        ]);
      const s1 = await start('s1');
      const before = await leaders([s1], names, 3 * TTL_MS);
      const s2 = await start('s2');

      // A transfer of b (`leasehold transfer --election`) moves b alone: a and c stay with s1
      // under the same terms.
      // Asynchronously: a synchronous spawn would stall this process's event loop past the
      // sidecars' keep-alive timeout, and fetch would then reuse a socket they had closed.
      const transfer = await execFileAsync(
        process.execPath,
        [BIN, 'transfer', 's2', '--url', s1.url, '--election', b, '--admin-token', TOKEN],
        { encoding: 'utf8', timeout: 30_000 },
      );
      expect(transfer.stderr).toBe('');
      expect(transfer.stdout).toMatch(/^leadership transferred from s1 to s2 \(term \d+\)\n$/);
      const moved = await leaders([s1, s2], names, 2 * TTL_MS, (led) => led.get(b)?.id === 's2');
      expect(moved.get(a), deposals(s1)).toEqual(before.get(a));
      expect(moved.get(c), deposals(s1)).toEqual(before.get(c));

      // The routes of each election answer for it; the unprefixed ones for the first.
      const bOnS2 = await (await fetch(`${s2.url}/v1/elections/${b}/is-leader`)).json();
      expect(bOnS2).toEqual({ isLeader: true, term: moved.get(b)?.term });
      expect((await fetch(`${s2.url}/v1/is-leader`)).status).toBe(503);
      expect((await fetch(`${s2.url}/v1/elections/${a}/leader`)).status).toBe(200);
      expect((await fetch(`${s2.url}/v1/elections/${prefix}-z/leader`)).status).toBe(404);
      const metrics = await (await fetch(`${s2.url}/metrics`)).text();
      expect(metrics).toContain(`leasehold_is_leader{election="${b}"} 1`);
      expect(metrics).toContain(`leasehold_is_leader{election="${a}"} 0`);
      expect(metrics).toContain(`leasehold_is_leader{election="${c}"} 0`);

      // SIGKILL of b's leader: b comes back to s1 after its lease; a and c never moved.
      s2.child.kill('SIGKILL');
      const afterKill = await leaders([s1], names, 3 * TTL_MS);
      expect(afterKill.get(a), deposals(s1)).toEqual(before.get(a));
      expect(afterKill.get(c), deposals(s1)).toEqual(before.get(c));

      // A resign of a on s1 moves a alone, to the new s3, once s1 knows s3 as a candidate:
      // a leader that resigns while no other candidate is known (s3's first member record
      // not yet read) takes its election back after the hand-over wait, as it should.
      const s3 = await start('s3');
      await until('s1 knows s3 as a candidate of a', 3 * TTL_MS, async () => {
        const response = await fetch(`${s1.url}/v1/elections/${a}/members`, {
          signal: AbortSignal.timeout(5_000),
        });
        const { members } = (await response.json()) as { members: { id: string }[] };
        return members.some((member) => member.id === 's3') ? true : undefined;
      });
      expect(await (await admin(s1, `/v1/elections/${a}/resign`)).json()).toMatchObject({
        resigned: true,
      });
      const resigned = await leaders([s1, s3], names, 2 * TTL_MS, (led) => led.get(a)?.id === 's3');
      expect(resigned.get(b), deposals(s1)).toEqual(afterKill.get(b));
      expect(resigned.get(c), deposals(s1)).toEqual(afterKill.get(c));

      // SIGTERM releases every lease at once: s3 leads b and c well within one TTL, and s1
      // exits 0.
      s1.child.kill('SIGTERM');
      const released = performance.now();
      await leaders([s3], names, TTL_MS / 2);
      expect(performance.now() - released).toBeLessThan(TTL_MS / 2);
      expect(await s1.exited).toBe(0);
    },
  );
});

/** The TCP connections `pid` holds to `port` on this host, from /proc (its socket inodes). */
function connectionsTo(pid: number, port: number): number {
  const inodes = new Set(
    readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
      try {
        return [/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1] ?? ''];
      } catch {
        return []; // closed meanwhile
      }
    }),
  );
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return ['/proc/net/tcp', '/proc/net/tcp6']
    .flatMap((table) => readFileSync(table, 'utf8').split('\n').slice(1))
    .map((line) => line.trim().split(/\s+/))
    .filter(
      (cols) => cols[2]?.endsWith(`:${hexPort}`) && cols[3] === '01' && inodes.has(cols[9] ?? ''),
    ).length;
}

describe.each([
  ['redis', 6379],
  ['postgres', 5432],
] as const)('a sidecar of several elections on %s', (backend, port) => {
  it('holds as many store connections as a sidecar of one', { timeout: 60_000 }, async () => {
    const store = STORES.find(([name]) => name === backend)?.[1] ?? '';
    const prefix = `c${randomUUID().slice(0, 8)}`;
    const names = [1, 2, 3, 4, 5].map((n) => `${prefix}-${n}`);
    const one = await processes.start(store, `${prefix}-solo`, 'one');
    const five = await processes.start(store, names[0] ?? '', 'five', [
      ...names.slice(1).flatMap((name) => ['--election', name]),
    ]);
    await leaders([one], [`${prefix}-solo`], 3 * TTL_MS);
    await leaders([five], names, 3 * TTL_MS);
    const count = (sidecar: Sidecar) => connectionsTo(sidecar.child.pid ?? 0, port);
    expect(count(one)).toBeGreaterThan(0);
    expect(count(five)).toBe(count(one));
  });
});

describe('a sidecar of a hundred elections on redis', () => {
  it('releases every lease at once on SIGTERM, and exits 0', { timeout: 90_000 }, async () => {
    const store = STORES.find(([name]) => name === 'redis')?.[1] ?? '';
    const prefix = `h${randomUUID().slice(0, 8)}`;
    const names = Array.from({ length: 100 }, (_, n) => `${prefix}-${n}`);
    const env = names.join(',');
    const first = await processes.start(store, env, 'first');
    await leaders([first], names, 6 * TTL_MS);
    const second = await processes.start(store, env, 'second');
    await until('second is a candidate in every election', 20_000, async () => {
      const response = await fetch(`${second.url}/readyz`);
      return response.status === 200 ? true : undefined;
    });
    first.child.kill('SIGTERM');
    const released = performance.now();
    await leaders([second], names, TTL_MS / 2);
    expect(performance.now() - released).toBeLessThan(TTL_MS / 2);
    expect(await first.exited).toBe(0);
  });
});

describe('leasehold drain --all-elections on redis', () => {
  const cli = (args: readonly string[]) =>
    execFileAsync(process.execPath, [BIN, ...args, '--admin-token', TOKEN], {
      encoding: 'utf8',
      timeout: 60_000,
    }).catch((error: { code?: number; stdout?: string; stderr?: string }) => ({
      code: error.code,
      stdout: error.stdout ?? '',
      stderr: error.stderr ?? '',
    }));

  it(
    'hands every election the host leads over, and undrains them all',
    { timeout: 120_000 },
    async () => {
      const store = STORES.find(([name]) => name === 'redis')?.[1] ?? '';
      const prefix = `d${randomUUID().slice(0, 8)}`;
      const names = [1, 2, 3, 4].map((n) => `${prefix}-${n}`);
      const start = (id: string) =>
        processes.start(store, names.join(','), id, ['--admin-token', TOKEN]);
      const s1 = await start('s1');
      await leaders([s1], names, 3 * TTL_MS);
      const s2 = await start('s2');
      await until('s2 a candidate in every election', 20_000, async () =>
        (await fetch(`${s2.url}/readyz`)).status === 200 ? true : undefined,
      );

      const both = await cli([
        'drain',
        '--url',
        s1.url,
        '--all-elections',
        '--election',
        names[0] ?? '',
      ]);
      expect(both).toMatchObject({ code: 2, stdout: '' });
      expect(both.stderr).toMatch(
        /^leasehold: invalid election \(flag --election\): .*not both\n$/,
      );

      const drained = await cli(['drain', '--url', s1.url, '--all-elections']);
      expect(drained.stderr).toBe('');
      const lines = drained.stdout.trim().split('\n');
      expect(lines.slice(0, -1).sort()).toEqual(
        names.map((name) =>
          expect.stringMatching(
            new RegExp(`^${name}: drained: leadership handed over to s2 \\(term \\d+\\)$`),
          ),
        ),
      );
      expect(lines.at(-1)).toBe('drained 4 of 4 elections, 4 handed over or resigned');
      const led = await leaders([s1, s2], names, TTL_MS);
      expect([...led.values()].map((l) => l.id)).toEqual(['s2', 's2', 's2', 's2']);

      const undrained = await cli(['undrain', '--url', s1.url, '--all-elections']);
      expect(undrained).toMatchObject({ stderr: '', stdout: 'undrained 4 of 4 elections\n' });
      const answers = await elections(s1);
      expect(answers.map((e) => e.name).sort()).toEqual([...names].sort());
    },
  );
});

describe('many elections in one sidecar', () => {
  it('starts 120 elections in waves of 50 and leads them all; a SIGTERM in the middle of the waves exits 0', async () => {
    // All at once, a thousand first claims on one connection timed out and were handed back
    // again and again (etcd: none of 1,000 led after 3 minutes; bench/RESULTS.md).
    const [, store] = STORES.find(([name]) => name === 'redis') ?? [];
    if (store === undefined) throw new Error('no Redis store');
    const prefix = `w${randomUUID().slice(0, 8)}`;
    const [first = '', ...rest] = Array.from({ length: 120 }, (_, i) => `${prefix}-${i}`);
    const more = rest.flatMap((name) => ['--election', name]);
    const leader = await processes.start(store, first, 'w1', more);
    await until('w1 leads all 120', 30_000, async () =>
      (await elections(leader)).every((e) => e.isLeader),
    );
    const stopped = await processes.start(store, first, 'w2', more);
    stopped.child.kill('SIGTERM');
    expect(await stopped.exited).toBe(0);
    expect((await elections(leader)).filter((e) => e.isLeader)).toHaveLength(120);
  }, 60_000);
});
