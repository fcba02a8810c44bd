import { LeaseholdConfigError } from './errors.js';
import type { LeaseStore } from './store.js';

const STORE_CALLS = ['tryAcquire', 'renew', 'release', 'read', 'close'] as const;

/**
 * The store an elector is given, or a LeaseholdConfigError when it is not one: JavaScript
 * callers can pass anything, and a missing store would otherwise fail only at `start()`, as a
 * TypeError. The error describes what was given by its shape only: a store-like object may
 * hold credentials.
 */
export function checkStore(field: string, value: LeaseStore): LeaseStore {
  const given = value as unknown;
  if (given === undefined || given === null) throw notAStore(field, given);
  if (typeof given !== 'object') throw notAStore(field, `a ${typeof given}`);
  const candidate = given as Partial<Record<string, unknown>>;
  const missing = [
    ...(typeof candidate.backend === 'string' ? [] : ['backend']),
    ...STORE_CALLS.filter((call) => typeof candidate[call] !== 'function'),
  ];
  if (missing.length > 0) throw notAStore(field, `an object without ${missing.join(', ')}`);
  return value;
}

function notAStore(field: string, described: string | null | undefined): LeaseholdConfigError {
  return new LeaseholdConfigError(
    field,
    described,
    `a LeaseStore: createStore(url) from @leasehold/adapters, or an object with backend, ${STORE_CALLS.join(', ')}`,
  );
}
