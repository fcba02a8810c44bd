import { LeaseholdConfigError } from '@leasehold/core';
import type pg from 'pg';
import {
  DEFAULT_NAMESPACE,
  PORTABLE_NAMESPACE,
  requestTimeout,
  type StoreOptions,
} from '../options.js';
import { STATEMENT_TIMEOUT_MS, type PostgresStoreOptions } from './store.js';
import { sslPlan } from './tls.js';

/**
 * `postgres://` / `postgresql://` URLs as libpq reads them (`sslmode`, `application_name`…;
 * TLS as in ./tls.ts);
 * what the URL leaves out comes from the usual PG* variables (PGHOST, PGUSER, PGPASSWORD…).
 * The namespace is the schema holding leasehold's tables.
 */
export function parsePostgresUrl(url: URL, options: StoreOptions = {}): PostgresStoreOptions {
  const schema = options.namespace ?? DEFAULT_NAMESPACE;
  if (!PORTABLE_NAMESPACE.pattern.test(schema)) {
    throw new LeaseholdConfigError(
      'namespace',
      schema,
      'a PostgreSQL schema name: lower-case letters, digits and _, starting with a letter or _, at most 63 characters',
    );
  }
  const host = url.hostname || process.env.PGHOST || 'localhost';
  const port = url.port || process.env.PGPORT || '5432';
  const where = `${host}:${port}${url.pathname || ''}`;
  // A host starting with / is a Unix socket directory, also as ?host=…: nothing to probe.
  const overTcp = !host.startsWith('/') && !url.searchParams.has('host');
  const tls = sslPlan(url, options.tls, overTcp);
  const connection: pg.ClientConfig = {
    connectionString: tls.url.href.replace(/^postgresql:/, 'postgres:'),
    ssl: tls.plan.ssl,
  };
  return {
    connection,
    ...(tls.plan.otherwise === undefined ? {} : { otherwise: tls.plan.otherwise }),
    schema,
    where,
    statementTimeoutMs: requestTimeout(options, STATEMENT_TIMEOUT_MS),
    ...(overTcp ? { endpoint: { host: host.replace(/^\[|\]$/g, ''), port: Number(port) } } : {}),
  };
}
