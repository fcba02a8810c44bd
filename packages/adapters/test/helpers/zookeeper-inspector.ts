import zookeeper, { type ACL, type Client, type Stat } from 'node-zookeeper-client';

/**
 * A plain ZooKeeper client for looking at what the store wrote and for cleaning up after a
 * test, with promises instead of callbacks. "No node" answers null (or nothing to remove).
 */
export class ZooKeeperInspector {
  private constructor(private readonly client: Client) {}

  static async connect(
    hosts: string,
    auth?: { username: string; password: string },
  ): Promise<ZooKeeperInspector> {
    const client = zookeeper.createClient(hosts, { sessionTimeout: 10_000, spinDelay: 100 });
    if (auth !== undefined) {
      client.addAuthInfo('digest', Buffer.from(`${auth.username}:${auth.password}`));
    }
    const connected = new Promise<void>((resolve) => client.once('connected', () => resolve()));
    client.connect();
    await connected;
    return new ZooKeeperInspector(client);
  }

  children(path: string): Promise<string[] | null> {
    return this.call((done) => this.client.getChildren(path, (error, names) => done(error, names)));
  }

  data(path: string): Promise<{ data: string; stat: Stat } | null> {
    return this.call((done) =>
      this.client.getData(path, (error, data, stat) =>
        done(error, { data: data?.toString('utf8') ?? '', stat }),
      ),
    );
  }

  acl(path: string): Promise<ACL[] | null> {
    return this.call((done) => this.client.getACL(path, (error, acls) => done(error, acls)));
  }

  create(path: string, data: string): Promise<string | null> {
    return this.call((done) =>
      this.client.mkdirp(path, Buffer.from(data), (error, created) => done(error, created)),
    );
  }

  /** Delete a znode and everything under it. */
  async removeTree(path: string): Promise<void> {
    for (const name of (await this.children(path)) ?? []) {
      await this.removeTree(`${path}/${name}`);
    }
    await this.call((done) => this.client.remove(path, -1, (error) => done(error, true)));
  }

  close(): void {
    this.client.close();
  }

  private call<T>(issue: (done: (error: unknown, value: T) => void) => void): Promise<T | null> {
    return new Promise((resolve, reject) =>
      issue((error, value) => {
        if (!error) resolve(value);
        else if ((error as { code?: unknown }).code === zookeeper.Exception.NO_NODE) resolve(null);
        else reject(error as Error);
      }),
    );
  }
}
