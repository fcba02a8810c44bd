import { quoteIdentifier } from '../sql-identifier.js';

/**
 * PostgreSQL's schema: the tables leasehold keeps in the namespace's schema, their
 * migrations (columns added by later versions, with ADD COLUMN IF NOT EXISTS) and the
 * wake-up key (notifications.ts).
 */

/** The qualified names of leasehold's tables in one schema. */
export interface Tables {
  readonly leases: string;
  readonly members: string;
  readonly secrets: string;
}

/** The tables in the schema named `schema`. */
export function tablesIn(schema: string): Tables {
  const quoted = quoteIdentifier(schema);
  return {
    leases: `${quoted}.leases`,
    members: `${quoted}.members`,
    secrets: `${quoted}.secrets`,
  };
}

/**
 * Another candidate created the same schema object in the same moment (unique_violation on
 * the catalogue, duplicate_schema, duplicate_table) or the two DDL transactions deadlocked.
 */
export const LOST_SCHEMA_RACE = new Set(['23505', '42P06', '42P07', '40P01']);
export const SCHEMA_ATTEMPTS = 5;

/** The idempotent DDL and migrations: run at start-up and again when a table went missing. */
export function schemaSql(schema: string, tables: Tables): string {
  return `CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)};
       CREATE TABLE IF NOT EXISTS ${tables.leases} (
         election   text PRIMARY KEY,
         holder     text,
         token      text,
         term       bigint NOT NULL,
         metadata   jsonb,
         renewed_at timestamptz,
         expires_at timestamptz NOT NULL,
         released   boolean NOT NULL,
         claim_wait_ms double precision,
         timeline   integer,
         lock_id    bigint,
         reserved_for   text,
         reserved_from  text,
         reserved_until timestamptz
       );
       ALTER TABLE ${tables.leases} ADD COLUMN IF NOT EXISTS claim_wait_ms double precision;
       ALTER TABLE ${tables.leases} ADD COLUMN IF NOT EXISTS timeline integer;
       ALTER TABLE ${tables.leases} ADD COLUMN IF NOT EXISTS lock_id bigint;
       ALTER TABLE ${tables.leases} ADD COLUMN IF NOT EXISTS reserved_for text;
       ALTER TABLE ${tables.leases} ADD COLUMN IF NOT EXISTS reserved_from text;
       ALTER TABLE ${tables.leases} ADD COLUMN IF NOT EXISTS reserved_until timestamptz;
       CREATE TABLE IF NOT EXISTS ${tables.members} (
         election   text NOT NULL,
         id         text NOT NULL,
         record     jsonb NOT NULL,
         expires_at timestamptz NOT NULL,
         PRIMARY KEY (election, id)
       );
       CREATE TABLE IF NOT EXISTS ${tables.secrets} (
         name   text PRIMARY KEY,
         secret bytea NOT NULL
       );
       REVOKE ALL ON ${tables.leases}, ${tables.members}, ${tables.secrets} FROM PUBLIC;
       -- 32 random bytes (two v4 UUIDs: 244 random bits), made on the server: the key never
       -- appears in a statement. Only this role reads it: other roles must not hear (or fake)
       -- wake-ups.
       INSERT INTO ${tables.secrets} (name, secret)
         VALUES ('wake-up', decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'))
         ON CONFLICT (name) DO NOTHING;`;
}
