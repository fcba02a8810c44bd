import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BIN, SidecarProcesses, oneLeader, type Sidecar } from './helpers/sidecar-processes.js';

// A real sidecar against real Redis, as an ACL user whose password holds every character
// that breaks URLs: nothing it logs, prints or answers shows a run of four of its characters.

const REDIS = '127.0.0.1:6379';
const user = `lhe-${randomUUID().slice(0, 8)}`;
const password = `ssw0rd@leak#x/y?z%41:&é-${randomUUID().slice(0, 6)}`;
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
