import { randomUUID } from 'node:crypto';

/** Helpers the conformance cases share (real time, polling with deadlines). */

export const POLL_MS = 20;

export function uniqueElection(): string {
  return `conf-${randomUUID().slice(0, 8)}`;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function until(
  predicate: () => boolean,
  withinMs: number,
  message: string,
): Promise<void> {
  const deadline = performance.now() + withinMs;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(message);
    await delay(5);
  }
}
