import type { MemberRecord } from '@leasehold/core';
import type { Event } from 'node-zookeeper-client';
import zookeeper from 'node-zookeeper-client';
import { decodeMember } from '../records.js';
import type { ZnodePaths } from './records.js';
import type { Znodes } from './znodes.js';

/**
 * Every election's member records as ZooKeeper last told us (docs/design.md §3.8, "Member
 * records on ZooKeeper"), so that a member heartbeat answers its lists without a read per
 * election: a child watch on each election's member directory and a data watch on each
 * record other writers keep there; an event marks what changed, and a refresh reads just
 * that again (setting the watch anew: ZooKeeper's watches fire once). Our own records are
 * not read: their content is what we wrote.
 *
 * Fresh when it matters: `settle` waits for every refresh that events started; called after
 * a LeaderBarrier, it answers every change made before the barrier was asked for. An
 * election never listed, or whose refresh failed (a watch may be missing then), is listed
 * again. The lists order candidates and name transfer targets (§3.5, §3.6); no claim and no
 * leadership answer reads them, so a late event costs order, never safety.
 */
export class MemberView {
  private readonly views = new Map<string, ElectionView>();

  constructor(
    private readonly znodes: Znodes,
    private readonly paths: ZnodePaths,
    /** Whether this store wrote the record at `path` (then it knows its content). */
    private readonly isOwn: (path: string) => boolean,
  ) {}

  /** Whether the election's directory, as last told, lists `path`. */
  lists(election: string, path: string): boolean {
    const view = this.views.get(election);
    return view?.names?.has(nameOf(path)) === true && !view.failed;
  }

  /**
   * Every refresh of these elections ended; those never listed, or whose last refresh
   * failed, listed again. Rejects when a refresh failed.
   */
  async settle(elections: readonly string[]): Promise<void> {
    await Promise.all([...new Set(elections)].map((election) => this.settleOne(election)));
  }

  /**
   * The election's live records as last told, in the directory's order; `own` gives the
   * content of the records this store wrote.
   */
  records(election: string, own: (path: string) => MemberRecord | undefined): MemberRecord[] {
    const view = this.views.get(election);
    const records: MemberRecord[] = [];
    for (const name of view?.names ?? []) {
      const record = own(`${this.paths.members(election)}/${name}`) ?? view?.records.get(name);
      if (record != null) records.push(record);
    }
    return records;
  }

  /** A new session: its watches and everything they told us are gone. */
  reset(): void {
    this.views.clear();
  }

  private async settleOne(election: string): Promise<void> {
    const view = this.viewOf(election);
    if (view.names === null || view.failed) {
      view.listAgain = true;
      this.kick(view);
    }
    while (view.refreshing !== null) await view.refreshing;
    if (view.failed) throw view.error;
  }

  private viewOf(election: string): ElectionView {
    const known = this.views.get(election);
    if (known !== undefined) return known;
    const view: ElectionView = {
      election,
      directory: this.paths.members(election),
      names: null,
      records: new Map(),
      listAgain: false,
      readAgain: new Set(),
      refreshing: null,
      failed: false,
      error: null,
      onChildren: () => this.changed(view, () => (view.listAgain = true)),
      onData: (event) => this.changed(view, () => this.dataChanged(view, event)),
    };
    this.views.set(election, view);
    return view;
  }

  /** A watch event of a view still current: note what to read again, and start reading. */
  private changed(view: ElectionView, note: () => void): void {
    if (this.views.get(view.election) !== view) return;
    note();
    this.kick(view);
  }

  private dataChanged(view: ElectionView, event: Event): void {
    const name = nameOf(event.getPath());
    if (event.getType() === zookeeper.Event.NODE_DELETED) {
      view.names?.delete(name);
      view.records.delete(name);
      view.listAgain = true;
    } else if (!this.isOwn(event.getPath())) {
      view.readAgain.add(name);
    }
  }

  private kick(view: ElectionView): void {
    if (view.refreshing !== null) return;
    view.refreshing = this.refresh(view).finally(() => (view.refreshing = null));
  }

  /** Read what events marked until nothing is left; a failure leaves it marked. */
  private async refresh(view: ElectionView): Promise<void> {
    try {
      while (view.listAgain || view.readAgain.size > 0) {
        if (view.listAgain) await this.list(view);
        else await this.readRecords(view);
      }
      view.failed = false;
    } catch (error) {
      view.failed = true;
      view.error = error;
    }
  }

  private async list(view: ElectionView): Promise<void> {
    view.listAgain = false;
    let names: string[] | null;
    try {
      names = await this.znodes.children(view.directory, view.onChildren);
      // No member yet: the directory's creation is the news to wait for.
      if (names === null && (await this.znodes.exists(view.directory, view.onChildren)) !== null) {
        view.listAgain = true; // created meanwhile
      }
    } catch (error) {
      view.listAgain = true;
      throw error;
    }
    const listed = new Set(names ?? []);
    for (const name of view.records.keys()) if (!listed.has(name)) view.records.delete(name);
    for (const name of listed) {
      const own = this.isOwn(`${view.directory}/${name}`);
      if (!own && !view.records.has(name)) view.readAgain.add(name);
    }
    view.names = listed;
  }

  private async readRecords(view: ElectionView): Promise<void> {
    const names = [...view.readAgain];
    view.readAgain.clear();
    const reads = await Promise.allSettled(
      names.map((name) => this.znodes.data(`${view.directory}/${name}`, view.onData)),
    );
    let failure: { error: unknown } | null = null;
    reads.forEach((read, i) => {
      const name = names[i] ?? '';
      if (read.status === 'rejected') {
        view.readAgain.add(name);
        failure = { error: read.reason };
      } else if (read.value === null) {
        view.names?.delete(name);
        view.records.delete(name);
      } else if (view.names?.has(name) === true) {
        const data = read.value.data;
        view.records.set(name, data === undefined ? null : decodeMember(data));
      }
    });
    if (failure !== null) throw (failure as { error: unknown }).error;
  }
}

/** One election's member directory as last told. */
interface ElectionView {
  readonly election: string;
  readonly directory: string;
  /** The member znodes' names as last listed; null until listed. */
  names: Set<string> | null;
  /** Other writers' records by name, as last read (null: not a record of ours to decode). */
  readonly records: Map<string, MemberRecord | null>;
  /** What watch events marked to read again. */
  listAgain: boolean;
  readonly readAgain: Set<string>;
  refreshing: Promise<void> | null;
  /** The last refresh failed; the next settle lists again. */
  failed: boolean;
  error: unknown;
  readonly onChildren: (event: Event) => void;
  readonly onData: (event: Event) => void;
}

function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
