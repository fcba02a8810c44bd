import { createStore } from '@leasehold/adapters';
import { LeaseholdConfigError, StoreProtocolError } from '@leasehold/core';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// createStore on an address where its first connection fails: hopeless causes (a name DNS
// does not know, another kind of server) are refused at once; a server that may merely be
// down or slow is not, and the store starts and keeps retrying.
const PORTS = { redis: 6379, postgres: 5432, etcd: 2379 } as const;
const URLS = {
  redis: (port: number) => `redis://127.0.0.1:${port}`,
  postgres: (port: number) => `postgres://postgres@127.0.0.1:${port}/test`,
  etcd: (port: number) => `etcd://127.0.0.1:${port}`,
} as const;
const BACKENDS = Object.keys(PORTS) as (keyof typeof PORTS)[];
const NAMES = { redis: 'a Redis server', postgres: 'a PostgreSQL server', etcd: 'an etcd server' };

describe.each(BACKENDS)('createStore(%s://) at start-up', (backend) => {
  it.each(BACKENDS.filter((other) => other !== backend))(
    'refuses %s at its address: protocol mismatch',
    { timeout: 20_000 },
    async (other) => {
      const failure = await createStore(URLS[backend](PORTS[other])).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(StoreProtocolError);
      expect((failure as Error).message).toBe(
        `protocol mismatch: 127.0.0.1:${PORTS[other]} is ${NAMES[other]}, not ${NAMES[backend]}; check the scheme and port of the store URL (the usual port is ${PORTS[backend]})`,
      );
    },
  );

  it('refuses a host name DNS does not know, saying it is DNS', { timeout: 20_000 }, async () => {
    const url = URLS[backend](PORTS[backend]).replace('127.0.0.1', 'lhsu-nowhere.invalid');
    const failure = await createStore(url).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(LeaseholdConfigError);
    expect(failure).toMatchObject({ field: 'store host', value: 'lhsu-nowhere.invalid' });
    expect((failure as Error).message).toContain('DNS has no address for this one (ENOTFOUND)');
  });
});

describe('servers that may merely be down or slow', () => {
  // One says nothing; the other hangs up on every connection without a word.
  let silent: Server;
  let hangingUp: Server;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    silent = createServer((socket) => sockets.push(socket.on('error', () => {})));
    hangingUp = createServer((socket) => socket.on('error', () => {}).end());
    for (const server of [silent, hangingUp]) {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    }
  });
  afterAll(() => {
    for (const socket of sockets) socket.destroy();
    silent.close();
    hangingUp.close();
  });
  const port = (server: Server) => (server.address() as { port: number }).port;

  it.each([
    ['redis', 'silent'],
    ['redis', 'hanging up'],
    ['postgres', 'hanging up'],
    ['etcd', 'silent'],
    ['etcd', 'hanging up'],
  ] as const)('%s: a %s server is not a mismatch', { timeout: 20_000 }, async (backend, kind) => {
    const store = await createStore(URLS[backend](port(kind === 'silent' ? silent : hangingUp)));
    expect(store.backend).toBe(backend);
    await store.close();
  });
});
