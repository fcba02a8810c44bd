import {
  LeaseholdError,
  StoreAuthError,
  StoreProtocolError,
  StoreUnavailableError,
} from '@leasehold/core';
import type { ErrorTranslator } from '../guarded-call.js';

/**
 * ZooKeeper's error codes (KeeperException.Code) that leasehold acts on. The client library
 * knows only those up to 3.4; see `tolerateUnknownCodes` in client-internals.ts for newer ones.
 */
export const ZooKeeperCode = {
  RUNTIME_INCONSISTENCY: -2,
  DATA_INCONSISTENCY: -3,
  MARSHALLING_ERROR: -5,
  UNIMPLEMENTED: -6,
  BAD_ARGUMENTS: -8,
  NO_NODE: -101,
  NO_AUTH: -102,
  BAD_VERSION: -103,
  NO_CHILDREN_FOR_EPHEMERALS: -108,
  NODE_EXISTS: -110,
  SESSION_EXPIRED: -112,
  INVALID_ACL: -114,
  AUTH_FAILED: -115,
} as const;

/** What an error message may say about the connection: never the password. */
export interface ErrorContext {
  readonly hosts: string;
  readonly username: string | null;
  readonly base: string;
}

/** Answers that retrying cannot fix: a request ZooKeeper will never take. */
const PROTOCOL_CODES: ReadonlySet<number> = new Set([
  ZooKeeperCode.RUNTIME_INCONSISTENCY,
  ZooKeeperCode.DATA_INCONSISTENCY,
  ZooKeeperCode.MARSHALLING_ERROR,
  ZooKeeperCode.UNIMPLEMENTED,
  ZooKeeperCode.BAD_ARGUMENTS,
  ZooKeeperCode.NO_CHILDREN_FOR_EPHEMERALS,
  ZooKeeperCode.INVALID_ACL,
]);

/** The KeeperException code of a client error, or null for anything else. */
function zooKeeperCode(error: unknown): number | null {
  if (error instanceof LeaseholdError) return null;
  return typeof error === 'object' &&
    error !== null &&
    'code' in error &&
    typeof error.code === 'number'
    ? error.code
    : null;
}

export function hasCode(error: unknown, code: number): boolean {
  return zooKeeperCode(error) === code;
}

/**
 * Translate whatever node-zookeeper-client raised into leasehold's classes, so no driver error
 * leaves a store method. Unknown errors count as transient: the elector retries them, and its
 * deadline keeps leadership safe meanwhile.
 */
export const translateError: ErrorTranslator<ErrorContext> = (error, operation, context) => {
  if (error instanceof LeaseholdError) return error;
  const code = zooKeeperCode(error);
  const detail = error instanceof Error ? error.message : String(error);
  const user = context.username === null ? 'no user' : `user "${context.username}"`;
  if (code === ZooKeeperCode.NO_AUTH || code === ZooKeeperCode.AUTH_FAILED) {
    return new StoreAuthError(
      `ZooKeeper at ${context.hosts} denied ${user} the ${operation} under "${context.base}" (${detail}); ` +
        (context.username === null
          ? 'its znodes were created with credentials: give them as zk://user:password@host:2181'
          : 'its znodes were created by another user or with another password'),
      { cause: error },
    );
  }
  if (code !== null && PROTOCOL_CODES.has(code)) {
    return new StoreProtocolError(`ZooKeeper refused the ${operation}: ${detail}`, {
      cause: error,
    });
  }
  if (error instanceof Error && error.name === 'AssertionError') {
    // The client checks its arguments with assert(): one of ours was malformed.
    return new StoreProtocolError(`ZooKeeper ${operation}: ${detail}`, { cause: error });
  }
  return new StoreUnavailableError(`ZooKeeper ${operation} failed at ${context.hosts}: ${detail}`, {
    cause: error,
  });
};
