import { watch as watchPath, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

/** What the watch needs of the store: its connection's view of the database file. */
export interface WatchedDatabase {
  readonly path: string;
  /** How often to look when the OS said nothing (a missed or unsupported notification). */
  readonly intervalMs: number;
  /** `PRAGMA data_version`: moves when another connection commits. Throws when busy. */
  dataVersion(): number;
  /** What identifies the election's lease now (term and token); '' when unreadable. */
  leaseVersion(election: string): string;
}

/**
 * After a notification that showed no new commit, the first look again, doubling up to the
 * last (looks at about 1, 3, 7 … 511 ms; the watch interval serves beyond).
 */
const FOLLOW_UP_FIRST_MS = 1;
const FOLLOW_UP_LAST_MS = 256;

/**
 * Another process's commits, as wake-ups of the elections' watchers. SQLite has no
 * notifications across processes: `PRAGMA data_version` changes when another connection
 * commits, and it is checked (and, only then, whether an election's lease changed) when
 * the OS reports a change to the database's files (inotify on Linux: every commit writes
 * the WAL), and every `intervalMs` in case a notification was missed. No timer ticks
 * several times a second while nothing is written: an idle sidecar stays idle.
 *
 * The OS reports the commit's write to the WAL, but other connections see the commit only
 * once the writer has also updated the WAL index (shared memory, which raises no
 * notification), after its fsync: a look at the notification often comes too early, and
 * nothing else looked before the next interval or someone's next write (measured across
 * processes: in 4 of 10 hand-overs the watcher woke 290-940 ms late, the commit visible
 * 1.4 ms after the notification). So a notification that showed no new commit is followed
 * by looks at doubling intervals until one does.
 */
export class CommitWatch {
  private readonly elections = new Map<string, { lastSeen: string; listeners: Set<() => void> }>();
  private timer: NodeJS.Timeout | null = null;
  private fileWatcher: FSWatcher | null = null;
  private followUp: NodeJS.Timeout | null = null;
  private lastDataVersion = -1;
  private closed = false;

  constructor(private readonly database: WatchedDatabase) {}

  /** Call `onChange` whenever the election's lease changes, until `signal` aborts. */
  add(election: string, onChange: () => void, signal: AbortSignal): void {
    if (this.closed || signal.aborted) return;
    let entry = this.elections.get(election);
    if (entry === undefined) {
      entry = { lastSeen: this.database.leaseVersion(election), listeners: new Set() };
      this.elections.set(election, entry);
    }
    const watched = entry;
    watched.listeners.add(onChange);
    signal.addEventListener(
      'abort',
      () => {
        watched.listeners.delete(onChange);
        if (watched.listeners.size === 0) this.elections.delete(election);
        if (this.elections.size === 0) this.stop();
      },
      { once: true },
    );
    if (this.timer === null) {
      this.timer = setInterval(() => this.check(), this.database.intervalMs);
      this.timer.unref();
      this.fileWatcher = this.watchFiles();
    }
  }

  close(): void {
    this.closed = true;
    this.stop();
    this.elections.clear();
  }

  /** Wake the watchers of every election whose lease changed since it was last seen. */
  private check(): void {
    if (this.closed) return;
    let dataVersion: number;
    try {
      dataVersion = this.database.dataVersion();
    } catch {
      return; // Busy or briefly unreadable: the next look tries again.
    }
    if (dataVersion === this.lastDataVersion) return;
    this.lastDataVersion = dataVersion;
    for (const [election, watched] of this.elections) {
      const version = this.database.leaseVersion(election);
      if (version === watched.lastSeen) continue;
      watched.lastSeen = version;
      for (const onChange of watched.listeners) onChange();
    }
  }

  /**
   * A file of the database changed: look now, then again until a commit newer than what
   * this look saw shows (the one being written; commits are serialised, so every earlier
   * one is visible by the time its successor writes the WAL), or the follow-ups run out.
   */
  private onFileChange(): void {
    this.check();
    this.lookAgain(this.lastDataVersion, FOLLOW_UP_FIRST_MS);
  }

  private lookAgain(seen: number, delayMs: number): void {
    if (this.followUp !== null) clearTimeout(this.followUp);
    this.followUp = setTimeout(() => {
      this.followUp = null;
      this.check();
      const next = 2 * delayMs;
      if (this.lastDataVersion === seen && next <= FOLLOW_UP_LAST_MS) this.lookAgain(seen, next);
    }, delayMs);
    this.followUp.unref();
  }

  private stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.followUp !== null) clearTimeout(this.followUp);
    this.followUp = null;
    this.fileWatcher?.close();
    this.fileWatcher = null;
  }

  /**
   * Changes to the database and its WAL, from the OS. The directory is watched rather than
   * the files: SQLite deletes and recreates the WAL, and a watch on a deleted file goes
   * quiet. Without file notifications (some network file systems) the timer alone serves.
   */
  private watchFiles(): FSWatcher | null {
    const name = basename(this.database.path);
    try {
      const watcher = watchPath(dirname(this.database.path), { persistent: false }, (_, file) => {
        if (file === null || file.startsWith(name)) this.onFileChange();
      });
      watcher.on('error', () => watcher.close());
      return watcher;
    } catch {
      return null;
    }
  }
}
