import zookeeper, {
  type ACL,
  type Event,
  type Stat,
  type Transaction,
} from 'node-zookeeper-client';
import { hasCode, ZooKeeperCode } from './errors.js';
import type { ZooKeeperSession } from './session.js';

/**
 * The znode operations the store needs, as promises over the session. Errors are the
 * client's own (the store translates them); "no such node" is an answer where it is one.
 */
export class Znodes {
  /** Creator-only when the URL has credentials: other users can neither read nor write. */
  readonly acl: ACL[];

  constructor(
    private readonly session: ZooKeeperSession,
    withCredentials: boolean,
  ) {
    // "auth" stands for whoever the creating session authenticated as: the digest user.
    const id = withCredentials ? new zookeeper.Id('auth', '') : new zookeeper.Id('world', 'anyone');
    this.acl = [new zookeeper.ACL(zookeeper.Permission.ALL, id)];
  }

  /** The children's names, or null when the znode does not exist. */
  children(path: string, watcher?: (event: Event) => void): Promise<string[] | null> {
    return this.session
      .request<string[]>('list', (client, done) => {
        if (watcher === undefined) client.getChildren(path, (error, names) => done(error, names));
        else client.getChildren(path, watcher, (error, names) => done(error, names));
      })
      .catch(nullIfNoNode);
  }

  /**
   * Data and stat, or null when the znode does not exist. With a watcher, ZooKeeper calls it
   * once when the znode's data changes or it is deleted.
   */
  data(
    path: string,
    watcher?: (event: Event) => void,
  ): Promise<{ data: Buffer | undefined; stat: Stat } | null> {
    return this.session
      .request<{ data: Buffer | undefined; stat: Stat }>('read', (client, done) => {
        const answer = (error: unknown, data: Buffer | undefined, stat: Stat): void =>
          done(error, { data, stat });
        if (watcher === undefined) client.getData(path, answer);
        else client.getData(path, watcher, answer);
      })
      .catch(nullIfNoNode);
  }

  /**
   * The stat, or null when the znode does not exist. With a watcher, ZooKeeper calls it once
   * when the znode is deleted or its data changes (or, if it did not exist, when it appears).
   */
  exists(path: string, watcher?: (event: Event) => void): Promise<Stat | null> {
    return this.session.request<Stat | null>('read', (client, done) => {
      if (watcher === undefined) client.exists(path, (error, stat) => done(error, stat ?? null));
      else client.exists(path, watcher, (error, stat) => done(error, stat ?? null));
    });
  }

  /**
   * Create a znode (its parents too, persistent, when they are missing) and resolve to its
   * path, which for a sequential znode has the sequence number appended.
   */
  async create(path: string, data: Buffer, mode: number): Promise<string> {
    try {
      return await this.createOnce(path, data, mode);
    } catch (error) {
      if (!hasCode(error, ZooKeeperCode.NO_NODE)) throw error;
    }
    await this.ensurePath(path.slice(0, path.lastIndexOf('/')));
    return this.createOnce(path, data, mode);
  }

  /** Make sure a persistent znode and its parents exist. */
  ensurePath(path: string): Promise<void> {
    return this.session.request<undefined>('create', (client, done) =>
      client.mkdirp(path, this.acl, zookeeper.CreateMode.PERSISTENT, (error) =>
        done(error, undefined),
      ),
    );
  }

  setData(path: string, data: Buffer): Promise<void> {
    return this.session.request<undefined>('write', (client, done) =>
      client.setData(path, data, -1, (error) => done(error, undefined)),
    );
  }

  /** Delete a znode; resolves to false when it was already gone. */
  remove(path: string): Promise<boolean> {
    return this.session
      .request<boolean>('delete', (client, done) =>
        client.remove(path, -1, (error) => done(error, true)),
      )
      .catch((error: unknown) => {
        if (hasCode(error, ZooKeeperCode.NO_NODE)) return false;
        throw error;
      });
  }

  /**
   * Whether the znode exists, asked of the ensemble's leader: a check-only multi is a write,
   * so it is ordered after everything the leader has committed (no stale follower answers),
   * and the leader refuses it when our session has ended.
   */
  checkOnLeader(path: string): Promise<boolean> {
    return this.session
      .request<boolean>('renew', (client, done) =>
        client
          .transaction()
          .check(path)
          .commit((error) => done(error, true)),
      )
      .catch((error: unknown) => {
        if (hasCode(error, ZooKeeperCode.NO_NODE)) return false;
        throw error;
      });
  }

  /**
   * `checkOnLeader` for many znodes in ONE check-only multi (LeaseStore.batch): true when
   * every one exists, false when any does not (the multi does not say which).
   */
  checkAllOnLeader(paths: readonly string[]): Promise<boolean> {
    return this.session
      .request<boolean>('renew', (client, done) =>
        paths
          .reduce((transaction, path) => transaction.check(path), client.transaction())
          .commit((error) => done(error, true)),
      )
      .catch((error: unknown) => {
        if (hasCode(error, ZooKeeperCode.NO_NODE)) return false;
        throw error;
      });
  }

  /**
   * One multi-op: every operation `build` adds happens, or none does. Rejects with the
   * client's error for the first operation that failed (NO_NODE, BAD_VERSION, NODE_EXISTS…).
   */
  multi(operation: string, build: (transaction: Transaction) => Transaction): Promise<void> {
    return this.session.request<undefined>(operation, (client, done) =>
      build(client.transaction()).commit((error) => done(error, undefined)),
    );
  }

  /**
   * The ensemble's time now, in ms: the mtime of a write to `path` (created on first use),
   * which the ZooKeeper leader stamps with its own clock, as it stamped every ctime.
   */
  async storeTime(path: string): Promise<number> {
    const stamp = (): Promise<Stat> =>
      this.session.request<Stat>('read', (client, done) =>
        client.setData(path, Buffer.alloc(0), -1, (error, stat) => done(error, stat)),
      );
    try {
      return zooKeeperTime((await stamp()).mtime);
    } catch (error) {
      if (!hasCode(error, ZooKeeperCode.NO_NODE)) throw error;
    }
    await this.create(path, Buffer.alloc(0), zookeeper.CreateMode.PERSISTENT).catch(
      (error: unknown) => {
        if (!hasCode(error, ZooKeeperCode.NODE_EXISTS)) throw error;
      },
    );
    return zooKeeperTime((await stamp()).mtime);
  }

  private createOnce(path: string, data: Buffer, mode: number): Promise<string> {
    return this.session.request<string>('create', (client, done) =>
      client.create(path, data, this.acl, mode, (error, created) => done(error, created)),
    );
  }
}

/** A stat's ctime or mtime (8 bytes, big-endian ms since the epoch) as a number. */
export function zooKeeperTime(stamp: Buffer): number {
  return Number(stamp.readBigInt64BE());
}

function nullIfNoNode(error: unknown): null {
  if (hasCode(error, ZooKeeperCode.NO_NODE)) return null;
  throw error;
}
