import {
  LeaseholdError,
  StoreAuthError,
  StoreProtocolError,
  StoreUnavailableError,
} from '@leasehold/core';
import {
  castGrpcError,
  EtcdAuthenticationFailedError,
  EtcdLeaseInvalidError,
  EtcdPermissionDeniedError,
  GRPCDataLossError,
  GRPCInvalidArgumentError,
  GRPCNotImplementedError,
  GRPCUnauthenticatedError,
} from 'etcd3';
import type { ErrorTranslator } from '../guarded-call.js';
import { HostSkippedError } from './host-quarantine.js';

/** What an error message may say about the connection: never the password. */
export interface ErrorContext {
  readonly endpoints: string;
  readonly username: string | null;
  readonly namespace: string;
}

/**
 * A failed etcd call, wrapped by our per-host fault policy so that etcd3 does not act on it
 * (see `hostPolicy` in client.ts).
 */
export class EtcdCallError extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'EtcdCallError';
  }
}

/** The error etcd3 or gRPC raised, without our wrapper. */
export function unwrapCallError(error: unknown): unknown {
  return error instanceof EtcdCallError ? error.cause : error;
}

/**
 * gRPC failed the call before sending it: there was no connection to the host. Only then may
 * the call go to another host; a call that may have reached etcd is never repeated.
 */
export function wasNeverSent(error: unknown): boolean {
  const raw = unwrapCallError(error);
  if (raw instanceof HostSkippedError) return true;
  return raw instanceof Error && /UNAVAILABLE: No connection established/.test(raw.message);
}

/**
 * Answers that retrying cannot fix: a request etcd will never take (too large, malformed), a
 * method it does not have, a corrupt member. Other refusals (no leader, not leader, a lease
 * gone meanwhile) pass with time, so they stay transient.
 */
const PROTOCOL_ERRORS = [GRPCInvalidArgumentError, GRPCNotImplementedError, GRPCDataLossError];
/** An InvalidArgument etcd means as "retry": the auth store changed under the request. */
const AUTH_STORE_CHANGED = /auth store is old|revision of auth store/;

/** Certificate trouble does not go away by retrying: the CA or the client certificate is wrong. */
const TLS_FAILURE =
  /certificate|self[- ]signed|unknown ca|bad certificate|wrong version number|alert handshake|CERT_|SSL routines/i;

/**
 * Translate whatever etcd3 / gRPC threw into leasehold's classes, so no driver error leaves a
 * store method. Unknown errors count as transient: the elector retries them, and its deadline
 * keeps leadership safe meanwhile.
 */
export const translateError: ErrorTranslator<ErrorContext> = (error, operation, context) => {
  if (error instanceof LeaseholdError) return error;
  const raw = unwrapCallError(error);
  const typed = raw instanceof Error ? castGrpcError(raw) : new Error(String(raw));
  const detail = typed.message.replace(/^[A-Za-z]*Error: /, '');
  const user = context.username === null ? 'no user' : `user "${context.username}"`;

  if (typed instanceof EtcdAuthenticationFailedError) {
    return new StoreAuthError(
      `etcd at ${context.endpoints} rejected the password of ${user} (${detail})`,
      { cause: error },
    );
  }
  if (typed instanceof EtcdPermissionDeniedError) {
    return new StoreAuthError(
      `etcd at ${context.endpoints} denied ${user} permission to ${operation} keys under "${context.namespace}/" (${detail}); grant the user's role readwrite on that prefix`,
      { cause: error },
    );
  }
  if (typed instanceof GRPCUnauthenticatedError || /user name is empty/.test(detail)) {
    return new StoreAuthError(
      `etcd at ${context.endpoints} requires authentication and ${context.username === null ? 'the store URL names no user; use etcd://user:password@host:2379' : `did not accept ${user}`} (${detail})`,
      { cause: error },
    );
  }
  if (/authentication is not enabled/.test(detail)) {
    return new StoreAuthError(
      `etcd at ${context.endpoints} has authentication disabled, but the store URL names ${user}; remove user:password from the URL or enable auth in etcd`,
      { cause: error },
    );
  }
  if (TLS_FAILURE.test(detail)) {
    return new StoreAuthError(
      `TLS with etcd at ${context.endpoints} failed (${detail}); check the CA, client certificate and key`,
      { cause: error },
    );
  }
  if (PROTOCOL_ERRORS.some((type) => typed instanceof type) && !AUTH_STORE_CHANGED.test(detail)) {
    return new StoreProtocolError(`etcd ${operation} was refused: ${detail}`, { cause: error });
  }
  return new StoreUnavailableError(`etcd ${operation} failed at ${context.endpoints}: ${detail}`, {
    cause: error,
  });
};

/** etcd's answer to renewing or revoking a lease that no longer exists. */
export function isLeaseGone(error: unknown): boolean {
  const raw = unwrapCallError(error);
  return (
    raw instanceof Error &&
    (castGrpcError(raw) instanceof EtcdLeaseInvalidError ||
      /requested lease not found/.test(raw.message))
  );
}

export function isPermissionDenied(error: unknown): boolean {
  const raw = unwrapCallError(error);
  return raw instanceof Error && castGrpcError(raw) instanceof EtcdPermissionDeniedError;
}

/** etcd's answer to granting a lease under an id that is in use. */
export function isLeaseTaken(error: unknown): boolean {
  const raw = unwrapCallError(error);
  return raw instanceof Error && /lease already exists/.test(raw.message);
}
