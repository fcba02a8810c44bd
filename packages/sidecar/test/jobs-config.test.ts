import { describeConfig, loadConfig } from '@leasehold/sidecar';
import { asJob } from '../src/config/jobs.js';
import { commandGraceMs, commandGraceProblem } from '../src/run/stop-plan.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN } from './helpers/sidecar-processes.js';

/** `jobs:` of `leasehold run` (docs/run.md, "Several jobs"). */

const dir = mkdtempSync(join(tmpdir(), 'leasehold-jobs-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
function yamlFile(content: string): string {
  files += 1;
  const path = join(dir, `config-${files}.yaml`);
  writeFileSync(path, content);
  return path;
}
const fromFile = (yaml: string) => loadConfig({ flags: {}, env: {}, configFile: yamlFile(yaml) });
const TWO = 'elections:\n  - a\n  - {name: b, ttl: 3s}\n';

describe('jobs:', () => {
  it('names a command per election, each with its own grace and passEnv or the top-level ones', () => {
    const config = fromFile(
      `passEnv: PGHOST\n${TWO}jobs:\n  - {election: a, command: [node, a.js, 1]}\n` +
        '  - {election: b, command: [report], commandGrace: 700ms, passEnv: [PGUSER]}\n',
    );
    expect(config.jobs).toEqual([
      {
        election: 'a',
        command: 'node',
        args: ['a.js', '1'],
        commandGrace: undefined,
        passEnv: ['PGHOST'],
      },
      {
        election: 'b',
        command: 'report',
        args: [],
        commandGrace: { ms: 700, raw: '700ms' },
        passEnv: ['PGUSER'],
      },
    ]);
    expect(describeConfig(config).jobs).toEqual([
      { election: 'a', command: ['node', 'a.js', '1'], passEnv: 'PGHOST' },
      { election: 'b', command: ['report'], commandGrace: 700, passEnv: 'PGUSER' },
    ]);
    expect(loadConfig({ flags: {}, env: {} }).jobs).toEqual([]);
  });

  it("checks each job's grace against its own election's lease, naming the job's key", () => {
    const config = fromFile(
      `${TWO}jobs:\n  - {election: a, command: [x]}\n  - {election: b, command: [y], commandGrace: 2s}\n`,
    );
    const [a, b] = config.jobs;
    if (a === undefined || b === undefined) throw new Error('two jobs expected');
    // a: the top-level 10 s lease, no grace set: 5 s. b: a 3 s lease leaves at most 1450 ms.
    expect(commandGraceMs(asJob(config, a))).toBe(5_000);
    expect(commandGraceProblem(asJob(config, a))).toBeNull();
    expect(commandGraceProblem(asJob(config, b))?.message).toBe(
      'jobs[1].commandGrace: 2s does not fit ' +
        'elections[1].ttl: 3000ms: a lease renewed every 1000 ms leaves the command at most 1450 ms ' +
        'to stop before the lease can pass; use a shorter command grace or a longer ttl',
    );
  });

  it.each([
    [
      'an election not configured',
      `${TWO}jobs:\n  - {election: c, command: [x]}\n`,
      /jobs\[0\]\.election.*"c"; one of the sidecar's elections: a, b/,
    ],
    [
      'two jobs of one election',
      `${TWO}jobs:\n  - {election: a, command: [x]}\n  - {election: a, command: [y]}\n`,
      /jobs\[1\]\.election.*"a"; at most one job per election/,
    ],
    [
      'a command that is not a list',
      `${TWO}jobs:\n  - {election: a, command: "node a.js"}\n`,
      /jobs\[0\]\.command.*"node a.js"; a list: the executable and its arguments/,
    ],
    [
      'an unknown key',
      `${TWO}jobs:\n  - {election: a, command: [x], grace: 1s}\n`,
      /jobs\[0\]\.grace.*a job may set election, command, commandGrace, passEnv/,
    ],
    [
      'a bad grace',
      `${TWO}jobs:\n  - {election: a, command: [x], commandGrace: soon}\n`,
      /jobs\[0\]\.commandGrace.*"soon"/,
    ],
    ['not a list', `${TWO}jobs: x\n`, /config file key jobs\): "x"; a list of jobs/],
  ])('refuses %s in one line', (_what, yaml, line) => {
    expect(() => fromFile(yaml)).toThrow(line);
  });
});

describe('leasehold run with jobs:', () => {
  const run = (args: string[]) =>
    spawnSync(process.execPath, [BIN, 'run', '--port', '0', ...args], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, LEASEHOLD_STORE: `sqlite://${join(dir, 'l.db')}` },
    });

  it('refuses both a command after -- and jobs:, exit 2, one line', () => {
    const file = yamlFile(`${TWO}jobs:\n  - {election: a, command: [sleep, '9']}\n`);
    const result = run(['--config', file, '--', 'sleep', '9']);
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(
      `leasehold: invalid jobs (config file key jobs): both a command after -- and jobs: in ${file} are given; keep one\n`,
    );
  });

  it('refuses neither, exit 2, one line', () => {
    const result = run([]);
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(
      'leasehold: invalid command: none given; leasehold run -- <command...>, or jobs: in the config file (docs/run.md)\n',
    );
  });

  it("refuses a job's command that is not an executable, and a grace that does not fit its election", () => {
    const missing = run([
      '--config',
      yamlFile(`${TWO}jobs:\n  - {election: b, command: [lh-no-such-command]}\n`),
    ]);
    expect([missing.status, missing.stderr]).toEqual([
      2,
      'leasehold: invalid command (config file key jobs[0].command): "lh-no-such-command"; an executable file, by path or on PATH\n',
    ]);
    const grace = run([
      '--config',
      yamlFile(`${TWO}jobs:\n  - {election: b, command: [sleep, '1'], commandGrace: 2s}\n`),
    ]);
    expect(grace.status).toBe(2);
    expect(grace.stderr).toMatch(
      /^leasehold: jobs\[0\]\.commandGrace: 2s does not fit elections\[1\]\.ttl: 3000ms: .* at most 1450 ms/,
    );
  });
});
