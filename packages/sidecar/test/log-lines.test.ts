import { mkdtempSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { repeatedKeys } from './helpers/json-keys.js';
import { until } from '@leasehold/testkit';
import { SidecarProcesses, loggedLine, oneLeader } from './helpers/sidecar-processes.js';

const dir = mkdtempSync(join(tmpdir(), 'leasehold-log-lines-'));
const sidecars = new SidecarProcesses(1_000);
afterEach(() => sidecars.killAll());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TOKEN = 'log-lines-admin-token-0123';

describe('repeatedKeys', () => {
  it('finds a key repeated in one object, at any depth, and nothing else', () => {
    expect(repeatedKeys('{"id":"r1","reqId":"req-2","id":"r1"}')).toEqual(['id']);
    expect(repeatedKeys('{"a":{"b":1,"b":2},"c":[{"d":1},{"d":2}]}')).toEqual(['b']);
    expect(repeatedKeys('{"msg":"{\\"id\\":1,\\"id\\":2}","id":"x","err":{"id":"y"}}')).toEqual([]);
  });
});

describe('the sidecar command', () => {
  it.each([
    ['leasehold', undefined],
    ['leasehold run', ['sleep', '30']],
  ] as const)(
    '%s logs each key once per line, from start-up to shutdown',
    async (_name, command) => {
      const store = `sqlite://${join(dir, 'leases.db')}`;
      const election = `logs-${randomUUID().slice(0, 8)}`;
      const sidecar = await sidecars.start(
        store,
        election,
        'l1',
        // debug: the per-request lines too
        [
          '--admin-token',
          TOKEN,
          '--log-level',
          'debug',
          // a lease long enough for the command's grace
          ...(command === undefined ? [] : ['--ttl', '3s', '--command-grace', '500ms']),
        ],
        command,
      );
      await oneLeader([sidecar], 10_000);
      for (const path of [
        '/v1/leader',
        '/v1/history',
        '/v1/members',
        '/metrics',
        '/',
        '/nowhere',
      ]) {
        await fetch(`${sidecar.url}${path}`).then((response) => response.arrayBuffer());
      }
      const resign = (token: string) =>
        fetch(`${sidecar.url}/v1/resign`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}` },
        });
      expect((await resign('wrong-token-0123456789')).status).toBe(401);
      expect(await (await resign(TOKEN)).json()).toEqual({ resigned: true, lease: 'released' });
      await loggedLine(sidecar, /resign requested over HTTP/, 5_000);
      await oneLeader([sidecar], 10_000); // elected again after its hold-off
      sidecar.child.kill('SIGTERM');
      expect(await sidecar.exited).toBe(0);
      await until(`sidecar.logLines.some((line) => line.includes('"stopped"'))`, 5_000, () =>
        sidecar.logLines.some((line) => line.includes('"stopped"')),
      );

      const repeats = sidecar.logLines
        .map((line) => ({ line, keys: repeatedKeys(line) }))
        .filter(({ keys }) => keys.length > 0);
      expect(repeats).toEqual([]);
      // Every line is one JSON object, and the run logged what the test went through.
      const messages = sidecar.logLines.map((line) => (JSON.parse(line) as { msg: string }).msg);
      for (const expected of [/listening/, /elected leader/, /resign requested/, /^stopped$/]) {
        expect(messages.some((message) => expected.test(message))).toBe(true);
      }
    },
  );
});
