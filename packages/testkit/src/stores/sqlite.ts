import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoreFixture } from './server.js';

/** A SQLite file of its own: every sidecar on this host, in any namespace, shares it. */
export class SqliteFile implements StoreFixture {
  readonly backend = 'sqlite';
  private readonly dir = mkdtempSync(join(tmpdir(), 'lhch-sqlite-'));

  get url(): string {
    return `sqlite://${join(this.dir, 'leasehold.db')}`;
  }

  async close(): Promise<void> {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
