import pg from 'pg';

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
