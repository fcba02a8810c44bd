import { describeConfig, loadConfig, parseDuration, DEFAULT_STORE } from '@leasehold/sidecar';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'leasehold-config-'));
function yamlFile(content: string): string {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, content);
  return path;
}

describe('durations', () => {
  it.each([
    ['10s', 10_000],
    ['500ms', 500],
    ['1500', 1_500],
    ['2m', 120_000],
    ['1.5s', 1_500],
    ['1h', 3_600_000],
  ])('%s is %i ms', (raw, ms) => {
    expect(parseDuration(raw)).toBe(ms);
  });

  it.each(['', 'ten seconds', '10 sec', '-1s', '1e3'])('%j is refused', (raw) => {
    expect(parseDuration(raw)).toBeInstanceOf(Error);
  });
});

describe('configuration sources', () => {
  it('takes flags over environment over file over defaults', () => {
    const file = yamlFile('election: from-file\nttl: 30s\nport: 5000\npriority: 3\n');
    const config = loadConfig({
      flags: { election: 'from-flag' },
      env: { LEASEHOLD_ELECTION: 'from-env', LEASEHOLD_TTL: '20s' },
      configFile: file,
    });
    expect(config).toMatchObject({
      election: 'from-flag',
      ttlMs: 20_000,
      port: 5000,
      priority: 3,
      host: '127.0.0.1',
      retryIntervalMs: 1_000,
    });
  });

  it('reads the file named by LEASEHOLD_CONFIG', () => {
    const file = yamlFile('renewInterval: 2s\n');
    expect(loadConfig({ flags: {}, env: { LEASEHOLD_CONFIG: file } }).renewIntervalMs).toBe(2_000);
  });

  it('falls back to the embedded SQLite store and says so', () => {
    const config = loadConfig({ flags: {}, env: {} });
    expect(config.store).toBe(DEFAULT_STORE);
    expect(config.storeIsDefault).toBe(true);
    expect(config.id).toMatch(/^.+-\d+-[0-9a-f]{6}$/);
    expect(loadConfig({ flags: { store: 'redis://h:6379' }, env: {} }).storeIsDefault).toBe(false);
  });

  it.each([
    [
      { flags: { ttl: 'soon' }, env: {} },
      'invalid ttl (flag --ttl): "soon"; a duration such as 10s or 500ms',
    ],
    [
      { flags: {}, env: { LEASEHOLD_PORT: '70000' } },
      'invalid port (environment LEASEHOLD_PORT): "70000"; a port number from 0 to 65535',
    ],
    [
      { flags: { 'log-level': 'loud' }, env: {} },
      'invalid log-level (flag --log-level): "loud"; one of fatal, error',
    ],
    [
      { flags: { store: 'mongodb://x' }, env: {} },
      'invalid store (flag --store): "mongodb://x"; a URL with scheme redis',
    ],
    [
      { flags: { election: 'has space' }, env: {} },
      'invalid election (flag --election): "has space"',
    ],
  ])('names the field, the value and what is accepted: %j', (input, message) => {
    expect(() => loadConfig(input)).toThrow(message);
  });

  it('names the file key of a bad value, and refuses unknown keys', () => {
    expect(() => loadConfig({ flags: {}, env: {}, configFile: yamlFile('ttl: never\n') })).toThrow(
      'invalid ttl (config file key ttl): "never"',
    );
    expect(() => loadConfig({ flags: {}, env: {}, configFile: yamlFile('tll: 10s\n') })).toThrow(
      'invalid tll (config file key tll): "10s"; unknown key',
    );
    expect(() => loadConfig({ flags: {}, env: {}, configFile: join(dir, 'missing.yaml') })).toThrow(
      'a readable YAML file',
    );
  });

  it('never shows a store password or the admin token', () => {
    const config = loadConfig({
      flags: { store: 'redis://app:hunter2@cache:6379/0' },
      env: { LEASEHOLD_ADMIN_TOKEN: 'a-very-secret-admin-token' },
    });
    const shown = JSON.stringify(describeConfig(config));
    expect(shown).not.toContain('hunter2');
    expect(shown).not.toContain('a-very-secret-admin-token');
    expect(shown).toContain('redis://app:***@cache:6379/0');
    expect(() => loadConfig({ flags: { 'admin-token': 'short' }, env: {} })).toThrow(
      'invalid admin-token (flag --admin-token): "***"',
    );
    expect(() => loadConfig({ flags: { store: 'ftp://u:hunter2@h' }, env: {} })).toThrow(
      'invalid store (flag --store): "ftp://u:***@h"',
    );
  });
});

describe('docs/configuration.md', () => {
  it('documents every flag, environment variable and YAML key', async () => {
    const { readFileSync } = await import('node:fs');
    const { FIELDS } = await import('@leasehold/sidecar');
    const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    for (const f of FIELDS) {
      expect(doc).toContain(`| \`--${f.flag}\``);
      expect(doc).toContain(`\`${f.env}\``);
      expect(doc).toContain(`\`${f.yaml}\``);
    }
  });
});
