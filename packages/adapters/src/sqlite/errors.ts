import { LeaseholdConfigError, StoreProtocolError, StoreUnavailableError } from '@leasehold/core';
import type { ErrorTranslator } from '../guarded-call.js';

/**
 * better-sqlite3's addon is built per Node ABI; on a runtime the install has none for, its
 * loader (`bindings`) lists every path it tried, or Node names the ABI it was built for.
 */
const NO_ADDON =
  /Could not locate the bindings file|NODE_MODULE_VERSION|different Node\.js version/;

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
  if (NO_ADDON.test(message)) {
    return new LeaseholdConfigError(
      'store',
      `sqlite://${path}`,
      `better-sqlite3 has no native addon for Node.js ${process.version} (ABI ${process.versions.modules}) here: run npm rebuild better-sqlite3 with a C++ compiler, or use another store`,
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
