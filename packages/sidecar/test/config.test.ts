import {
  commandGraceRule,
  describeConfig,
  loadConfig,
  parseDuration,
  DEFAULT_STORE,
} from '@leasehold/sidecar';
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
      /^unknown key "tll" in config file .*; did you mean ttl\?$/,
    );
    expect(() => loadConfig({ flags: {}, env: {}, configFile: join(dir, 'missing.yaml') })).toThrow(
      'a readable YAML file',
    );
  });

  it('shows the renew interval the elector will use, set or derived from the TTL', () => {
    expect(describeConfig(loadConfig({ flags: { ttl: '9s' }, env: {} }))).toMatchObject({
      ttl: 9_000,
      renewInterval: 3_000,
    });
    const set = loadConfig({ flags: { ttl: '9s', 'renew-interval': '2s' }, env: {} });
    expect(describeConfig(set)).toMatchObject({ renewInterval: 2_000 });
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

describe('the YAML file, as people write it', () => {
  const secret = 'lhsu-secret-admin-token-0123';
  const load = (yaml: string, env: Record<string, string> = {}) =>
    loadConfig({ flags: {}, env, configFile: yamlFile(yaml) });

  it('accepts the flag spelling of every key', () => {
    const config = load(`admin-token: ${secret}\nstore-prefix: lhsu\nrenew-interval: 2s\n`);
    expect(config).toMatchObject({ adminToken: secret, namespace: 'lhsu', renewIntervalMs: 2_000 });
  });

  it.each([
    ['admin_token', 'adminToken'],
    ['LEASEHOLD_ADMIN_TOKEN', 'adminToken'],
    ['adminTokn', 'adminToken'],
    // The setting's former name, misspelt: the current name is suggested.
    ['store_prefix', 'namespace'],
  ])('refuses %s, suggests %s, and never repeats the value', (key, suggestion) => {
    let message = '';
    try {
      load(`${key}: ${secret}\n`);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain(`unknown key "${key}"`);
    expect(message).toContain(`did you mean ${suggestion}?`);
    expect(message).not.toContain(secret);
  });

  it('refuses one setting spelt twice, showing neither value', () => {
    expect(() => load(`adminToken: ${secret}\nadmin-token: ${secret}x\n`)).toThrow(
      /sets adminToken twice \(as adminToken and as admin-token\); keep one$/,
    );
  });

  it('masks a secret whatever the spelling of its key', () => {
    expect(() => load('admin-token: short\n')).toThrow(
      'invalid admin-token (config file key admin-token): "***"',
    );
    expect(() => load(`store: ftp://u:${secret}@h\n`)).toThrow('"ftp://u:***@h"');
  });

  it('never quotes a file it cannot parse', () => {
    expect(() => load(`adminToken: "${secret}\nstore: [\n`)).toThrow(/is not valid YAML: [^\n]*$/);
    expect(() => load(`adminToken: "${secret}\nstore: [\n`)).not.toThrow(secret);
  });
});

describe('timing rules', () => {
  it.each([
    [
      { flags: { ttl: '10s', 'renew-interval': '6s' }, env: {} },
      'invalid renew-interval (flag --renew-interval): "6s"; must be at least 10 ms and less than ttl / 2 (5000 ms)',
    ],
    [
      { flags: {}, env: { LEASEHOLD_TTL: '500ms' } },
      'invalid ttl (environment LEASEHOLD_TTL): "500ms"; must be between 1000 ms and',
    ],
    [
      { flags: {}, env: { LEASEHOLD_TTL: '2s' }, configFile: yamlFile('retry-interval: 3s\n') },
      'invalid retry-interval (config file key retry-interval): "3s"; must be at least 10 ms and at most ttl (2000 ms)',
    ],
  ])("are the elector's, in the words the user typed: %j", (input, message) => {
    expect(() => loadConfig(input)).toThrow(message);
    expect(() => loadConfig(input)).not.toThrow(/\b[a-z]+Ms\b/);
  });

  it('command grace below the shutdown grace, naming both as given', () => {
    const config = loadConfig({
      flags: { 'command-grace': '5s' },
      env: { LEASEHOLD_SHUTDOWN_GRACE: '5s' },
    });
    expect(commandGraceRule(config)?.message).toBe(
      'invalid command-grace (flag --command-grace): "5s"; must be below the shutdown grace (5s from environment LEASEHOLD_SHUTDOWN_GRACE)',
    );
    expect(commandGraceRule(loadConfig({ flags: {}, env: {} }))).toBeNull();
  });
});

describe('the namespace setting, one name with its former one kept', () => {
  it.each([
    ['flag --store-prefix', { flags: { 'store-prefix': 'lhold' }, env: {} }],
    ['LEASEHOLD_STORE_PREFIX', { flags: {}, env: { LEASEHOLD_STORE_PREFIX: 'lhold' } }],
    ['YAML storePrefix', { flags: {}, env: {}, configFile: yamlFile('storePrefix: lhold\n') }],
  ])('takes the former spelling %s', (_name, input) => {
    expect(loadConfig(input).namespace).toBe('lhold');
  });

  it('takes --namespace, LEASEHOLD_NAMESPACE and namespace:, and refuses both names at once', () => {
    expect(loadConfig({ flags: { namespace: 'a' }, env: {} }).namespace).toBe('a');
    expect(loadConfig({ flags: {}, env: { LEASEHOLD_NAMESPACE: 'b' } }).namespace).toBe('b');
    const file = yamlFile('namespace: c\n');
    expect(loadConfig({ flags: {}, env: {}, configFile: file }).namespace).toBe('c');
    expect(() =>
      loadConfig({ flags: {}, env: { LEASEHOLD_NAMESPACE: 'b', LEASEHOLD_STORE_PREFIX: 'd' } }),
    ).toThrow(
      'invalid namespace: both LEASEHOLD_NAMESPACE and LEASEHOLD_STORE_PREFIX (its former name) are given; keep LEASEHOLD_NAMESPACE',
    );
    expect(() =>
      loadConfig({ flags: {}, env: {}, configFile: yamlFile('namespace: a\nstorePrefix: b\n') }),
    ).toThrow(/sets namespace twice \(as namespace and as storePrefix\)/);
  });

  it("names the spelling the user wrote in a bad value's line", () => {
    expect(() => loadConfig({ flags: { 'store-prefix': 'Bad-Name' }, env: {} })).toThrow(
      /^invalid namespace \(flag --store-prefix\): "Bad-Name"/,
    );
  });
});

describe('timing defaults', () => {
  it("are core's, not typed again", async () => {
    const { TIMING_DEFAULTS } = await import('@leasehold/core');
    const config = loadConfig({ flags: {}, env: {} });
    expect([config.ttlMs, config.retryIntervalMs]).toEqual([
      TIMING_DEFAULTS.ttlMs,
      TIMING_DEFAULTS.retryIntervalMs,
    ]);
  });
});

describe('docs/configuration.md', () => {
  it('shows each default as --help does, and the command grace rule', async () => {
    const { readFileSync } = await import('node:fs');
    const { FIELDS } = await import('@leasehold/sidecar');
    const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    for (const f of FIELDS) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`--${f.flag}\``)) ?? '';
      expect(row.split('|').map((cell) => cell.trim())[4], f.flag).toBe(f.defaultText);
    }
    expect(doc.replace(/\s+/g, ' ')).toContain('command grace must be below the shutdown grace');
  });

  it('documents every flag, environment variable and YAML key', async () => {
    const { readFileSync } = await import('node:fs');
    const { FIELDS, SECRET_FILE_OPTIONS } = await import('@leasehold/sidecar');
    const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    for (const f of [...FIELDS, ...SECRET_FILE_OPTIONS]) {
      expect(doc).toContain(`| \`--${f.flag}\``);
      expect(doc).toContain(`\`${f.env}\``);
      expect(doc).toContain(`\`${f.yaml}\``);
    }
  });
});
