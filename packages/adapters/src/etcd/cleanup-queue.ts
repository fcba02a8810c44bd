/**
 * Cleanups that must reach etcd eventually, retried in the background until they do.
 *
 * The case that matters: a holder steps down while etcd is down, so its release fails. etcd
 * keeps leases across restarts (and extends them by a TTL when it comes back), so without a
 * retry the stale key would block the election for a full TTL after etcd is back. Revoking a
 * lease of our own is always safe, whenever it lands.
 */

const MIN_RETRY_MS = 100;
const MAX_RETRY_MS = 1_000;
/** A stuck queue must not grow without bound: the oldest cleanups give way (leases expire). */
const MAX_PENDING = 100;

export class CleanupQueue {
  private readonly pending = new Map<string, () => Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private failures = 0;
  private closed = false;

  /**
   * Retry `cleanup` (which rejects while it could not reach etcd) until it resolves. A later
   * cleanup with the same id replaces an earlier one.
   */
  add(id: string, cleanup: () => Promise<void>): void {
    if (this.closed) return;
    this.pending.delete(id);
    this.pending.set(id, cleanup);
    for (const oldest of this.pending.keys()) {
      if (this.pending.size <= MAX_PENDING) break;
      this.pending.delete(oldest);
    }
    this.schedule();
  }

  get size(): number {
    return this.pending.size;
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.pending.clear();
  }

  private schedule(): void {
    if (this.closed || this.running || this.timer !== null || this.pending.size === 0) return;
    const ceiling = Math.min(MAX_RETRY_MS, MIN_RETRY_MS * 2 ** Math.min(this.failures, 10));
    this.timer = setTimeout(
      () => {
        this.timer = null;
        void this.runAll();
      },
      Math.round(ceiling / 2 + (Math.random() * ceiling) / 2),
    );
    this.timer.unref();
  }

  private async runAll(): Promise<void> {
    this.running = true;
    let failed = false;
    for (const [id, cleanup] of [...this.pending]) {
      if (this.closed) break;
      try {
        await cleanup();
        if (this.pending.get(id) === cleanup) this.pending.delete(id);
      } catch {
        failed = true;
      }
    }
    this.running = false;
    this.failures = failed ? this.failures + 1 : 0;
    this.schedule();
  }
}
