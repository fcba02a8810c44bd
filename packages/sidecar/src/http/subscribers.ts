import type { ElectorEvents } from '@leasehold/core';

/** What subscribers listen to: an elector, or a shard group (its `owned` event). */
export interface ChangeSource<E extends string> {
  on(event: E, listener: () => void): unknown;
  off(event: E, listener: () => void): unknown;
}

/**
 * Clients waiting for leadership to change (event streams, long-polls), behind one listener
 * per elector event: a thousand of them add nothing to the elector, which printed
 * MaxListenersExceededWarning past ten when each added its own, and they are capped.
 */
export class Subscribers<E extends string = keyof ElectorEvents> {
  /**
   * Made at the first subscription: a sidecar has two of these per election, and most
   * elections of a sidecar of many are never watched over HTTP.
   */
  private waiting: Set<() => void> | null = null;
  private notify: (() => void) | null = null;

  constructor(
    private readonly elector: ChangeSource<NoInfer<E>>,
    private readonly events: readonly E[],
    /** How many may wait at once. */
    readonly max: number,
  ) {}

  get size(): number {
    return this.waiting?.size ?? 0;
  }

  /**
   * Call `onChange` on each of the events until the returned function is called; null,
   * and nothing subscribed, when `max` already wait.
   */
  subscribe(onChange: () => void): (() => void) | null {
    const waiting = (this.waiting ??= new Set());
    const notify = (this.notify ??= (): void => {
      for (const subscriber of [...waiting]) subscriber();
    });
    if (waiting.size >= this.max) return null;
    // A function of its own, so the same callback twice is two subscribers.
    const subscriber = (): void => onChange();
    if (waiting.size === 0) for (const event of this.events) this.elector.on(event, notify);
    waiting.add(subscriber);
    return () => {
      if (!waiting.delete(subscriber)) return;
      if (waiting.size === 0) for (const event of this.events) this.elector.off(event, notify);
    };
  }
}
