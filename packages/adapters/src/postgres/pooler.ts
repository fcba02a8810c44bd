import { StorePoolerError } from '@leasehold/core';
import type pg from 'pg';

/**
 * Leadership rests on a session-level advisory lock, which lives on one server backend. A
 * pooler that hands a client's statements to whichever backend is free (PgBouncer's
 * transaction or statement pooling) leaves the lock on a backend that other clients then
 * use: two candidates would each "hold" it. Session pooling, and a direct connection, give
 * a client one backend for as long as it stays connected.
 *
 * The check, with two connections A and B: A asks for its backend; B opens a transaction
 * (which pins B to a backend under any pooling) and asks for its own; A asks again. With a
 * backend per client, B's differs from A's and A's stays the same. A pooler that shares
 * backends between transactions gives B the one A just left, or moves A to another while B
 * holds A's. A pooler in statement mode refuses B's transaction outright. Other clients of
 * the pooler can only hide sharing (they take the freed backend first), never invent it:
 * the check never refuses a working connection, and it tries a few times.
 */

const ATTEMPTS = 3;
/** For each query of the check, as long as the store's own connection may take to open. */
const TIMEOUT_MS = 5_000;

export type SharedBackend = 'transaction' | 'statement';

/** Opens a new connection to the store, as the store's own session is opened. */
export type Connect = (extra: pg.ClientConfig) => Promise<pg.Client>;

/** Refuse a connection whose server backend is not its own for the whole session. */
export async function assertOwnBackend(connect: Connect, where: string): Promise<void> {
  const sharing = await detectSharedBackend(connect);
  if (sharing === null) return;
  throw new StorePoolerError(
    `postgres at ${where} is behind a pooler in ${sharing} pooling mode, which moves a session's advisory lock between clients; connect leasehold directly to PostgreSQL or through a pool in session mode (PgBouncer: pool_mode = session)`,
  );
}

/** How the connection's backend is shared between clients, or null when it is not. */
export async function detectSharedBackend(connect: Connect): Promise<SharedBackend | null> {
  const extra = { application_name: 'leasehold-pooler-check', query_timeout: TIMEOUT_MS };
  const clients = await Promise.allSettled([connect(extra), connect(extra)]);
  const connected = clients.flatMap((c) => (c.status === 'fulfilled' ? [c.value] : []));
  // Errors surface through the queries; a stray one after the end must not crash us.
  for (const client of connected) client.on('error', () => {});
  try {
    const [a, b] = connected;
    if (a === undefined || b === undefined) {
      const failed = clients.find((c) => c.status === 'rejected');
      throw failed?.reason ?? new Error('the pooler check could not connect');
    }
    for (let attempt = 0; attempt < ATTEMPTS; attempt += 1) {
      const sharing = await compareBackends(a, b);
      if (sharing !== null) return sharing;
    }
    return null;
  } finally {
    await Promise.all(connected.map((client) => client.end().catch(() => {})));
  }
}

async function compareBackends(a: pg.Client, b: pg.Client): Promise<SharedBackend | null> {
  const first = await backendOf(a);
  try {
    await b.query('BEGIN');
  } catch (error) {
    if (refusesTransactions(error)) return 'statement';
    throw error;
  }
  try {
    const other = await backendOf(b);
    const again = await backendOf(a);
    return other === first || again !== first ? 'transaction' : null;
  } finally {
    await b.query('ROLLBACK');
  }
}

async function backendOf(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const pid = rows[0]?.pid;
  if (pid === undefined) throw new Error('SELECT pg_backend_pid() returned no row');
  return pid;
}

/** PgBouncer in statement mode: "transaction blocks not allowed in statement pooling mode". */
function refusesTransactions(error: unknown): boolean {
  return error instanceof Error && /statement pooling/i.test(error.message);
}
