import { FIELDS, loadConfig } from '@leasehold/sidecar';
import { describe, expect, it } from 'vitest';
import { readRepoFile } from './support/repo-files.js';

// docs/migrating-from-leader-elector.md maps leader-elector's flags to leasehold's: every
// flag and variable it names on leasehold's side must exist, and the defaults it quotes
// must be the configuration's.

const doc = readRepoFile('docs/migrating-from-leader-elector.md');
const rows = doc
  .slice(doc.indexOf('## Flags'), doc.indexOf('## `GET /` stays compatible'))
  .split('\n')
  .filter((line) => line.startsWith('| `'))
  .map((line) => line.split('|').map((cell) => cell.trim()));
const leaseholdColumn = rows.map((cells) => cells[2] ?? '');
const defaults = loadConfig({ flags: {}, env: {} });

describe('docs/migrating-from-leader-elector.md', () => {
  it('maps flags to leasehold flags and variables that exist', () => {
    expect(rows.length).toBeGreaterThanOrEqual(6);
    const flags = new Set(FIELDS.map((field) => `--${field.flag}`));
    const env = new Set(FIELDS.map((field) => field.env));
    const named = leaseholdColumn.flatMap((cell) =>
      [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? ''),
    );
    const settings = named.filter((name) => name.startsWith('--') || name.startsWith('LEASEHOLD_'));
    expect(settings.length).toBeGreaterThanOrEqual(10);
    for (const name of settings) expect(flags.has(name) || env.has(name), name).toBe(true);
  });

  it('quotes the defaults the configuration has', () => {
    expect(defaults.ttlMs).toBe(10_000);
    expect(doc).toContain('`LEASEHOLD_TTL` (10 s)');
    expect(doc).toContain(`(\`${defaults.host}:${defaults.port}\`)`);
    expect(defaults.retryIntervalMs).toBe(1_000);
    expect(defaults.renewIntervalMs).toBeUndefined(); // TTL / 3, as the page says
  });
});
