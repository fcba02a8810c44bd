import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { leftRunning, until } from '@leasehold/testkit';
import {
  BIN,
  SidecarProcesses,
  isLeader,
  storeUrls,
  type Sidecar,
} from './helpers/sidecar-processes.js';
import { removeZooKeeperTree } from './helpers/zookeeper-tree.js';

/**
 * Steering leadership through the sidecar (issue 26): POST /v1/transfer, /v1/drain and
 * /v1/undrain on the real listener, `leasehold transfer|drain|undrain` as a user runs them,
 * --standby and --app-health-command, on a real store (SQLite), with what /v1/leader,
 * /v1/members and /metrics show.
 */

const dir = mkdtempSync(join(tmpdir(), 'leasehold-steering-'));
const zkChroot = `/lhsc-steer-${randomUUID().slice(0, 8)}`;
const TOKEN = 'steering-test-token-0123456789';
const tokenFile = join(dir, 'admin-token');
writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
const store = `sqlite://${join(dir, 'leases.db')}`;
const sidecars = new SidecarProcesses(4_000);
const ADMIN = ['--admin-token-file', tokenFile];

afterEach(async () => {
  sidecars.killAll();
  await until('nothing left running', 10_000, async () =>
    (await leftRunning(sidecars.marker)).length === 0 ? true : undefined,
  );
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await removeZooKeeperTree('127.0.0.1:2181', zkChroot);
});

/** `leasehold <args>` as a user runs it: exit code, stdout, stderr. */
function leasehold(
  args: readonly string[],
): Promise<{ code: number | null; out: string; err: string }> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('LEASEHOLD_')),
  );
  const child = spawn(process.execPath, [BIN, ...args], { env: clean });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, out, err })));
}

const portOf = (sidecar: Sidecar) => new URL(sidecar.url).port;

