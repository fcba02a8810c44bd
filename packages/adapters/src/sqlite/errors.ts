import { LeaseholdConfigError, StoreProtocolError, StoreUnavailableError } from '@leasehold/core';
import type { ErrorTranslator } from '../guarded-call.js';

/**
 * Translate better-sqlite3's errors into leasehold's classes, so no driver error leaves a
 * store method; the path is not secret. Unknown errors count as transient.
 */
export const translateError: ErrorTranslator<{ readonly path: string }> = (
  error,
  operation,
  { path },
) => {
  const code =
    typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  const message = error instanceof Error ? error.message : String(error);
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new StoreUnavailableError(`sqlite ${operation}: database is busy (${message})`, {
      cause: error,
    });
  }
  if (
    code.startsWith('SQLITE_CANTOPEN') ||
    code.startsWith('SQLITE_READONLY') ||
    code.startsWith('SQLITE_PERM')
  ) {
    return new LeaseholdConfigError(
      'store',
      `sqlite://${path}`,
      `the SQLite file cannot be opened for writing (${message}); use a path in a writable directory`,
      { cause: error },
    );
  }
  if (code.startsWith('SQLITE_CORRUPT') || code.startsWith('SQLITE_NOTADB')) {
    return new StoreProtocolError(`sqlite ${operation}: not a usable database (${message})`, {
      cause: error,
    });
  }
  return new StoreUnavailableError(`sqlite ${operation} failed: ${message}`, { cause: error });
};
