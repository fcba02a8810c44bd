import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { until } from '@leasehold/testkit';
import {
  BIN,
  SidecarProcesses,
  loggedLine,
  oneLeader,
  type Sidecar,
} from './helpers/sidecar-processes.js';

// A real sidecar against real Redis, as an ACL user whose password holds every character
// that breaks URLs: nothing it logs, prints or answers shows a run of four of its characters.

const REDIS = '127.0.0.1:6379';
const user = `lhe-${randomUUID().slice(0, 8)}`;
/**
 * Random per run, its random tail drawn from letters no UUID, path or number in an
 * environment or answer holds: a tail of hex digits once matched ('-f89') a UUID in the
 * command's environment, a leak that was not one (1 rehearsal in about 10).
 */
const password = `ssw0rd@leak#x/y?z%41:&é-${Array.from(randomBytes(6), (byte) => 'ßþðæøåñçœ'[byte % 9]).join('')}`;
/** As users write it: percent-encoded, but the `@` left raw (the case). */
const urlPassword = encodeURIComponent(password).replaceAll('%40', '@');
const store = `redis://${user}:${urlPassword}@${REDIS}`;
const adminToken = `token-${randomUUID()}`;

function redis(...args: string[]): string {
  const result = spawnSync('redis-cli', ['-u', `redis://${REDIS}`, ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`redis-cli ${args[0]}: ${result.stderr}`);
  return result.stdout;
}
beforeAll(() => {
  expect(redis('ACL', 'SETUSER', user, 'on', `>${password}`, '~*', '&*', '+@all')).toContain('OK');
});
afterAll(() => redis('ACL', 'DELUSER', user));

const processes = new SidecarProcesses(2_000);
afterEach(() => processes.killAll());
const dir = mkdtempSync(join(tmpdir(), 'leasehold-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs of four characters of the password, as typed, in the URL or percent-encoded. */
function leakedRuns(text: string): string[] {
  const spellings = [password, urlPassword, encodeURIComponent(password)];
  return [
    ...new Set(
      spellings.flatMap((spelling) =>
        Array.from({ length: spelling.length - 3 }, (_, i) => spelling.slice(i, i + 4)),
      ),
    ),
  ].filter((run) => text.includes(run));
}

async function answers(sidecar: Sidecar): Promise<string[]> {
  const paths = ['/', '/v1/leader', '/v1/members', '/v1/history', '/readyz', '/metrics'];
  const gets = paths.map(async (path) => {
    const response = await fetch(`${sidecar.url}${path}`, { headers: { accept: '*/*' } });
    return `${path}: ${await response.text()}`;
  });
  const resign = fetch(`${sidecar.url}/v1/resign`, {
    method: 'POST',
    headers: { authorization: 'Bearer wrong-token-0123456789' },
  }).then(async (response) => `/v1/resign: ${await response.text()}`);
  return Promise.all([...gets, resign]);
}

describe('a store password full of URL delimiters', () => {
  it(
    'leads, and no log line, answer, metric or `leasehold config` shows any of it',
    { timeout: 60_000 },
    async () => {
      const election = `lhe-mask-${randomUUID().slice(0, 8)}`;
      const sidecar = await processes.start(store, election, 'masked', [
        '--admin-token',
        adminToken,
        '--log-level',
        'debug',
      ]);
      await oneLeader([sidecar], 10_000);
      const seen = await answers(sidecar);
      expect(seen.find((answer) => answer.startsWith('/v1/leader'))).toContain('"healthy":true');

      const config = spawnSync(process.execPath, [BIN, 'config', '--store', store], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(config.stdout).toContain(`store: redis://${user}:***@${REDIS}`);

      sidecar.child.kill('SIGTERM');
      expect(await sidecar.exited).toBe(0);
      const everything = [...sidecar.logLines, ...seen, config.stdout, config.stderr].join('\n');
      expect(sidecar.logLines.join('\n')).toContain(`redis://${user}:***@${REDIS}`);
      expect(leakedRuns(everything)).toEqual([]);
    },
  );

  it('a wrong one: the start-up failure names the user, never the password', () => {
    const wrong = `redis://${user}:${urlPassword.replace('ssw0rd', 'wr0ng')}@${REDIS}`;
    const result = spawnSync(
      process.execPath,
      [BIN, '--store', wrong, '--election', 'lhe-wrong', '--port', '0'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('WRONGPASS');
    expect(leakedRuns(`${result.stdout}\n${result.stderr}`)).toEqual([]);
  });
});

describe('secrets from files, and the processes leasehold starts', () => {
  it(
    'serves with the store URL and the admin token read from files, warning of neither',
    { timeout: 60_000 },
    async () => {
      const storeFile = join(dir, 'store');
      const tokenFile = join(dir, 'token');
      writeFileSync(storeFile, `${store}\n`, { mode: 0o600 });
      writeFileSync(tokenFile, `${adminToken}\n`, { mode: 0o600 });
      const sidecar = await processes.start('', `lhe-files-${randomUUID().slice(0, 8)}`, 'f', [
        '--store-file',
        storeFile,
        '--admin-token-file',
        tokenFile,
      ]);
      await oneLeader([sidecar], 10_000);
      const resign = await fetch(`${sidecar.url}/v1/resign`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}` },
      });
      expect(resign.status).toBe(200);
      expect(sidecar.logLines.join('\n')).not.toContain('secret-exposed');
      expect(leakedRuns(sidecar.logLines.join('\n'))).toEqual([]);
    },
  );

  it(
    'warns, in one log line without it, of a secret given as a flag',
    { timeout: 60_000 },
    async () => {
      const sidecar = await processes.start(store, `lhe-flag-${randomUUID().slice(0, 8)}`, 'g', [
        '--admin-token',
        adminToken,
      ]);
      const line = await loggedLine(
        sidecar,
        /--admin-token puts a secret on the command line/,
        10_000,
      );
      expect(JSON.parse(line)).toMatchObject({ level: 40, event: 'secret-exposed' });
      expect(line).not.toContain(adminToken);
      await loggedLine(sidecar, /--store puts a secret on the command line/, 10_000);
    },
  );

  it(
    "leasehold run: the command's environment holds no secret setting",
    { timeout: 60_000 },
    async () => {
      const out = join(dir, 'command-env');
      process.env.LEASEHOLD_ADMIN_TOKEN = adminToken;
      process.env.LEASEHOLD_STORE = store;
      let sidecar: Sidecar;
      try {
        sidecar = await processes.start(
          store,
          `lhe-run-${randomUUID().slice(0, 8)}`,
          'r',
          ['--command-grace', '300ms'],
          ['sh', '-c', `env > ${out}.tmp && mv ${out}.tmp ${out} && exec sleep 60`],
        );
      } finally {
        delete process.env.LEASEHOLD_ADMIN_TOKEN;
        delete process.env.LEASEHOLD_STORE;
      }
      await until('existsSync(out)', 15_000, () => existsSync(out));
      const env = readFileSync(out, 'utf8');
      expect(env).toContain(`LEASEHOLD_ID=${sidecar.id}`);
      expect(env).not.toContain('LEASEHOLD_ADMIN_TOKEN=');
      expect(env).not.toContain('LEASEHOLD_STORE=');
      expect(env).not.toContain(adminToken);
      expect(leakedRuns(env)).toEqual([]);
    },
  );
});
