import { describeConfig } from '@leasehold/sidecar';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BIN } from './helpers/sidecar-processes.js';
import { configFiles } from './helpers/config-files.js';

/** Shard groups in the configuration (docs/configuration.md, "Shards"). */

const { yamlFile, fromFile } = configFiles('leasehold-shards-config-');

describe('shard groups', () => {
  it('come from shards: in the file, none without it', () => {
    const config = fromFile('shards:\n  - name: reports\n    count: 64\n  - {name: t, count: 1}\n');
    expect(config.shards).toEqual([
      { name: 'reports', count: 64 },
      { name: 't', count: 1 },
    ]);
    expect(describeConfig(config).shards).toEqual(config.shards);
    expect(fromFile('election: a\n').shards).toBeUndefined();
  });

  it.each([
    [
      'shards: reports\n',
      'invalid shards (config file key shards): "reports"; a list of shard groups',
    ],
    [
      'shards: [reports]\n',
      'invalid shards (config file key shards[0]): "reports"; a mapping with name:',
    ],
    [
      'shards:\n  - name: r\n    count: 0\n',
      'invalid shards (config file key shards[0].count): "0"; a whole number from 1 to 4096',
    ],
    [
      'shards:\n  - name: r\n    count: 4097\n',
      'invalid shards (config file key shards[0].count): "4097"; a whole number from 1 to 4096',
    ],
    [
      'shards:\n  - name: r\n    count: "12"\n',
      'invalid shards (config file key shards[0].count): "12"; a whole number from 1 to 4096',
    ],
    ['shards:\n  - name: r\n', 'invalid shards (config file key shards[0].count): ""'],
    [
      'shards:\n  - name: x y\n    count: 2\n',
      'invalid shards (config file key shards[0].name): "x y"; use 1-128 characters',
    ],
    [
      `shards:\n  - name: ${'a'.repeat(127)}\n    count: 10\n`,
      `invalid shards (config file key shards[0].name): "${'a'.repeat(127)}"; a name short enough that its last shard, "${'a'.repeat(127)}-9", is an election name (use 1-128`,
    ],
    [
      'shards:\n  - name: r\n    count: 2\n    ttl: 3s\n',
      'invalid shards (config file key shards[0].ttl): ""; a shard group sets name and count only',
    ],
    [
      'shards:\n  - {name: r, count: 2}\n  - {name: r, count: 3}\n',
      'invalid shards (config file key shards[1].name): "r"; each shard group named once',
    ],
    [
      'elections: [a, r-1]\nshards:\n  - {name: r, count: 2}\n',
      `invalid shards (config file key shards[0].name): "r"; a name whose shards' elections (r-0 …) are no other election's: election "r-1" clashes`,
    ],
    [
      'shards:\n  - {name: r, count: 12}\n  - {name: r-1, count: 2}\n',
      `invalid shards (config file key shards[1].name): "r-1"; a name whose shards' elections (r-1-0 …) are no other election's`,
    ],
    [
      'shards:\n  - {name: a, count: 4096}\n  - {name: b, count: 4096}\n  - {name: c, count: 4096}\n',
      'invalid shards (config file key shards): "12289 elections"; at most 10000 elections per sidecar, each shard one of them',
    ],
  ])('refuse a bad entry of shards:, naming its key: %j', (yaml, line) => {
    expect(() => fromFile(yaml)).toThrow(line);
  });

  it('exit 2 with the one line from the command', () => {
    const config = yamlFile('shards:\n  - {name: r, count: 0}\n');
    const result = spawnSync(process.execPath, [BIN, 'config', '--config', config], {
      encoding: 'utf8',
    });
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('shards[0].count');
  });
});
