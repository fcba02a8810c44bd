import { StoreClosedError, type LeaseholdError, type StoreOperation } from '@leasehold/core';

/**
 * The one call guard of every adapter, and the one shape of their error translators
 * (docs/adding-a-store.md): no driver error leaves a store method, and no call runs, or
 * reports anything but "closed", after close().
 */

/** What a store was doing when it failed: a contract operation, or connecting at start-up. */
export type StoreStep = StoreOperation | 'connect';

/**
 * An adapter's error translator (its errors.ts): the driver's error, what the store was
 * doing, and what the message may name (a host, a user: never a secret).
 */
export type ErrorTranslator<Context> = (
  error: unknown,
  op: StoreStep,
  context: Context,
) => LeaseholdError;

export interface CallGuard {
  readonly backend: string;
  /** Whether close() was called. */
  isClosed(): boolean;
  /** The error a failed call throws: the translator's, after whatever the store must do. */
  failed(error: unknown, op: StoreStep): LeaseholdError;
}

/** Run one store call: closed check, then the work, its failure translated. */
export async function guardedCall<T>(
  guard: CallGuard,
  op: StoreStep,
  work: () => T | Promise<T>,
): Promise<T> {
  if (guard.isClosed()) throw new StoreClosedError(guard.backend);
  try {
    return await work();
  } catch (error) {
    if (guard.isClosed()) throw new StoreClosedError(guard.backend);
    throw guard.failed(error, op);
  }
}
