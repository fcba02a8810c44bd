/** SQL shared by the adapters that speak it (PostgreSQL, SQLite). */

/**
 * A name quoted as an SQL identifier: in double quotes, a double quote doubled. Both
 * PostgreSQL and SQLite read it so, whatever characters the name holds.
 */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
