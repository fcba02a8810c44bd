import fc from 'fast-check';

/**
 * What the property tests in simulated time (elector.property.test.ts, shards.property.test.ts)
 * share: their run settings and the faults both inject. Each test lists its own faults in its
 * own order, since a seed a test printed (or a comment cites) must replay the same scenario:
 * a shared fault generates exactly the values its record in the test did.
 */

/** A fault that lasts `forMs` (a process frozen, a store cut off), then ends by itself. */
export type LastingFault<K extends string> = { readonly kind: K; readonly forMs: number };

/** A fault of the next `count` store calls (failed, dropped). */
export type CountedFault<K extends string> = { readonly kind: K; readonly count: number };

/** `fc.assert`'s settings: `runsVariable` (else `defaultRuns`) runs, LEASEHOLD_PROP_SEED to replay. */
export function propertyRunSettings(
  runsVariable: string,
  defaultRuns: number,
): { readonly numRuns: number; readonly seed?: number; readonly endOnFailure: true } {
  const numRuns = Number(process.env[runsVariable] ?? defaultRuns);
  const seed = process.env.LEASEHOLD_PROP_SEED;
  return { numRuns, ...(seed === undefined ? {} : { seed: Number(seed) }), endOnFailure: true };
}

/** A `kind` fault lasting 1 to `maxMs` ms. */
export function lastingFault<K extends string>(
  kind: K,
  maxMs: number,
): fc.Arbitrary<LastingFault<K>> {
  return fc.record({ kind: fc.constant(kind), forMs: fc.integer({ min: 1, max: maxMs }) });
}

/** A `kind` fault of the next 1 to `most` store calls. */
export function countedFault<K extends string>(
  kind: K,
  most: number,
): fc.Arbitrary<CountedFault<K>> {
  return fc.record({ kind: fc.constant(kind), count: fc.integer({ min: 1, max: most }) });
}
