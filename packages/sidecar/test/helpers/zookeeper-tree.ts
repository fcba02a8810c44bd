import zookeeper, { type Client } from 'node-zookeeper-client';

/**
 * Remove what sidecar tests left on the shared ZooKeeper: a znode and everything under it,
 * with digest credentials when the znodes are creator-only.
 */
export async function removeZooKeeperTree(
  hosts: string,
  path: string,
  auth?: { username: string; password: string },
): Promise<void> {
  const client = zookeeper.createClient(hosts, { sessionTimeout: 10_000 });
  if (auth !== undefined) {
    client.addAuthInfo('digest', Buffer.from(`${auth.username}:${auth.password}`));
  }
  const connected = new Promise<void>((resolve) => client.once('connected', () => resolve()));
  client.connect();
  await connected;
  try {
    await removeTree(client, path);
  } finally {
    client.close();
  }
}

async function removeTree(client: Client, path: string): Promise<void> {
  const children = await new Promise<string[]>((resolve, reject) =>
    client.getChildren(path, (error, names) =>
      error ? (isNoNode(error) ? resolve([]) : reject(error)) : resolve(names),
    ),
  );
  for (const name of children) await removeTree(client, `${path}/${name}`);
  await new Promise<void>((resolve, reject) =>
    client.remove(path, -1, (error) => (error && !isNoNode(error) ? reject(error) : resolve())),
  );
}

function isNoNode(error: unknown): boolean {
  return (error as { code?: unknown }).code === zookeeper.Exception.NO_NODE;
}
