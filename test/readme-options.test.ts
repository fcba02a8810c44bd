import { Elector, LeaseholdError, type ElectorOptions } from '@leasehold/core';
import { createMemoryStore } from '@leasehold/core/testing';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// The README's table of Elector options says which error code each broken rule throws;
// the constructor must throw exactly that.
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const table = readme.slice(readme.indexOf('| option '), readme.indexOf('`elector.members()`'));
const documented = new Map(
  [...table.matchAll(/^\| `(\w+)`\s*\|[^\n]*\| `(LEASEHOLD_E_[A-Z_]+)` \|$/gm)].map(
    (m) => [m[1] ?? '', m[2] ?? ''] as const,
  ),
);

const broken: Record<string, Partial<ElectorOptions>> = {
  ttlMs: { ttlMs: 999 },
  renewIntervalMs: { renewIntervalMs: 5 },
  retryIntervalMs: { retryIntervalMs: 0 },
  maxClockDriftRatio: { maxClockDriftRatio: 0.5 },
  safetyMarginMs: { safetyMarginMs: -1 },
  priority: { priority: 1.5 },
  election: { election: 'has space' },
  id: { id: 'two words' },
  store: { store: undefined as unknown as ElectorOptions['store'] },
};

describe('README: Elector options', () => {
  it('lists every option this test breaks, each with its error code', () => {
    expect([...documented.keys()].sort()).toEqual(Object.keys(broken).sort());
  });

  it.each(Object.entries(broken))('a broken %s throws the documented code', (option, bad) => {
    let thrown: unknown;
    try {
      new Elector({ store: createMemoryStore(), election: 'jobs', id: 'a', ...bad });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(LeaseholdError);
    expect((thrown as LeaseholdError).code).toBe(documented.get(option));
    expect((thrown as Error).message).toContain(option);
  });
});
