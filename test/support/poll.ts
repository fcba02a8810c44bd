/**
 * Poll `check` every `everyMs` until it returns something other than undefined, and return
 * that; fail naming `what` after `withinMs`.
 */
export async function pollFor<T>(
  what: string,
  withinMs: number,
  check: () => T | undefined,
  everyMs = 10,
): Promise<T> {
  const deadline = performance.now() + withinMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`${what}: not within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
