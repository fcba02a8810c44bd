import { createStore } from '@leasehold/adapters';
import { LeaseholdConfigError, type LeaseStore } from '@leasehold/core';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

// The SQLite database decides who leads: its directory and files must be this user's and
// closed to others, whatever the umask, and what another user planted is refused.

const root = mkdtempSync(join(tmpdir(), 'leasehold-files-'));
// Other users must reach the directories the tests let them plant in.
chmodSync(root, 0o755);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const opened: LeaseStore[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
});

let count = 0;
function freshDir(): string {
  count += 1;
  const dir = join(root, `case-${count}`);
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(dir, 0o755);
  return dir;
}

async function open(path: string): Promise<LeaseStore> {
  const store = await createStore(`sqlite://${path}`, { namespace: 'files' });
  opened.push(store);
  await store.tryAcquire({ election: 'e', holder: 'h', token: 't', ttlMs: 5_000, metadata: {} });
  return store;
}

async function refusal(path: string): Promise<LeaseholdConfigError> {
  const failure = await createStore(`sqlite://${path}`, { namespace: 'files' }).then(
    async (store) => {
      await store.close();
      return null;
    },
    (error: unknown) => error,
  );
  expect(failure).toBeInstanceOf(LeaseholdConfigError);
  return failure as LeaseholdConfigError;
}

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

/** Run a shell command as `nobody`, as the reviewer did. */
function asNobody(script: string): void {
  const result = spawnSync(
    'setpriv',
    ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'sh', '-c', script],
    { encoding: 'utf8' },
  );
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
}

describe('sqlite files', () => {
  it('creates the directories 0700 and the files 0600, whatever the umask', async () => {
    const previous = process.umask(0o000);
    try {
      const db = join(freshDir(), '.leasehold', 'nested', 'leasehold.db');
      await open(db);
      expect(mode(join(db, '..', '..'))).toBe('700');
      expect(mode(join(db, '..'))).toBe('700');
      for (const file of [db, `${db}-wal`, `${db}-shm`]) expect(mode(file)).toBe('600');
    } finally {
      process.umask(previous);
    }
  });

  it('closes a database of its own that others could read (made by an older version)', async () => {
    const dir = freshDir();
    chmodSync(dir, 0o755);
    const db = join(dir, 'leasehold.db');
    writeFileSync(db, '', { mode: 0o644 });
    await open(db);
    expect(mode(db)).toBe('600');
  });

  it('refuses a directory or a database that others can write', async () => {
    const dir = freshDir();
    chmodSync(dir, 0o777);
    const failure = await refusal(join(dir, 'leasehold.db'));
    expect(failure.message).toContain(dir);
    expect(failure.message).toMatch(/writable by its group and others \(mode 0777\)/);
    expect(failure.message).toContain(`chmod 700 ${dir}`);

    const other = freshDir();
    const db = join(other, 'leasehold.db');
    writeFileSync(db, '');
    chmodSync(db, 0o620);
    expect((await refusal(db)).message).toMatch(/leasehold\.db.*writable by its group/);
  });

  it('refuses a symbolic link to a database', async () => {
    const dir = freshDir();
    const target = join(dir, 'real.db');
    await open(target);
    await Promise.all(opened.splice(0).map((store) => store.close()));
    const link = join(dir, 'link.db');
    symlinkSync(target, link);
    const failure = await refusal(link);
    expect(failure.message).toContain(link);
    expect(failure.message).toMatch(/symbolic link/);
  });

  it('refuses a symbolic link as the directory, and as a journal', async () => {
    const dir = freshDir();
    const real = join(dir, 'real');
    mkdirSync(real, { mode: 0o700 });
    symlinkSync(real, join(dir, 'linked'));
    const failure = await refusal(join(dir, 'linked', 'leasehold.db'));
    expect(failure.message).toContain(join(dir, 'linked'));
    expect(failure.message).toMatch(/symbolic link/);

    const elsewhere = join(freshDir(), 'stolen-wal');
    writeFileSync(elsewhere, '');
    symlinkSync(elsewhere, join(real, 'leasehold.db-wal'));
    expect((await refusal(join(real, 'leasehold.db'))).message).toMatch(
      /leasehold\.db-wal.*symbolic link/,
    );
  });
});

describe.runIf(process.geteuid?.() === 0)('sqlite files another user planted', () => {
  it("refuses nobody's world-writable .leasehold/ with an empty database in it", async () => {
    // A shared working directory, such as /tmp, where anyone may create .leasehold/ first.
    const shared = freshDir();
    chmodSync(shared, 0o1777);
    const dir = join(shared, '.leasehold');
    asNobody(`mkdir -m 777 ${dir} && : > ${dir}/leasehold.db && chmod 666 ${dir}/leasehold.db`);
    const failure = await refusal(join(dir, 'leasehold.db'));
    expect(failure.message).toContain(dir);
    expect(failure.message).toMatch(/belongs to uid 65534, not to this user \(uid 0\) or root/);
  });

  it.each(['', '-wal', '-shm', '-journal'])(
    'refuses a database file%s nobody left in a directory now private',
    async (suffix) => {
      const dir = freshDir();
      chmodSync(dir, 0o777);
      asNobody(`: > ${dir}/leasehold.db${suffix} && chmod 600 ${dir}/leasehold.db${suffix}`);
      chmodSync(dir, 0o700);
      chownSync(dir, 0, 0);
      const failure = await refusal(join(dir, 'leasehold.db'));
      expect(failure.message).toContain(`${dir}/leasehold.db${suffix}`);
      expect(failure.message).toMatch(/belongs to uid 65534/);
    },
  );
});
