import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN } from './helpers/sidecar-processes.js';

// The review's attack: in a shared working directory, `nobody` creates a world-writable
// .leasehold/ with an empty database before root's sidecar starts there with the default
// store, then edits the lease row to depose it. The sidecar must refuse to start.

const shared = mkdtempSync(join(tmpdir(), 'leasehold-shared-'));
chmodSync(shared, 0o1777);
afterAll(() => rmSync(shared, { recursive: true, force: true }));

describe.runIf(process.geteuid?.() === 0)('the default SQLite store', () => {
  it('refuses a .leasehold/ another user planted: exit 2, one line naming it and the fix', () => {
    const planted = spawnSync(
      'setpriv',
      [
        '--reuid=nobody',
        '--regid=nogroup',
        '--clear-groups',
        'sh',
        '-c',
        'mkdir -m 777 .leasehold && : > .leasehold/leasehold.db && chmod 666 .leasehold/leasehold.db',
      ],
      { cwd: shared, encoding: 'utf8' },
    );
    expect(planted.status).toBe(0);
    const result = spawnSync(process.execPath, [BIN, '--election', 'lhe-planted', '--port', '0'], {
      cwd: shared,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^leasehold: invalid store file \(default\): "\.leasehold"; belongs to uid 65534, not to this user \(uid 0\) or root.*chown 0 \.leasehold && chmod 700 \.leasehold$/,
    );
  });
});
