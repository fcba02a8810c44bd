/**
 * An ordering barrier on ZooKeeper (docs/design.md §3.8, "Member records on ZooKeeper"): a
 * round trip through the ensemble's leader sent AFTER the caller asked. A check-only multi is
 * a write, so the leader orders it after every change committed before it arrived, and our
 * server answers it only after applying those changes. It sends the watch events they
 * triggered before that answer, on the same connection, and the client hands events and
 * answers over in the order they arrived. So once the barrier is answered, every change to a
 * watched znode made before the caller asked has been told to us.
 *
 * The answer is what counts, not its content: a multi refused with "no node" was ordered all
 * the same. Waiters gather for `gatherMs` and ride on the next leader-ordered request this
 * store sends anyway (the heartbeat's check multi, `ride`), or on one of their own.
 */
export class LeaderBarrier {
  private waiting: Waiting | null = null;

  constructor(
    /** One round trip through the leader; rejects only when no answer came. */
    private readonly roundTrip: () => Promise<unknown>,
    private readonly gatherMs: number,
  ) {}

  /** Resolves once a leader-ordered request sent after this call has been answered. */
  wait(): Promise<void> {
    this.waiting ??= this.open();
    return this.waiting.promise;
  }

  /**
   * `request` goes to the leader now: whoever waits for a barrier rides on it. Its answer
   * (resolved) lets them go; without one, they send a round trip of their own.
   */
  async ride<T>(request: () => Promise<T>): Promise<T> {
    // The shared heartbeat hands a tick's renewals and member records over in the same
    // round of timers, in either order: records handed over after the renewals still ride.
    // One turn of the loop later, never a deadline later (it counts from the handover).
    await new Promise<void>((resolve) => setImmediate(resolve));
    const riders = this.take();
    const sent = request();
    if (riders !== null) {
      sent.then(
        () => riders.resolve(),
        () => this.sendFor(riders),
      );
    }
    return sent;
  }

  private open(): Waiting {
    let resolve = (): void => {};
    let reject = (_: unknown): void => {};
    const promise = new Promise<void>((yes, no) => {
      resolve = yes;
      reject = no;
    });
    const waiting: Waiting = { promise, resolve, reject, timer: null };
    waiting.timer = setTimeout(() => {
      if (this.take() === waiting) this.sendFor(waiting);
    }, this.gatherMs);
    waiting.timer.unref();
    return waiting;
  }

  private take(): Waiting | null {
    const waiting = this.waiting;
    this.waiting = null;
    if (waiting?.timer != null) clearTimeout(waiting.timer);
    return waiting;
  }

  private sendFor(waiting: Waiting): void {
    this.roundTrip().then(
      () => waiting.resolve(),
      (error: unknown) => waiting.reject(error),
    );
  }
}

interface Waiting {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  timer: NodeJS.Timeout | null;
}
