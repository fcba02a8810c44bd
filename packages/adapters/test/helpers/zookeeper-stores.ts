import { createStore } from '@leasehold/adapters';
import type { LeaseStore } from '@leasehold/core';
import { randomUUID } from 'node:crypto';
import type { StoreOptions } from '../../src/options.js';
import type { ZooKeeperInspector } from './zookeeper-inspector.js';

/**
 * The stores a ZooKeeper test opens on a shared server, each in a namespace (znode tree) of
 * its own named with the file's prefix; `cleanup` (after each test) closes them and removes
 * their trees.
 */
export class ZooKeeperTestStores {
  private readonly opened: LeaseStore[] = [];
  private readonly trees: string[] = [];

  constructor(
    private readonly inspector: () => ZooKeeperInspector,
    private readonly prefix: string,
  ) {}

  /** A fresh namespace, removed at cleanup. */
  namespace(): string {
    const name = `${this.prefix}${randomUUID().slice(0, 8)}`;
    this.removeAfter(`/${name}`);
    return name;
  }

  /** A znode tree (a chroot, say) to remove at cleanup. */
  removeAfter(tree: string): void {
    this.trees.push(tree);
  }

  async open(url: string, options: StoreOptions): Promise<LeaseStore> {
    const store = await createStore(url, options);
    this.opened.push(store);
    return store;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.opened.splice(0).map((store) => store.close()));
    for (const tree of this.trees.splice(0)) await this.inspector().removeTree(tree);
  }
}
