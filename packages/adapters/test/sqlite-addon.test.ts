import { createStore } from '@leasehold/adapters';
import { LeaseholdConfigError } from '@leasehold/core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

// better-sqlite3's addon is built per Node ABI: on a Node major the install has no build
// for (the release's self-contained sidecar on a new major, or a copy moved to another
// platform) its loader throws a page of tried paths. That must become one line saying what
// to do, and a configuration error: restarting cannot fix it.

const NOT_FOUND = [
  'Could not locate the bindings file. Tried:',
  ' → /opt/leasehold/node_modules/better-sqlite3/build/better_sqlite3.node',
  ' → /opt/leasehold/node_modules/better-sqlite3/build/Release/better_sqlite3.node',
].join('\n');

// `new Database(path)` throws as the real one does when `bindings` finds no addon.
vi.mock('better-sqlite3', () => ({
  default: function Database() {
    throw new Error(NOT_FOUND);
  },
}));

const dir = mkdtempSync(join(tmpdir(), 'leasehold-addon-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sqlite:// without a native addon for this Node', () => {
  it('fails with one line naming the store, the runtime and the remedy', async () => {
    const error = (await createStore(`sqlite://${dir}/x.db`).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(LeaseholdConfigError);
    expect(error.message).not.toContain('\n');
    expect(error.message).toBe(
      `invalid store: "sqlite://${dir}/x.db"; better-sqlite3 has no native addon for Node.js ` +
        `${process.version} (ABI ${process.versions.modules}) here: run npm rebuild better-sqlite3 ` +
        'with a C++ compiler, or use another store',
    );
  });
});
