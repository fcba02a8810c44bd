import { randomUUID } from 'node:crypto';

/** Helpers the conformance cases share (real time, polling with deadlines). */

export const POLL_MS = 20;

export function uniqueElection(): string {
  return `conf-${randomUUID().slice(0, 8)}`;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Poll `check` every 5 ms until it holds; fail with `what` after `withinMs`. The same argument
 * order as @leasehold/testkit's `until`, but a copy of its own: this package is published and
 * must not depend on the private test kit.
 */
export async function until(what: string, withinMs: number, check: () => boolean): Promise<void> {
  const deadline = performance.now() + withinMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(what);
    await delay(5);
  }
}
