import { StoreAuthError, StoreProtocolError, StoreUnavailableError } from '@leasehold/core';
import type { ErrorTranslator } from '../guarded-call.js';
import type { RedisOptions } from 'ioredis';
import { dnsHint } from '../first-connection.js';

/**
 * ioredis errors → leasehold's classes. Anything not recognised as fatal is transient
 * (connection refused, reset or closed, timeouts, MaxRetriesPerRequestError, LOADING,
 * READONLY, TRYAGAIN, CLUSTERDOWN, MASTERDOWN, BUSY, OOM…): the elector retries those.
 */
export type ErrorClass = 'transient' | 'auth' | 'tls' | 'protocol';

/** TLS verification failures: the server's certificate is not one we trust, or ours is refused. */
const TLS_TRUST_CODES =
  /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS_CERT_ALTNAME_INVALID|ALERT_(BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE)/;

export function classify(error: unknown): ErrorClass {
  const message = error instanceof Error ? error.message : String(error);
  const code = errorCode(error);
  if (
    /^(WRONGPASS|NOAUTH|NOPERM)|invalid (username-password|password)/i.test(message) ||
    // ACL refusals inside a script (Redis 7.0: "ERR The user executing the script can't
    // publish to the channel…"; later versions say NOPERM inside the script error).
    /user executing the script can't|\bNOPERM\b/.test(message)
  ) {
    return 'auth';
  }
  if (code !== undefined && TLS_TRUST_CODES.test(code)) return 'tls';
  if (/^ERR unknown command|^ERR .*(Lua|script)|^ERR wrong number/i.test(message)) {
    return 'protocol';
  }
  return 'transient';
}

/** Map an ioredis error to leasehold's classes, naming the cause but never a password. */
export const translateError: ErrorTranslator<RedisOptions> = (error, operation, options) => {
  const message = redact(error instanceof Error ? error.message : String(error), options);
  const where = options.sentinels
    ? `sentinel master "${options.name ?? ''}"`
    : `${options.host ?? ''}:${options.port ?? ''}`;
  const code = errorCode(error);
  switch (classify(error)) {
    case 'auth':
      return new StoreAuthError(
        `redis ${operation} at ${where}: the server refused the credentials or permission (${message}); check the user and password in the store URL and the user's ACL (commands, keys under the namespace, channels)`,
        { cause: error },
      );
    case 'tls':
      return new StoreAuthError(
        `redis ${operation} at ${where}: the TLS handshake failed (${code ?? ''}: ${message}); check the store CA (it must sign the server's certificate, whose name must match the URL's host) and the client certificate and key`,
        { cause: error },
      );
    case 'protocol':
      return new StoreProtocolError(
        `redis ${operation} at ${where}: the server does not support what leasehold needs (${message}); leasehold needs Redis 5 or newer with EVAL/EVALSHA enabled`,
        { cause: error },
      );
    default: {
      // A plain Redis port waits for a newline that a TLS handshake never sends.
      const hint =
        options.tls !== undefined && code === 'ETIMEDOUT'
          ? ' (with rediss:// this is also what a port without TLS looks like)'
          : '';
      return new StoreUnavailableError(
        `redis ${operation} at ${where} failed: ${message}${hint}${dnsHint(error)}`,
        {
          cause: error,
        },
      );
    }
  }
};

/** Refused because the connection is not ready: the last connection error says why. */
export function isOfflineRefusal(error: unknown): boolean {
  return (
    error instanceof Error &&
    /Stream isn't writeable|Connection is closed|Reached the max retries per request|Cluster isn't ready/.test(
      error.message,
    )
  );
}

export function isCommandTimeout(error: unknown): boolean {
  return error instanceof Error && error.message === 'Command timed out';
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function redact(message: string, options: RedisOptions): string {
  const secrets = [options.password, options.sentinelPassword].filter(
    (s): s is string => typeof s === 'string' && s !== '',
  );
  return secrets.reduce((text, secret) => text.replaceAll(secret, '***'), message);
}
