import { LeaseholdConfigError, type LeaseStore } from '@leasehold/core';
import type pg from 'pg';
import {
  DEFAULT_NAMESPACE,
  PORTABLE_NAMESPACE,
  requestTimeout,
  type StoreOptions,
} from '../options.js';
import { PostgresStore, STATEMENT_TIMEOUT_MS } from './store.js';

/**
 * `postgres://` / `postgresql://` URLs as libpq reads them (`sslmode`, `application_name`…);
 * what the URL leaves out comes from the usual PG* variables (PGHOST, PGUSER, PGPASSWORD…).
 * The namespace is the schema holding leasehold's tables.
 */
export async function createPostgresStore(
  url: URL,
  options: StoreOptions = {},
): Promise<LeaseStore> {
  const schema = options.namespace ?? DEFAULT_NAMESPACE;
  if (!PORTABLE_NAMESPACE.pattern.test(schema)) {
    throw new LeaseholdConfigError(
      'namespace',
      schema,
      'a PostgreSQL schema name: lower-case letters, digits and _, starting with a letter or _, at most 63 characters',
    );
  }
  const sslmode = url.searchParams.get('sslmode');
  if (
    sslmode !== null &&
    !['disable', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'].includes(sslmode)
  ) {
    throw new LeaseholdConfigError(
      'store parameter sslmode',
      sslmode,
      'use disable, prefer, require, verify-ca or verify-full',
    );
  }
  const connection: pg.ClientConfig = {
    connectionString: url.href.replace(/^postgresql:/, 'postgres:'),
    // TLS material only; whether to use TLS at all is the URL's sslmode, as with libpq.
    ...(options.tls === undefined || Object.keys(options.tls).length === 0 || sslmode === 'disable'
      ? {}
      : {
          ssl: {
            rejectUnauthorized: sslmode === 'verify-ca' || sslmode === 'verify-full',
            ...(options.tls.ca === undefined ? {} : { ca: options.tls.ca }),
            ...(options.tls.cert === undefined ? {} : { cert: options.tls.cert }),
            ...(options.tls.key === undefined ? {} : { key: options.tls.key }),
          },
        }),
  };
  const host = url.hostname || process.env.PGHOST || 'localhost';
  const port = url.port || process.env.PGPORT || '5432';
  const where = `${host}:${port}${url.pathname || ''}`;
  // A host starting with / is a Unix socket directory, also as ?host=…: nothing to probe.
  const overTcp = !host.startsWith('/') && !url.searchParams.has('host');
  const store = new PostgresStore({
    connection,
    schema,
    where,
    statementTimeoutMs: requestTimeout(options, STATEMENT_TIMEOUT_MS),
    ...(overTcp ? { endpoint: { host: host.replace(/^\[|\]$/g, ''), port: Number(port) } } : {}),
  });
  await store.probe();
  return store;
}
