import type { Event } from 'node-zookeeper-client';
import { candidatesInOrder, type CandidateName, type ZnodePaths } from './records.js';
import type { Znodes } from './znodes.js';

/**
 * Watches without a herd. For each watched election there is one ZooKeeper watch: on the
 * znode just ahead of this store's own candidate (its predecessor), or on the leader's znode
 * when this store has no candidate there (or leads), or on the election's children while the
 * election is empty. Only the predecessor's departure wakes a queued candidate, so a leader
 * leaving wakes the next in line alone, as in ZooKeeper's recipe. After each event the watch
 * moves to the new target, and the listeners are called (the elector then asks again).
 */

interface ElectionWatch {
  readonly election: string;
  readonly listeners: Set<() => void>;
  /** The path the current ZooKeeper watch is on, or null while (re)arming. */
  armedOn: string | null;
  /** The guid of our candidate whose predecessor `armedOn` is, when it is one. */
  behind: string | null;
  /** Set when another arm was asked for while one ran. */
  again: boolean;
  arming: Promise<void> | null;
  readonly watcher: (event: Event) => void;
}

export class WatchHub {
  private readonly watches = new Map<string, ElectionWatch>();
  private closed = false;

  constructor(
    private readonly znodes: Znodes,
    private readonly paths: ZnodePaths,
    /** The guids of this store's own candidates in an election. */
    private readonly ownGuids: (election: string) => ReadonlySet<string>,
  ) {}

  /** Resolves once the watch is in place (or could not be: it never rejects). */
  watch(election: string, onChange: () => void, signal: AbortSignal): Promise<void> {
    if (this.closed || signal.aborted) return Promise.resolve();
    let watch = this.watches.get(election);
    if (watch === undefined) {
      watch = this.newWatch(election);
      this.watches.set(election, watch);
    }
    const current = watch;
    current.listeners.add(onChange);
    signal.addEventListener(
      'abort',
      () => {
        current.listeners.delete(onChange);
        if (current.listeners.size === 0 && this.watches.get(election) === current) {
          this.watches.delete(election);
        }
      },
      { once: true },
    );
    return current.armedOn === null ? this.arm(current) : Promise.resolve();
  }

  /**
   * The store has just listed the election's candidates: move the watch if its target
   * changed (this store joined the queue, or its predecessor is another one now).
   */
  follow(election: string, queue: readonly CandidateName[]): void {
    const watch = this.watches.get(election);
    if (watch === undefined || watch.arming !== null) return;
    if (watch.armedOn !== this.targetOf(election, queue)) void this.arm(watch);
    // Set on the leader before we queued, it is on our predecessor now when that leads.
    else watch.behind = this.ownBehind(election, queue);
  }

  /**
   * Whether the watch is set, now, on the predecessor of our candidate `guid` (LeaseStore.
   * watching): its departure, the one change that moves that candidate up the queue, wakes
   * it. Not while the watch is being (re)armed, nor on any other target.
   */
  watchingBehind(election: string, guid: string): boolean {
    const watch = this.watches.get(election);
    return (
      watch !== undefined &&
      watch.arming === null &&
      watch.armedOn !== null &&
      watch.behind === guid &&
      watch.listeners.size > 0
    );
  }

  /**
   * After a reconnect: set every watch again, and wake the listeners once, since a change
   * while we were away may have moved the target before its event could reach us.
   */
  rearmAll(): void {
    for (const watch of this.watches.values()) {
      void this.arm(watch).then(() => {
        for (const listener of [...watch.listeners]) listener();
      });
    }
  }

  close(): void {
    this.closed = true;
    this.watches.clear();
  }

  private newWatch(election: string): ElectionWatch {
    const watch: ElectionWatch = {
      election,
      listeners: new Set(),
      armedOn: null,
      behind: null,
      again: false,
      arming: null,
      watcher: (event) => {
        // A watch left on an earlier target fires too; only the current one counts.
        if (this.watches.get(election) !== watch || event.getPath() !== watch.armedOn) return;
        watch.armedOn = null;
        for (const listener of [...watch.listeners]) listener();
        void this.arm(watch);
      },
    };
    return watch;
  }

  /** Find the target and set the watch on it; runs one at a time per election. */
  private arm(watch: ElectionWatch): Promise<void> {
    if (watch.arming !== null) {
      watch.again = true;
      return watch.arming;
    }
    watch.arming = (async () => {
      do {
        watch.again = false;
        try {
          await this.armOnce(watch);
        } catch {
          // No connection: the next reconnect arms it again, and the elector polls meanwhile.
          watch.armedOn = null;
        }
      } while (watch.again && !this.closed);
      watch.arming = null;
    })();
    return watch.arming;
  }

  private async armOnce(watch: ElectionWatch): Promise<void> {
    const { election } = watch;
    const electionPath = this.paths.election(election);
    for (let attempt = 0; attempt < 5 && !this.closed; attempt += 1) {
      const queue = candidatesInOrder((await this.znodes.children(electionPath)) ?? []);
      const target = this.targetOf(election, queue);
      watch.armedOn = target;
      watch.behind = this.ownBehind(election, queue);
      if (target === electionPath) {
        // Empty: any candidate arriving is news (and while the znode is missing, its creation).
        const children = await this.znodes.children(electionPath, watch.watcher);
        if (children === null) {
          if ((await this.znodes.exists(electionPath, watch.watcher)) === null) return;
        } else if (candidatesInOrder(children).length === 0) {
          return;
        }
        continue; // someone arrived meanwhile: watch that one instead
      }
      if ((await this.znodes.exists(target, watch.watcher)) !== null) return;
      // Gone between the listing and the watch: that was the change to report.
      watch.armedOn = null;
      for (const listener of [...watch.listeners]) listener();
    }
  }

  /** Our candidate with a predecessor in `queue`, whose departure the watch waits for. */
  private ownBehind(election: string, queue: readonly CandidateName[]): string | null {
    const own = this.ownGuids(election);
    const mine = queue.findIndex((candidate) => own.has(candidate.guid));
    return mine > 0 ? (queue[mine]?.guid ?? null) : null;
  }

  private targetOf(election: string, queue: readonly CandidateName[]): string {
    const own = this.ownGuids(election);
    const mine = queue.findIndex((candidate) => own.has(candidate.guid));
    const target = mine > 0 ? queue[mine - 1] : queue[0];
    return target === undefined
      ? this.paths.election(election)
      : this.paths.candidate(election, target.name);
  }
}
