/**
 * Counts the timers and intervals created from now on that have neither fired nor been
 * cleared. gRPC and the store unref most of theirs, so the event loop's own resource list
 * does not show them.
 */
export function trackTimers() {
  const live = new Set<NodeJS.Timeout>();
  const original = { setTimeout, clearTimeout, setInterval, clearInterval };
  globalThis.setTimeout = ((
    callback: (...args: unknown[]) => void,
    ms?: number,
    ...args: unknown[]
  ) => {
    const timer = original.setTimeout(() => {
      live.delete(timer);
      callback(...args);
    }, ms);
    live.add(timer);
    return timer;
  }) as typeof setTimeout;
  globalThis.setInterval = ((
    callback: (...args: unknown[]) => void,
    ms?: number,
    ...args: unknown[]
  ) => {
    const timer = original.setInterval(callback, ms, ...args);
    live.add(timer);
    return timer;
  }) as typeof setInterval;
  const clear = (timer: string | number | NodeJS.Timeout | undefined): void => {
    if (typeof timer === 'object') live.delete(timer);
  };
  globalThis.clearTimeout = ((timer) => {
    clear(timer);
    original.clearTimeout(timer);
  }) as typeof clearTimeout;
  globalThis.clearInterval = ((timer) => {
    clear(timer);
    original.clearInterval(timer);
  }) as typeof clearInterval;
  return {
    live: () => live.size,
    restore: () => Object.assign(globalThis, original),
  };
}
