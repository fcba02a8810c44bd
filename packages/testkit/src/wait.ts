/**
 * Waiting in the chaos suite: for a condition, polled, with a deadline, never a bare sleep
 * standing in for synchronisation. `pause` exists for the faults themselves: a freeze or a
 * cut lasts a chosen time, and that time is the point of the experiment.
 */

/** The suite's clock: monotonic milliseconds, comparable across everything it records. */
export const now = (): number => performance.now();

/**
 * Block this thread, timers, sockets and all, as SIGSTOP would: a frozen process, its
 * sockets unread meanwhile.
 */
export function freezeThread(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/**
 * The one polling helper: call `check` every `everyMs` until it returns something (a value
 * other than undefined, null or false) and return that; fail with "<what>: not within N ms".
 */
export async function until<T>(
  what: string,
  withinMs: number,
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  everyMs = 10,
): Promise<T> {
  const deadline = now() + withinMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== null && value !== false) return value;
    if (now() > deadline) throw new Error(`${what}: not within ${withinMs} ms`);
    await pause(everyMs);
  }
}
