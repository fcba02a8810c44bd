import {
  StoreAuthError,
  StoreClosedError,
  StoreProtocolError,
  StoreUnavailableError,
} from '@leasehold/core';
import { dnsHint } from '../first-connection.js';
import type { ErrorTranslator } from '../guarded-call.js';

/** The SQLSTATE of a pg error, or '' for anything else. */
export function errorCode(error: unknown): string {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
}

/**
 * A FATAL (or PANIC) answer: the server, or a pooler in front of it, ends the session after
 * sending it (idle_session_timeout's 57P05, pg_terminate_backend's 57P01, PgBouncer's
 * "server conn crashed?" when the server session under it ended). Every lock the session
 * held is gone with it: PgBouncer's server session ended, or is reset (DISCARD ALL) before
 * another client gets it.
 */
export function endsSession(error: unknown): boolean {
  const severity =
    typeof error === 'object' && error !== null && 'severity' in error ? error.severity : '';
  return severity === 'FATAL' || severity === 'PANIC';
}

/** The schema or a table is gone. */
export function isMissingRelation(error: unknown): boolean {
  const code = errorCode(error);
  return code === '42P01' || code === '3F000';
}

/** Node's TLS verification failures: a server certificate we do not trust, or ours refused. */
const TLS_TRUST_CODES =
  /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS_CERT_ALTNAME_INVALID|ALERT_(BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE)/;

/**
 * Translate whatever pg raised into leasehold's classes, so no driver error leaves a store
 * method. Unknown errors count as transient: the elector retries them, and its deadline keeps
 * leadership safe meanwhile.
 */
export const translateError: ErrorTranslator<{ readonly where: string }> = (
  error,
  operation,
  { where },
) => {
  if (error instanceof StoreClosedError || error instanceof StoreProtocolError) return error;
  const code =
    typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  const message = error instanceof Error ? error.message : String(error);
  if (TLS_TRUST_CODES.test(code) || /does not support SSL/i.test(message)) {
    return new StoreAuthError(
      `postgres ${operation} at ${where}: the TLS handshake failed (${code === '' ? '' : `${code}: `}${message}); check sslmode, the store CA (it must sign the server's certificate, which must name the URL's host under verify-full) and the client certificate and key`,
      { cause: error },
    );
  }
  if (code === '28000' && /pg_hba\.conf|certificate/i.test(message)) {
    return new StoreAuthError(
      `postgres ${operation} at ${where}: the server refused this connection (${message}); check its pg_hba.conf, sslmode and the client certificate`,
      { cause: error },
    );
  }
  if (code === '28P01' || code === '28000') {
    return new StoreAuthError(
      `postgres ${operation} at ${where}: the server refused the credentials (${message}); check the user and password in the store URL or PGPASSWORD`,
      { cause: error },
    );
  }
  if (code === '42501') {
    return new StoreAuthError(
      `postgres ${operation} at ${where}: permission denied (${message}); the user needs CREATE on the database (for the schema) and rights on leasehold's tables`,
      { cause: error },
    );
  }
  if (code === '3D000') {
    return new StoreAuthError(
      `postgres ${operation} at ${where}: ${message}; create the database or fix the URL`,
      {
        cause: error,
      },
    );
  }
  return new StoreUnavailableError(
    `postgres ${operation} at ${where} failed: ${message}${dnsHint(error)}`,
    {
      cause: error,
    },
  );
};
