/**
 * The lease table's SQL (store.ts runs it; the members table's is in members.ts). Table
 * names come quoted (../sql-identifier.ts), from the namespace.
 */

/** A lease row as selectLeaseSql reads it. */
export interface LeaseRow {
  election: string;
  holder: string | null;
  token: string | null;
  term: number;
  metadata: string;
  expires_at: number;
  boot: string;
  /** Null in rows written before the column existed. */
  ttl_ms: number | null;
  /**
   * A transfer's reservation (docs/design.md §3.6), null when none: for whom, from whom,
   * until when on the monotonic clock, for how long, and in which boot.
   */
  reserved_for: string | null;
  reserved_from: string | null;
  reserved_until: number | null;
  reserved_ms: number | null;
  reserved_boot: string | null;
}

/** Both tables, as the first version created them (later columns: addColumnSql). */
export function createTablesSql(leases: string, members: string): string {
  return `
        CREATE TABLE IF NOT EXISTS ${leases} (
          election   TEXT PRIMARY KEY,
          holder     TEXT,
          token      TEXT,
          term       INTEGER NOT NULL,
          metadata   TEXT NOT NULL DEFAULT '{}',
          expires_at INTEGER NOT NULL,
          boot       TEXT NOT NULL,
          released   INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE IF NOT EXISTS ${members} (
          election   TEXT NOT NULL,
          id         TEXT NOT NULL,
          record     TEXT NOT NULL,
          expires_at INTEGER NOT NULL,
          boot       TEXT NOT NULL,
          PRIMARY KEY (election, id)
        );`;
}

/** The lease table's reservation columns, added to tables an older version created. */
export const RESERVATION_COLUMNS = [
  'reserved_for TEXT',
  'reserved_from TEXT',
  'reserved_until INTEGER',
  'reserved_ms INTEGER',
  'reserved_boot TEXT',
];

/** The columns a table has (rows with `name`). */
export function tableInfoSql(table: string): string {
  return `PRAGMA table_info(${table})`;
}

/** Adds `column` (its name and type) to `table`. */
export function addColumnSql(table: string, column: string): string {
  return `ALTER TABLE ${table} ADD COLUMN ${column}`;
}

/** A claim's SET clause that consumes the reservation. */
const NO_RESERVATION = `reserved_for = NULL, reserved_from = NULL, reserved_until = NULL,
  reserved_ms = NULL, reserved_boot = NULL`;

/**
 * Writes the lease (an ordinary claim: it consumes any reservation). Parameters: election,
 * holder, token, term, metadata, expires_at, boot, ttl_ms.
 */
export function claimSql(leases: string): string {
  return `INSERT INTO ${leases} (election, holder, token, term, metadata, expires_at, boot, ttl_ms, released)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)
         ON CONFLICT (election) DO UPDATE SET holder = excluded.holder, token = excluded.token,
           term = excluded.term, metadata = excluded.metadata, expires_at = excluded.expires_at,
           boot = excluded.boot, ttl_ms = excluded.ttl_ms, released = 0, ${NO_RESERVATION}`;
}

/**
 * Extends a live lease of this boot. Parameters: new expires_at, ttl_ms, election, token,
 * now, boot.
 */
export function renewSql(leases: string): string {
  return `UPDATE ${leases} SET expires_at = ?, ttl_ms = ?
           WHERE election = ? AND token = ? AND expires_at > ? AND boot = ?`;
}

/** Releases the lease the token holds. Parameters: election, token. */
export function releaseSql(leases: string): string {
  return `UPDATE ${leases} SET holder = NULL, token = NULL, metadata = '{}', released = 1, expires_at = 0
           WHERE election = ? AND token = ?`;
}

/**
 * Releases a live lease of this boot as releaseSql does and reserves the election.
 * Parameters: successor, from, reserved_until, reserved_ms, reserved_boot, then election,
 * token, now, boot.
 */
export function handOverSql(leases: string): string {
  return `UPDATE ${leases} SET holder = NULL, token = NULL, metadata = '{}', released = 1,
             expires_at = 0, reserved_for = ?, reserved_from = ?, reserved_until = ?,
             reserved_ms = ?, reserved_boot = ?
           WHERE election = ? AND token = ? AND expires_at > ? AND boot = ?`;
}

const LEASE_COLUMNS = `election, holder, token, term, metadata, expires_at, boot, ttl_ms, reserved_for,
           reserved_from, reserved_until, reserved_ms, reserved_boot`;

/** The election's lease row (a LeaseRow). Parameter: election. */
export function selectLeaseSql(leases: string): string {
  return `SELECT ${LEASE_COLUMNS} FROM ${leases} WHERE election = ?`;
}

/** The lease rows (LeaseRows) of many elections. Parameter: their names, a JSON array. */
export function selectLeasesSql(leases: string): string {
  return `SELECT ${LEASE_COLUMNS} FROM ${leases}
         WHERE election IN (SELECT value FROM json_each(?))`;
}
