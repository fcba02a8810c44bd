import { spawn, spawnSync } from 'node:child_process';
import { stopGroup } from '@leasehold/testkit';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';

// The README's first command, run as a new user would (plus a free port, so it cannot clash
// with a sidecar already on 4040): with no store configured it must elect itself on the
// embedded SQLite file, say so, and answer GET /v1/leader.
const root = new URL('..', import.meta.url).pathname;

describe('README run command', () => {
  it(
    'is `npm start`, and it starts a sidecar that leads and answers /v1/leader',
    { timeout: 120_000 },
    async () => {
      const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
      expect(readme).toMatch(/^npm start\s+#/m);
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        LEASEHOLD_ELECTION: `readme-${randomUUID().slice(0, 8)}`,
      };
      delete env.LEASEHOLD_STORE;
      const child = spawn('npm', ['start', '--silent', '--', '--port', '0', '--ttl', '2s'], {
        cwd: root,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      const lines: string[] = [];
      try {
        const url = await new Promise<string>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`no sidecar started:\n${lines.join('\n')}`)),
            100_000,
          );
          if (child.stdout === null) throw new Error('no stdout');
          createInterface({ input: child.stdout }).on('line', (line) => {
            lines.push(line);
            const entry = JSON.parse(line) as { url?: string };
            if (entry.url !== undefined) {
              clearTimeout(timer);
              resolve(entry.url);
            }
          });
        });
        expect(lines.join('\n')).toContain('elects only among processes on THIS host');
        const deadline = performance.now() + 10_000;
        let body: { isLeader?: boolean; backend?: string } = {};
        while (body.isLeader !== true && performance.now() < deadline) {
          body = (await (await fetch(`${url}/v1/leader`)).json()) as typeof body;
          if (body.isLeader !== true) await new Promise((resolve) => setTimeout(resolve, 50));
        }
        expect(body).toMatchObject({ isLeader: true, backend: 'sqlite' });
      } finally {
        // SIGTERM reaches the sidecar through npm (the start script execs it), and it
        // stops within its shutdown grace: nothing of the group may survive.
        if (child.pid !== undefined) expect(await stopGroup(child.pid, 15_000)).toEqual([]);
      }
    },
  );

  it('says where `leasehold` comes from after `npm start`, and each way it names works', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const ways: [string, string[]][] = [
      ['npx leasehold', ['npx', '--no-install', 'leasehold']],
      ['pnpm exec leasehold', ['pnpm', 'exec', 'leasehold']],
      ['node packages/sidecar/bin/leasehold.js', ['node', 'packages/sidecar/bin/leasehold.js']],
    ];
    for (const [written, [command = '', ...args]] of ways) {
      expect(readme).toContain(`\`${written}\``);
      const result = spawnSync(command, [...args, '--version'], {
        cwd: root,
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(result.status, `${written}: ${result.stderr}`).toBe(0);
      expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    }
  }, 120_000);
});
