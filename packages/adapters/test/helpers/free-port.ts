// One freePort for the repository's tests and the chaos suite.
export { freePort } from '../../../../chaos/src/stores/server.js';

/** Poll `check` until it resolves true, or fail after `withinMs`. */
export async function waitUntil(
  check: () => Promise<boolean> | boolean,
  withinMs: number,
  what: string,
): Promise<void> {
  const deadline = performance.now() + withinMs;
  for (;;) {
    if (await check()) return;
    if (performance.now() > deadline) throw new Error(`${what}: not within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
