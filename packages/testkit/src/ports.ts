import { createServer, type Server } from 'node:net';

/** TCP ports free on 127.0.0.1 a moment ago, all different (held together while chosen). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, listenAnywhere));
  const ports = servers.map((server) => {
    const address = server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  });
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  if (ports.includes(0)) throw new Error('no free port');
  return ports;
}

function listenAnywhere(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

/** A TCP port free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port ?? 0;
}

/**
 * Ports inside a lab's store host: its network namespace is the kit's own, so counting
 * up is enough. Different from any root-namespace port, which keeps logs unambiguous.
 */
let nextLabPort = 21_000;
export function labPort(): number {
  nextLabPort += 1;
  return nextLabPort;
}
