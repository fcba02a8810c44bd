import type { IWatchResponse } from 'etcd3';
import type { StreamOpener, WatchStream } from './streams.js';

/** One watched key and everyone listening to it. */
interface KeyWatch {
  readonly key: string;
  readonly listeners: Set<() => void>;
  /** Id of the etcd watcher asked for on the current stream; null while there is none. */
  watchId: string | null;
  /** etcd confirmed the watcher: changes from now on reach the listeners. */
  active: boolean;
  /** Changes may have gone unseen (stream lost, watcher dropped): tell listeners once active. */
  missed: boolean;
  /** The kind of the last change seen while active; null when none was seen. */
  lastChange: 'Put' | 'Delete' | null;
  /** `watch()` calls waiting for the watcher to be active, or for the attempt to fail. */
  readonly waiting: Set<() => void>;
}

const MIN_RETRY_MS = 100;
const MAX_RETRY_MS = 1_000;

/**
 * All of a store's key watches on one etcd Watch stream, with client-chosen watcher ids
 * (etcd ≥ 3.4), so answers can never be matched to the wrong key.
 *
 * Written on the raw stream rather than etcd3's `watch()` helper: that helper keeps
 * reconnecting after the client is closed, backs off for up to 30 s, and throws from stream
 * callbacks on answers it does not expect. Here one timer at most is pending, a lost stream
 * is reopened within a second, and nothing survives `close()`.
 */
export class WatchHub {
  private readonly watches = new Map<string, KeyWatch>();
  private readonly byId = new Map<string, KeyWatch>();
  private stream: WatchStream | null = null;
  private opening = false;
  private retryTimer: NodeJS.Timeout | null = null;
  /** Ends the stream soon after the last watch went, unless another came meanwhile. */
  private idleCheck: NodeJS.Immediate | null = null;
  private failures = 0;
  private nextWatchId = 1;
  private closed = false;

  constructor(
    private readonly streams: StreamOpener,
    /** How long `watch()` waits for etcd to confirm a watcher before resolving anyway. */
    private readonly confirmTimeoutMs: number,
  ) {}

  /**
   * Call `onChange` on every change of `key` until `signal` aborts. Resolves once etcd has
   * confirmed the watcher or the attempt failed (it keeps trying); never rejects.
   */
  watch(key: string, onChange: () => void, signal: AbortSignal): Promise<void> {
    if (this.closed || signal.aborted) return Promise.resolve();
    let entry = this.watches.get(key);
    if (entry === undefined) {
      entry = {
        key,
        listeners: new Set(),
        watchId: null,
        active: false,
        missed: false,
        lastChange: null,
        waiting: new Set(),
      };
      this.watches.set(key, entry);
    }
    const watch = entry;
    watch.listeners.add(onChange);
    signal.addEventListener('abort', () => this.unsubscribe(watch, onChange), { once: true });
    const confirmed = watch.active ? Promise.resolve() : this.confirmation(watch);
    this.sync();
    return confirmed;
  }

  /**
   * Whether the last change etcd reported for `key`, on a watcher that has been active since,
   * was a delete. A hint only (the caller's transaction is the authority): it lets a follower
   * woken by a release skip the read it would otherwise do first.
   */
  lastSeenDeleted(key: string): boolean {
    return this.lastSeen(key) === 'Delete';
  }

  /**
   * The kind of the last change etcd reported for `key` on a watcher active since; null when
   * there is none (not watched, or changes may have gone unseen since the last one).
   */
  lastSeen(key: string): 'Put' | 'Delete' | null {
    const watch = this.watches.get(key);
    return watch?.active === true ? watch.lastChange : null;
  }

  /** Whether etcd has confirmed a watcher of `key` on the current stream: changes reach us. */
  isActive(key: string): boolean {
    return !this.closed && this.watches.get(key)?.active === true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clearRetry();
    if (this.idleCheck !== null) clearImmediate(this.idleCheck);
    this.idleCheck = null;
    this.dropStream();
    for (const watch of this.watches.values()) settle(watch);
    this.watches.clear();
    this.byId.clear();
  }