async function post(sidecar: Sidecar, path: string, body: object = {}) {
  const response = await fetch(`${sidecar.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function getJson(sidecar: Sidecar, path: string): Promise<Record<string, unknown>> {
  return (await (await fetch(`${sidecar.url}${path}`)).json()) as Record<string, unknown>;
}

async function metric(sidecar: Sidecar, series: string): Promise<number | undefined> {
  const text = await (await fetch(`${sidecar.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(series));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

/**
 * Start candidates one after another (the first leads) and wait until all are members;
 * returns them by id.
 */
async function candidates(
  ids: readonly string[],
  storeUrl = store,
): Promise<(id: string) => Sidecar> {
  const election = `steer-${randomUUID().slice(0, 8)}`;
  const started = new Map<string, Sidecar>();
  for (const id of ids) {
    const sidecar = await sidecars.start(storeUrl, election, id, ADMIN);
    if (started.size === 0) await until(`${id} leads`, 15_000, () => isLeader(sidecar));
    started.set(id, sidecar);
  }
  const byId = (id: string): Sidecar => {
    const sidecar = started.get(id);
    if (sidecar === undefined) throw new Error(`no candidate ${id}`);
    return sidecar;
  };
  await until('every candidate is a member', 15_000, async () => {
    const { members } = (await getJson(byId(ids[0] ?? ''), '/v1/members')) as {
      members: { id: string }[];
    };
    return members.length === ids.length ? true : undefined;
  });
  return byId;
}

describe.each(storeUrls(dir, zkChroot))('POST /v1/transfer on %s', (_backend, url) => {
  it('hands leadership over and back, terms rising', async () => {
    const started = await candidates(['t1', 't2'], url);
    const [one, two] = [started('t1'), started('t2')];
    const there = await post(one, '/v1/transfer', { to: 't2' });
    expect(there).toMatchObject({ status: 200, body: { transferred: true, from: 't1', to: 't2' } });
    expect(await isLeader(two)).toBe(true);
    const back = await post(two, '/v1/transfer', { to: 't1' });
    expect(back).toMatchObject({ status: 200, body: { transferred: true, from: 't2', to: 't1' } });
    expect(Number(back.body.term)).toBeGreaterThan(Number(there.body.term));
    expect(await isLeader(one)).toBe(true);
  }, 60_000);
});

describe('leasehold transfer', () => {
  it('hands leadership to the named candidate, and says why it will not', async () => {
    const started = await candidates(['s1', 's2', 's3']);
    const [one, two] = [started('s1'), started('s2')];
    const moved = await leasehold(['transfer', 's2', '--port', portOf(one), ...ADMIN]);
    expect(moved).toMatchObject({ code: 0, err: '' });
    expect(moved.out).toMatch(/^leadership transferred from s1 to s2 \(term \d+\)\n$/);
    expect(await isLeader(two)).toBe(true);
    expect(await metric(one, 'leasehold_transfers_total{outcome="transferred"')).toBe(1);

    const unknown = await leasehold(['transfer', 'nobody', '--port', portOf(two), ...ADMIN]);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(
      /^leasehold: .*"nobody".*\(LEASEHOLD_E_TRANSFER_TARGET_UNKNOWN\)\n$/,
    );
    const notLeader = await post(one, '/v1/transfer', { to: 's3' });
    expect(notLeader).toMatchObject({
      status: 409,
      body: { code: 'LEASEHOLD_E_TRANSFER_NOT_LEADER', target: 's3' },
    });
    expect((await post(two, '/v1/transfer', {})).status).toBe(400);
    const unauthorized = await fetch(`${two.url}/v1/transfer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ to: 's1' }),
    });
    expect(unauthorized.status).toBe(401);
  }, 90_000);
});

describe('leasehold drain and undrain', () => {
  it('hands over, shows the drain everywhere, and campaigns again when undrained', async () => {
    const started = await candidates(['d1', 'd2']);
    const [one, two] = [started('d1'), started('d2')];
    const drained = await leasehold(['drain', '--port', portOf(one), ...ADMIN]);
    expect(drained).toMatchObject({ code: 0, err: '' });
    expect(drained.out).toMatch(/^drained: leadership handed over to d2 \(term \d+\)\n$/);
    expect(await isLeader(two)).toBe(true);
    expect(await getJson(one, '/v1/leader')).toMatchObject({
      leader: 'd2',
      steering: { drained: true, health: 'unknown', transferringTo: null },
    });
    await until('d1 listed as drained', 10_000, async () => {
      const { members } = (await getJson(two, '/v1/members')) as {
        members: { id: string; drained: boolean }[];
      };
      return members.find((m) => m.id === 'd1')?.drained === true ? true : undefined;
    });
    expect(await metric(one, 'leasehold_drained')).toBe(1);

    // d2 alone is eligible: its drain keeps it leading (never leaderless) and says so.
    const kept = await post(two, '/v1/drain');
    expect(kept).toMatchObject({
      status: 409,
      body: { code: 'LEASEHOLD_E_TRANSFER_NO_CANDIDATE', drain: { drained: true } },
    });
    expect(await isLeader(two)).toBe(true);
    const cli = await leasehold(['drain', '--port', portOf(two), ...ADMIN]);
    expect(cli.code).toBe(1);
    expect(cli.err).toMatch(/still leading.*\(LEASEHOLD_E_TRANSFER_NO_CANDIDATE\)\n$/);

    const undrained = await leasehold(['undrain', '--port', portOf(one), ...ADMIN]);
    expect(undrained).toMatchObject({
      code: 0,
      out: 'undrained: this candidate campaigns again\n',
    });
    // d2 is drained and now sees an eligible candidate: it hands over on its own.
    await until('d1 leads again', 20_000, () => isLeader(one));
  }, 90_000);

  it('with --force resigns when nobody is eligible', async () => {
    const alone = (await candidates(['f1']))('f1');
    const forced = await leasehold(['drain', '--force', '--port', portOf(alone), ...ADMIN]);
    expect(forced).toMatchObject({ code: 0 });
    expect(forced.out).toMatch(/^drained: resigned/);
    expect(await isLeader(alone)).toBe(false);
  }, 60_000);
});

describe('--standby', () => {
  it('never leads until undrained, even alone', async () => {
    const election = `standby-${randomUUID().slice(0, 8)}`;
    const standby = await sidecars.start(store, election, 'dr1', [...ADMIN, '--standby']);
    await until('the standby sees the election', 10_000, async () =>
      (await getJson(standby, '/v1/leader')).steering !== undefined ? true : undefined,
    );
    // Several retry intervals (200 ms) on a free lock: a candidate that campaigns leads.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await isLeader(standby)).toBe(false);
    expect(await getJson(standby, '/v1/leader')).toMatchObject({ steering: { drained: true } });
    expect((await post(standby, '/v1/undrain')).status).toBe(200);
    await until('the standby leads once undrained', 15_000, () => isLeader(standby));
  }, 60_000);
});

describe('--app-health-command', () => {
  it('leads only once the app is healthy, and the check never sees LEASEHOLD_* variables', async () => {
    const healthy = join(dir, `healthy-${randomUUID().slice(0, 8)}`);
    const seen = join(dir, 'health-env.txt');
    process.env.LEASEHOLD_SECRET_PROBE = 'must-not-reach-the-check';
    try {
      const sidecar = await sidecars.start(store, `health-${randomUUID().slice(0, 8)}`, 'h1', [
        ...['--app-health-command', `env > ${seen}; test -f ${healthy}`],
        ...['--app-health-interval', '200ms', '--app-health-successes', '2'],
      ]);
      await until('the first checks ran', 10_000, () => (existsSync(seen) ? true : undefined));
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(await isLeader(sidecar)).toBe(false);
      expect(await getJson(sidecar, '/v1/leader')).toMatchObject({
        steering: { health: 'unhealthy' },
      });
      expect(await metric(sidecar, 'leasehold_app_healthy')).toBe(0);
      writeFileSync(healthy, '');
      await until('it leads once healthy', 15_000, () => isLeader(sidecar));
      expect(await metric(sidecar, 'leasehold_app_healthy')).toBe(1);
      expect(readFileSync(seen, 'utf8')).not.toMatch(/LEASEHOLD_/);
      const verdicts = sidecar.logLines.filter((line) => line.includes('"event":"app-health"'));
      // Transitions only, not one line per check: unhealthy, then healthy.
      expect(verdicts.map((line) => (JSON.parse(line) as { health: string }).health)).toEqual([
        'unhealthy',
        'healthy',
      ]);
    } finally {
      delete process.env.LEASEHOLD_SECRET_PROBE;
    }
  }, 60_000);
});

describe('a health command that hangs', () => {
  it('fails the check at the timeout and leaves nothing running', async () => {
    const sidecar = await sidecars.start(store, `hang-${randomUUID().slice(0, 8)}`, 'k1', [
      ...['--app-health-command', 'sleep 30 & sleep 30', '--app-health-interval', '300ms'],
      ...['--app-health-failures', '2'],
    ]);
    await until('the app found unhealthy', 15_000, async () =>
      (await getJson(sidecar, '/v1/leader')).steering !== undefined &&
      ((await getJson(sidecar, '/v1/leader')).steering as { health: string }).health === 'unhealthy'
        ? true
        : undefined,
    );
    const verdict = sidecar.logLines.find((line) => line.includes('"event":"app-health"')) ?? '';
    expect(verdict).toContain('no exit within 300 ms');
    expect(await isLeader(sidecar)).toBe(false);
    // A shutdown waits for the check in flight, whose group the timeout kills; afterEach
    // then finds no sleep of any check (they carry the marker) left running.
    sidecar.child.kill('SIGTERM');
    expect(await sidecar.exited).toBe(0);
  }, 60_000);
});

describe('--app-health URL', () => {
  it('an unhealthy leader hands over to a healthy candidate, and it is counted', async () => {
    let status = 200;
    // u1's app answers `status`; u2's is always healthy (an unhealthy leader hands over only
    // to a candidate whose app was found healthy, not to one without a check).
    const app = createServer((request, response) =>
      response.writeHead(request.url === '/u1' ? status : 200).end(),
    );
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const { port } = app.address() as AddressInfo;
    try {
      const election = `health-url-${randomUUID().slice(0, 8)}`;
      const health = (id: string) => [
        ...['--app-health', `http://127.0.0.1:${port}/${id}`, '--app-health-interval', '200ms'],
        ...['--app-health-failures', '2', '--min-tenure', '1s'],
      ];
      const sick = await sidecars.start(store, election, 'u1', health('u1'));
      await until('u1 leads once its app is healthy', 15_000, () => isLeader(sick));
      const well = await sidecars.start(store, election, 'u2', health('u2'));
      await until('u2 is a healthy member', 10_000, async () => {
        const { members } = (await getJson(sick, '/v1/members')) as {
          members: { id: string; health: string }[];
        };
        return members.some((m) => m.id === 'u2' && m.health === 'healthy') ? true : undefined;
      });
      status = 503;
      await until('u2 leads after u1 went unhealthy', 20_000, () => isLeader(well));
      expect(await isLeader(sick)).toBe(false);
      // u1 learns who took over through its store watch: an instant after u2 claims, u1 may
      // still answer `leader: null` (the hand-over deleted the lease), so wait for it.
      await until('u1 names u2 as leader', 10_000, async () => {
        const body = (await getJson(sick, '/v1/leader')) as { leader: string | null };
        return body.leader === 'u2' ? true : undefined;
      });
      expect(await getJson(sick, '/v1/leader')).toMatchObject({
        leader: 'u2',
        steering: { health: 'unhealthy' },
      });
      expect(await metric(sick, 'leasehold_transfers_total{outcome="transferred"')).toBe(1);
    } finally {
      await new Promise((resolve) => app.close(resolve));
    }
  }, 60_000);
});

describe('invalid steering settings', () => {
  it.each([
    [
      ['--app-health', 'http://127.0.0.1:1/h', '--app-health-command', 'true'],
      /^leasehold: invalid app-health-command \(flag --app-health-command\): "true"; one health check only: not together with --app-health http:\/\/127.0.0.1:1\/h\n$/,
    ],
    [
      ['--app-health-interval', '1s', '--app-health-timeout', '2s'],
      /^leasehold: invalid app-health-timeout \(flag --app-health-timeout\): "2s"; at most the health interval \(--app-health-interval 1s\)\n$/,
    ],
    [
      ['--app-health', 'ftp://x'],
      /^leasehold: invalid app-health \(flag --app-health\): "ftp:\/\/x"; an http:\/\/ or https:\/\/ URL\n$/,
    ],
    [
      ['--standby', 'maybe'],
      /^leasehold: invalid standby \(flag --standby\): "maybe"; true or false/,
    ],
  ])('%j: exit 2 and one line', async (args, line) => {
    const { code, err } = await leasehold(['config', ...args]);
    expect(code).toBe(2);
    expect(err).toMatch(line);
  });
});
