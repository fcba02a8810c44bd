import type { LeaseStore } from '@leasehold/core';
import pg from 'pg';
import { createPostgresStore } from '../../src/postgres/index.js';

/** The shared PostgreSQL server the adapter tests run on (scripts/services.sh). */
export const SHARED_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** Run `work` on a connection of its own to the shared server, as the superuser. */
export async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: SHARED_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * The stores a test file opens on the shared server in one schema: `open()` in a test,
 * `closeAll()` in its afterEach, `dropSchema()` in its afterAll.
 */
export class SharedServerStores {
  private readonly opened: LeaseStore[] = [];

  constructor(readonly schema: string) {}

  async open(): Promise<LeaseStore> {
    const store = await createPostgresStore(new URL(SHARED_URL), { namespace: this.schema });
    this.opened.push(store);
    return store;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.opened.splice(0).map((store) => store.close()));
  }

  dropSchema(): Promise<void> {
    return admin(async (client) => {
      await client.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`);
    });
  }
}