  private confirmation(watch: KeyWatch): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        watch.waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, this.confirmTimeoutMs);
      watch.waiting.add(done);
    });
  }

  private unsubscribe(watch: KeyWatch, onChange: () => void): void {
    watch.listeners.delete(onChange);
    if (watch.listeners.size > 0 || this.watches.get(watch.key) !== watch) return;
    this.watches.delete(watch.key);
    settle(watch);
    const watchId = watch.watchId;
    watch.watchId = null;
    if (watchId !== null) this.byId.delete(watchId);
    if (this.watches.size > 0) {
      // etcd handles a stream's requests in order, so this also cancels a watcher whose
      // creation it has not confirmed yet.
      if (watchId !== null) this.stream?.write({ cancel_request: { watch_id: watchId } });
      return;
    }
    // The last watch: ending the stream ends its watchers. Not right now, though: a watch
    // usually ends as its elector stops, which then releases its lease, and that release
    // should reach etcd first.
    this.clearRetry();
    this.idleCheck ??= setImmediate(() => {
      this.idleCheck = null;
      if (this.watches.size === 0) this.dropStream();
    });
  }

  /** Bring etcd in line with `watches`: a stream while anything is watched, a watcher per key. */
  private sync(): void {
    if (this.closed || this.retryTimer !== null) return;
    if (this.watches.size === 0) {
      this.dropStream();
      return;
    }
    const stream = this.stream;
    if (stream === null) {
      this.openStream();
      return;
    }
    for (const watch of this.watches.values()) {
      if (watch.watchId !== null) continue;
      const watchId = String(this.nextWatchId);
      this.nextWatchId += 1;
      watch.watchId = watchId;
      this.byId.set(watchId, watch);
      stream.write({ create_request: { key: Buffer.from(watch.key), watch_id: watchId } });
    }
  }

  private openStream(): void {
    if (this.opening) return;
    this.opening = true;
    this.streams.watch().then(
      (stream) => {
        this.opening = false;
        if (this.closed || this.watches.size === 0) {
          endStream(stream);
          return;
        }
        stream.on('data', (response) => this.onResponse(stream, response));
        stream.on('error', () => this.onStreamLost(stream));
        stream.on('end', () => this.onStreamLost(stream));
        this.stream = stream;
        this.sync();
      },
      () => {
        this.opening = false;
        this.onStreamLost(null);
      },
    );
  }

  private onResponse(stream: WatchStream, response: IWatchResponse): void {
    if (stream !== this.stream) return;
    const watch = this.byId.get(response.watch_id);
    if (watch === undefined) return; // a watcher we have cancelled since
    if (response.canceled) {
      // Refused at creation (permissions) or dropped later (compaction): changes may go
      // unseen, so watch again after a pause and tell the listeners then.
      this.byId.delete(response.watch_id);
      markLost(watch);
      this.failures += 1;
      this.scheduleRetry();
      return;
    }
    if (response.created) {
      watch.active = true;
      this.failures = 0;
      settle(watch);
      if (watch.missed) {
        watch.missed = false;
        notify(watch);
      }
      return;
    }
    const last = response.events.at(-1);
    if (last === undefined) return;
    watch.lastChange = last.type;
    notify(watch);
  }

  private onStreamLost(stream: WatchStream | null): void {
    if (stream !== null) {
      if (stream !== this.stream) return; // one we ended ourselves
      this.stream = null;
      endStream(stream);
    }
    this.byId.clear();
    for (const watch of this.watches.values()) markLost(watch);
    this.failures += 1;
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer !== null || this.watches.size === 0) return;
    const ceiling = Math.min(MAX_RETRY_MS, MIN_RETRY_MS * 2 ** Math.min(this.failures, 10));
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = null;
        this.sync();
      },
      Math.round(ceiling / 2 + (Math.random() * ceiling) / 2),
    );
    // An idle watch must not keep the process alive; the store's owner decides that.
    this.retryTimer.unref();
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private dropStream(): void {
    const stream = this.stream;
    this.stream = null;
    this.byId.clear();
    if (stream !== null) endStream(stream);
  }
}

/** The watch is not registered with etcd any more: changes may go unseen until it is again. */
function markLost(watch: KeyWatch): void {
  watch.watchId = null;
  watch.active = false;
  watch.missed = true;
  watch.lastChange = null;
  settle(watch);
}

function settle(watch: KeyWatch): void {
  for (const done of [...watch.waiting]) done();
}

function notify(watch: KeyWatch): void {
  for (const onChange of [...watch.listeners]) {
    try {
      onChange();
    } catch (error) {
      // Listener code is not ours; it must not break the stream for the other listeners.
      process.emitWarning(
        `leasehold: an etcd watch listener threw: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
}

/**
 * Half-close, then cancel: etcd drops the stream's watchers either way, and cancelling frees
 * the call at once even when etcd does not answer.
 */
function endStream(stream: WatchStream): void {
  stream.on('error', () => undefined);
  try {
    stream.end();
    stream.cancel();
  } catch {
    // Already finished.
  }
}
