import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BIN, SidecarProcesses } from './helpers/sidecar-processes.js';

/** `leasehold status` and the help, as a user runs them. */
const dir = mkdtempSync(join(tmpdir(), 'leasehold-status-'));
const sidecars = new SidecarProcesses(1_000);
afterEach(() => sidecars.killAll());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function leasehold(args: readonly string[], env: Record<string, string> = {}) {
  // Only what the test sets: a LEASEHOLD_* of the machine running the tests must not decide.
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('LEASEHOLD_')),
  );
  const result = spawnSync(process.execPath, [BIN, ...args], {
    env: { ...clean, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('leasehold status', () => {
  it('asks the sidecar on the port given by --port or LEASEHOLD_PORT', async () => {
    const election = `status-${randomUUID().slice(0, 8)}`;
    const sidecar = await sidecars.start(`sqlite://${join(dir, 'leases.db')}`, election, 's1');
    const port = new URL(sidecar.url).port;

    for (const [args, env] of [
      [['status', '--port', port], {}],
      [['status'], { LEASEHOLD_PORT: port }],
      // The flag over the variables, as for every other setting.
      [['status', '--port', port], { LEASEHOLD_URL: 'http://127.0.0.1:1' }],
    ] as const) {
      const { code, stdout, stderr } = leasehold(args, env);
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      expect(stdout).toMatch(new RegExp(`^election +${election} \\(sqlite\\)$`, 'm'));
    }
  }, 90_000); // three commands, each a Node start-up

  it('lists every election of a sidecar of several, and summarises the one --election names', async () => {
    const prefix = `status-${randomUUID().slice(0, 8)}`;
    const sidecar = await sidecars.start(
      `sqlite://${join(dir, 'leases.db')}`,
      `${prefix}-a`,
      's1',
      [...['--election', `${prefix}-b`]],
    );
    const port = new URL(sidecar.url).port;
    const first = leasehold(['status', '--port', port]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`^elections  ${prefix}-a  .*\\[below\\]$`, 'm'));
    expect(first.stdout).toMatch(new RegExp(`^ {11}${prefix}-b  `, 'm'));
    expect(first.stdout).toMatch(new RegExp(`^election +${prefix}-a \\(sqlite\\)$`, 'm'));
    const second = leasehold(['status', '--port', port, '--election', `${prefix}-b`]);
    expect(second.stdout).toMatch(new RegExp(`^election +${prefix}-b \\(sqlite\\)$`, 'm'));
    const unknown = leasehold(['status', '--port', port, '--election', `${prefix}-z`]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^leasehold: invalid election \(flag --election\): .*\n$/);
  }, 90_000);

  it.each([
    [['--port', 'http'], /^leasehold: invalid port \(flag --port\): "http"; .*1 to 65535\n$/],
    [['--port', '0'], /^leasehold: invalid port \(flag --port\): "0"; .*1 to 65535\n$/],
  ])('refuses %j with exit 2 and one line', (args, line) => {
    const { code, stderr } = leasehold(['status', ...args]);
    expect(code).toBe(2);
    expect(stderr).toMatch(line);
  });

  it('refuses a bad LEASEHOLD_PORT naming the variable', () => {
    const { code, stderr } = leasehold(['status'], { LEASEHOLD_PORT: '70000' });
    expect(code).toBe(2);
    expect(stderr).toMatch(/^leasehold: invalid port \(environment LEASEHOLD_PORT\): "70000"; /);
  });
});

describe('the help', () => {
  it('lists for serve only the flags serve reads; run lists the command grace', () => {
    const serve = leasehold(['serve', '--help']);
    expect(serve.code).toBe(0);
    expect(serve.stdout).toContain('--ttl');
    expect(serve.stdout).not.toContain('--command-grace');
    const run = leasehold(['run', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('--command-grace');
  });

  it('lists --port and --host for status', () => {
    const { stdout } = leasehold(['status', '--help']);
    expect(stdout).toMatch(/--port <port>.*LEASEHOLD_PORT/);
    expect(stdout).toMatch(/--host <host>.*LEASEHOLD_HOST/);
  });
});
