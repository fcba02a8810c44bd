import { LeaseholdConfigError } from '@leasehold/core';
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { StoreOptions } from '../options.js';

/**
 * TLS to PostgreSQL with libpq's `sslmode` meanings, built here rather than by node-postgres:
 * given a connection string with any TLS parameter, node-postgres rebuilds `ssl` from it and
 * drops the CA, certificate and key passed beside it.
 *
 * - disable: no TLS. allow: plain, TLS only if the server refuses plain. prefer (libpq's
 *   default): TLS without verification, plain if the server has no TLS.
 * - require: TLS without verification, unless a CA is given: then verify-ca, as libpq does.
 * - verify-ca: the CA must sign the server's certificate; its name is not checked.
 * - verify-full: verify-ca, and the certificate must name the URL's host.
 * - A CA given without sslmode (or PGSSLMODE) means verify-full: a CA is only given to check.
 * - no-verify (node-postgres' own): TLS, never verified, even with a CA.
 *
 * The CA, client certificate and key (`--store-ca`, `--store-cert`, `--store-key`, or the
 * URL's sslrootcert, sslcert, sslkey files) are used in every mode that uses TLS. Over a
 * Unix socket there is no TLS, as with libpq.
 */

export const SSL_MODES = [
  'disable',
  'allow',
  'prefer',
  'require',
  'verify-ca',
  'verify-full',
  'no-verify',
] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** How to connect: TLS settings for node-postgres, false for none. */
export type SslSetting = false | ConnectionOptions;

export interface SslPlan {
  readonly mode: SslMode;
  readonly ssl: SslSetting;
  /** allow and prefer: one more attempt, with `ssl`, when the first fails as `when` says. */
  readonly otherwise?: {
    readonly ssl: SslSetting;
    readonly when: (error: unknown) => boolean;
  };
}

/** URL parameters that are TLS settings: node-postgres must never see them. */
const TLS_PARAMETERS = [
  'ssl',
  'sslmode',
  'sslrootcert',
  'sslcert',
  'sslkey',
  'sslnegotiation',
  'uselibpqcompat',
] as const;

type TlsMaterial = NonNullable<StoreOptions['tls']>;

/** The URL without its TLS parameters, and the plan they and `tls` make. */
export function sslPlan(
  url: URL,
  tls: StoreOptions['tls'],
  overTcp: boolean,
): { readonly url: URL; readonly plan: SslPlan } {
  const material = { ...fromUrlFiles(url), ...withoutEmpty(tls) };
  const mode = sslModeOf(url, material);
  const stripped = new URL(url.href);
  for (const parameter of TLS_PARAMETERS) stripped.searchParams.delete(parameter);
  return { url: stripped, plan: planFor(overTcp ? mode : 'disable', material) };
}

function sslModeOf(url: URL, material: TlsMaterial): SslMode {
  const given = url.searchParams.get('sslmode') ?? process.env.PGSSLMODE ?? null;
  if (given === null) return material.ca === undefined ? 'prefer' : 'verify-full';
  if (!(SSL_MODES as readonly string[]).includes(given)) {
    throw new LeaseholdConfigError(
      'store parameter sslmode',
      given,
      'use disable, allow, prefer, require, verify-ca or verify-full (as libpq)',
    );
  }
  return given as SslMode;
}

function planFor(mode: SslMode, material: TlsMaterial): SslPlan {
  const files = withoutEmpty(material);
  const unverified: ConnectionOptions = { ...files, rejectUnauthorized: false };
  const verifyCa: ConnectionOptions = {
    ...files,
    rejectUnauthorized: true,
    // The chain is checked; the name is not (verify-ca).
    checkServerIdentity: () => undefined,
  };
  switch (mode) {
    case 'disable':
      return { mode, ssl: false };
    case 'allow':
      return { mode, ssl: false, otherwise: { ssl: unverified, when: plainRefused } };
    case 'prefer':
      return { mode, ssl: unverified, otherwise: { ssl: false, when: noTlsOnServer } };
    case 'require':
      return { mode, ssl: files.ca === undefined ? unverified : verifyCa };
    case 'verify-ca':
      return { mode, ssl: verifyCa };
    case 'verify-full':
      return { mode, ssl: { ...files, rejectUnauthorized: true } };
    case 'no-verify':
      return { mode, ssl: unverified };
  }
}

/** node-postgres' answer when the server declines TLS. */
function noTlsOnServer(error: unknown): boolean {
  return error instanceof Error && /does not support SSL/i.test(error.message);
}

/** The server's answer to a plain connection that pg_hba.conf only allows with TLS. */
function plainRefused(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : '';
  return code === '28000' && error instanceof Error && /no encryption/i.test(error.message);
}

/** libpq's sslrootcert, sslcert and sslkey: files, read once ("system" is the default CAs). */
function fromUrlFiles(url: URL): TlsMaterial {
  const read = (parameter: string): string | undefined => {
    const path = url.searchParams.get(parameter);
    if (path === null || path === '' || (parameter === 'sslrootcert' && path === 'system')) {
      return undefined;
    }
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new LeaseholdConfigError(
        `store parameter ${parameter}`,
        path,
        `a readable PEM file (${reason})`,
      );
    }
  };
  const ca = read('sslrootcert');
  const cert = read('sslcert');
  const key = read('sslkey');
  return {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
  };
}

function withoutEmpty(material: TlsMaterial | undefined): TlsMaterial {
  const { ca, cert, key } = material ?? {};
  return {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
  };
}
