import { describeConfig, loadConfig } from '@leasehold/sidecar';
import { asFirstElection } from '../src/config/elections.js';
import { commandGraceMs, commandGraceProblem } from '../src/run/stop-plan.js';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BIN } from './helpers/sidecar-processes.js';
import { configFiles } from './helpers/config-files.js';

/** Several elections in the configuration (docs/configuration.md, "Several elections"). */

const { yamlFile, fromFile } = configFiles('leasehold-elections-config-');

describe('several elections', () => {
  it('come from --election repeated (joined by the CLI) or LEASEHOLD_ELECTION, with the top-level settings', () => {
    const config = loadConfig({ flags: { election: 'a,b', ttl: '6s', priority: '2' }, env: {} });
    expect(config.election).toBe('a');
    expect(config.elections).toEqual([
      { name: 'a', ttlMs: 6_000, renewIntervalMs: undefined, retryIntervalMs: 1_000, priority: 2 },
      { name: 'b', ttlMs: 6_000, renewIntervalMs: undefined, retryIntervalMs: 1_000, priority: 2 },
    ]);
    const env = loadConfig({ flags: {}, env: { LEASEHOLD_ELECTION: 'x,y,z' } });
    expect(env.elections.map((e) => e.name)).toEqual(['x', 'y', 'z']);
  });

  it('is one election, named as before, without any', () => {
    const config = loadConfig({ flags: {}, env: {} });
    expect(config.elections.map((e) => e.name)).toEqual(['default']);
    expect(describeConfig(config)).toMatchObject({ election: 'default' });
    expect(describeConfig(config)).not.toHaveProperty('elections');
  });

  it('come from elections: in the file, each entry overriding the top-level settings', () => {
    const config = fromFile(
      'ttl: 9s\npriority: 1\nelections:\n  - scheduler\n' +
        '  - name: reports\n    ttl: 3s\n    priority: 5\n' +
        '  - {name: queue, renewInterval: 1s, retryInterval: 500ms}\n',
      { ttl: '12s' },
    );
    expect(config.election).toBe('scheduler');
    expect(config.elections).toEqual([
      {
        name: 'scheduler',
        ttlMs: 12_000,
        renewIntervalMs: undefined,
        retryIntervalMs: 1_000,
        priority: 1,
      },
      {
        name: 'reports',
        ttlMs: 3_000,
        renewIntervalMs: undefined,
        retryIntervalMs: 1_000,
        priority: 5,
      },
      { name: 'queue', ttlMs: 12_000, renewIntervalMs: 1_000, retryIntervalMs: 500, priority: 1 },
    ]);
    expect(describeConfig(config).elections).toEqual([
      { name: 'scheduler', ttl: 12_000, renewInterval: 4_000, retryInterval: 1_000, priority: 1 },
      { name: 'reports', ttl: 3_000, renewInterval: 1_000, retryInterval: 1_000, priority: 5 },
      { name: 'queue', ttl: 12_000, renewInterval: 1_000, retryInterval: 500, priority: 1 },
    ]);
    expect(describeConfig(config)).not.toHaveProperty('election');
  });

  it('take --election over the file, as every flag over the file', () => {
    const config = fromFile('elections:\n  - name: a\n    ttl: 3s\n', { election: 'b' });
    expect(config.elections.map((e) => [e.name, e.ttlMs])).toEqual([['b', 10_000]]);
  });

  it.each([
    [
      '--election a --election a',
      { flags: { election: 'a,a' } },
      'invalid election (flag --election): "a" is named twice; each election once',
    ],
    [
      'a name with a space',
      { flags: { election: 'a,b c' } },
      'invalid election (flag --election): "a,b c"; use 1-128 characters',
    ],
    [
      'an empty name',
      { env: { LEASEHOLD_ELECTION: 'a,' } },
      'invalid election (environment LEASEHOLD_ELECTION): "a,"',
    ],
    [
      '10,001 elections',
      { env: { LEASEHOLD_ELECTION: Array.from({ length: 10_001 }, (_, i) => `e${i}`).join(',') } },
      'invalid election (environment LEASEHOLD_ELECTION): 10001 elections; at most 10000 per sidecar',
    ],
  ])('refuse %s in one line', (_case, input, line) => {
    expect(() => loadConfig({ flags: {}, env: {}, ...input })).toThrow(line);
  });

  it.each([
    ['elections: []\n', 'invalid elections (config file key elections): "[]"; a list of elections'],
    [
      'elections:\n  - a\n  - name: a\n',
      'invalid election (config file key elections): "a" is named twice',
    ],
    [
      'election: a\nelections: [b]\n',
      'the config file sets both election and elections; keep elections',
    ],
    [
      'elections:\n  - name: b\n    tll: 3s\n',
      'unknown key "tll" in elections[0] of the config file; an election may set name, ttl',
    ],
    [
      'elections:\n  - name: x y\n',
      'invalid elections (config file key elections[0].name): "x y"; use 1-128 characters',
    ],
    [
      'elections:\n  - a\n  - name: b\n    ttl: soon\n',
      'invalid elections (config file key elections[1].ttl): "soon"; a duration',
    ],
    [
      'elections:\n  - name: b\n    ttl: 3s\n    renewInterval: 2s\n',
      'invalid elections (config file key elections[0].renewInterval): "2s"; must be at least 10 ms and less than ttl / 2 (1500 ms)',
    ],
    [
      'retryInterval: 3s\nttl: 6s\nelections:\n  - name: b\n    ttl: 2s\n',
      'invalid elections (config file key elections[0].ttl): "2s"; must be at least 10 ms and at most ttl (2000 ms)',
    ],
  ])('refuse a bad entry of elections:, naming its key: %j', (yaml, line) => {
    expect(() => fromFile(yaml)).toThrow(line);
  });

  it('refuse an election TTL of its own on ZooKeeper, whose one session is every lease', () => {
    const yaml = 'store: zk://127.0.0.1:2181\nelections:\n  - a\n  - name: b\n    ttl: 4s\n';
    expect(() => fromFile(yaml)).toThrow(
      'invalid elections (config file key elections[1].ttl): "4000 ms"; on ZooKeeper every election of a sidecar has the top-level ttl (10000 ms)',
    );
    expect(
      fromFile('store: zk://127.0.0.1:2181\nelections: [a, {name: b, priority: 3}]\n').elections,
    ).toHaveLength(2);
  });

  it('exit 2 with the one line from the command', () => {
    const config = yamlFile('elections:\n  - a\n  - a\n');
    const result = spawnSync(process.execPath, [BIN, 'config', '--config', config], {
      encoding: 'utf8',
    });
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('"a" is named twice');
    const repeated = spawnSync(
      process.execPath,
      [BIN, 'config', '--election', 'a', '--election', 'b'],
      {
        encoding: 'utf8',
      },
    );
    expect(repeated.stdout).toContain('elections:\n  - name: a\n');
    expect(repeated.stdout).toContain('  - name: b\n');
  });

  it("fit leasehold run's command grace to the first election's lease, which its command runs under", () => {
    const config = fromFile('ttl: 30s\nelections:\n  - name: job\n    ttl: 2s\n  - other\n', {
      'command-grace': '5s',
    });
    expect(commandGraceProblem(asFirstElection(config))?.message).toMatch(
      /^--command-grace 5s does not fit elections\[0\]\.ttl: 2000ms: a lease renewed every 666 ms leaves the command at most \d+ ms/,
    );
    // Unset, the grace is the most that fits the first election's lease, not the top-level one.
    const unset = fromFile('ttl: 30s\nelections:\n  - name: job\n    ttl: 3s\n');
    expect(commandGraceMs(asFirstElection(unset))).toBeLessThan(3_000);
  });
});
