import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { stopOutsideSqliteWrite } from '@leasehold/testkit';

/**
 * The test kit's stop that tests and the chaos suite use for a frozen leader: it must see
 * SQLite's write lock, or a leader stopped inside a commit keeps everyone out (a CI failure
 * of run-overlap on SQLite, 2026-12-07).
 */
const betterSqlite = createRequire(
  new URL('../packages/adapters/package.json', import.meta.url),
).resolve('better-sqlite3');
const dir = mkdtempSync(join(tmpdir(), 'lh-sqlite-stop-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
});

/** A process with an SQLite file open in WAL mode, inside a write transaction or not. */
async function holder(file: string, inTransaction: boolean): Promise<ChildProcess> {
  const script = `
    const db = new (require(${JSON.stringify(betterSqlite)}))(process.argv[1]);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE IF NOT EXISTS t (x)');
    if (process.argv[2] === 'yes') { db.exec('BEGIN IMMEDIATE'); db.exec('INSERT INTO t VALUES (1)'); }
    console.log('ready');
    setInterval(() => {}, 1000);`;
  const args = ['-e', script, join(dir, file), inTransaction ? 'yes' : 'no'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await once(createInterface({ input: child.stdout ?? process.stdin }), 'line');
  return child;
}

describe('stopOutsideSqliteWrite', () => {
  it('stops a process without the write lock at once', async () => {
    const child = await holder('idle.db', false);
    expect(await stopOutsideSqliteWrite(child.pid ?? 0, (s) => child.kill(s))).toBe(1);
  });

  it('sees the write lock of a process inside a commit, and gives up after 20 stops', async () => {
    const child = await holder('busy.db', true);
    expect(await stopOutsideSqliteWrite(child.pid ?? 0, (s) => child.kill(s))).toBe(20);
  });
});
