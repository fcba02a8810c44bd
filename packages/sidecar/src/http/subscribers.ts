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
  private readonly waiting = new Set<() => void>();
  private readonly notify = (): void => {
    for (const subscriber of [...this.waiting]) subscriber();
  };

  constructor(
    private readonly elector: ChangeSource<NoInfer<E>>,
    private readonly events: readonly E[],
    /** How many may wait at once. */
    readonly max: number,
  ) {}

  get size(): number {
    return this.waiting.size;
  }

  /**
   * Call `onChange` on each of the events until the returned function is called; null,
   * and nothing subscribed, when `max` already wait.
   */
  subscribe(onChange: () => void): (() => void) | null {
    if (this.waiting.size >= this.max) return null;
    // A function of its own, so the same callback twice is two subscribers.
    const subscriber = (): void => onChange();
    if (this.waiting.size === 0)
      for (const event of this.events) this.elector.on(event, this.notify);
    this.waiting.add(subscriber);
    return () => {
      if (!this.waiting.delete(subscriber)) return;
      if (this.waiting.size === 0)
        for (const event of this.events) this.elector.off(event, this.notify);
    };
  }
}
