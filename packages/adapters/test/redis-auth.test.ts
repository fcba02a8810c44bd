import { readFileSync } from 'node:fs';
import { StoreAuthError, StoreProtocolError, StoreUnavailableError } from '@leasehold/core';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStore } from '../src/index.js';
import { createRedisStore } from '../src/redis/index.js';
import { exerciseStore, exerciseTransfer } from './helpers/exercise-store.js';
import { RedisServer, TestCertificates } from '@leasehold/testkit';

// Credentials, ACL permissions, missing commands and TLS, each on a private redis-server.

const open = (
  url: string,
  namespace = 'leasehold',
  tls?: { ca?: string; cert?: string; key?: string },
) => createRedisStore(new URL(url), { namespace, ...(tls === undefined ? {} : { tls }) });
const failureOf = (promise: Promise<unknown>) =>
  promise.then(
    () => null,
    (error: unknown) => error as Error,
  );

describe('redis password', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start({ args: ['--requirepass', 'right-password'] });
  });
  afterAll(() => server.close());

  it('fails at start-up with a clear auth error that does not show the password', async () => {
    const failure = await failureOf(
      createStore(`redis://:wrong-password@127.0.0.1:${server.port}`),
    );
    expect(failure).toBeInstanceOf(StoreAuthError);
    expect(failure?.message).toMatch(/refused the credentials.*WRONGPASS/);
    expect(failure?.message).not.toContain('wrong-password');
  });

  it('fails at start-up when the URL has no password', async () => {
    const failure = await failureOf(open(server.url));
    expect(failure).toBeInstanceOf(StoreAuthError);
    expect(failure?.message).toMatch(/NOAUTH/);
  });

  it('works with the right password', async () => {
    const store = await open(`redis://:right-password@127.0.0.1:${server.port}`);
    try {
      await exerciseStore(store);
    } finally {
      await store.close();
    }
  });
});

/** The least-privilege command list documented in docs/stores.md (kept in step by a test). */
const MINIMAL_COMMANDS =
  '+evalsha +eval +subscribe +unsubscribe +ping +info +get +set +del +hmget +hset +hdel ' +
  '+pexpire +pttl +publish +time +zadd +zrangebyscore +zrem +zremrangebyscore';

describe('redis ACL users', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start({
      args: [
        // May use keys and channels under "app:" only.
        ...['--user', 'app', 'on', '>app-pass', '~app:*', '&app:*', '+@all'],
        // May not publish (leasehold's release does).
        ...['--user', 'nopub', 'on', '>nopub-pass', '~nopub:*', 'resetchannels', '+@all'],
        // Exactly the commands docs/stores.md lists for a least-privilege user.
        ...['--user', 'minimal', 'on', '>minimal-pass', '~minimal:*', '&minimal:*'],
        ...MINIMAL_COMMANDS.split(' '),
        ...['--user', 'default', 'off'],
      ],
    });
  });
  afterAll(() => server.close());

  it('works as a user restricted to its namespace', async () => {
    const store = await open(`redis://app:app-pass@127.0.0.1:${server.port}`, 'app');
    try {
      await exerciseStore(store);
    } finally {
      await store.close();
    }
  });

  it('works as a user with only the commands docs/stores.md lists', async () => {
    const docs = readFileSync(new URL('../../../docs/stores.md', import.meta.url), 'utf8');
    expect(docs.replace(/\s+/g, ' ')).toContain(MINIMAL_COMMANDS);
    const store = await open(`redis://minimal:minimal-pass@127.0.0.1:${server.port}`, 'minimal');
    try {
      await exerciseStore(store);
      await exerciseTransfer(store);
    } finally {
      await store.close();
    }
  });

  it('fails at start-up when the user may not use the namespace, naming NOPERM', async () => {
    const failure = await failureOf(
      open(`redis://app:app-pass@127.0.0.1:${server.port}`, 'leasehold'),
    );
    expect(failure).toBeInstanceOf(StoreAuthError);
    expect(failure?.message).toMatch(/NOPERM/);
    expect(failure?.message).not.toContain('app-pass');
  });

  it('names the refusal when the user may not publish the release', async () => {
    const store = await open(`redis://nopub:nopub-pass@127.0.0.1:${server.port}`, 'nopub');
    try {
      const result = await store.tryAcquire({
        election: 'jobs',
        holder: 'a',
        token: randomUUID(),
        ttlMs: 5_000,
      });
      if (!result.acquired) throw new Error('should acquire');
      const failure = await failureOf(store.release(result.lease));
      expect(failure).toBeInstanceOf(StoreAuthError);
      expect(failure?.message).toMatch(
        /refused the credentials or permission.*publish to the channel/,
      );
    } finally {
      await store.close();
    }
  });

  it('refuses an unknown user at start-up', async () => {
    const failure = await failureOf(open(`redis://nobody:app-pass@127.0.0.1:${server.port}`));
    expect(failure).toBeInstanceOf(StoreAuthError);
    expect(failure?.message).toMatch(/WRONGPASS/);
  });
});

describe('redis without scripting', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start({ args: ['--rename-command', 'EVALSHA', '""'] });
  });
  afterAll(() => server.close());

  it('fails at start-up with a protocol error naming the missing command', async () => {
    const failure = await failureOf(open(server.url));
    expect(failure).toBeInstanceOf(StoreProtocolError);
    expect(failure?.message).toMatch(/unknown command 'evalsha'.*EVAL\/EVALSHA/);
  });
});

describe('redis over TLS (rediss://)', () => {
  let certificates: TestCertificates;
  let server: RedisServer;
  let mutual: RedisServer;
  let plain: RedisServer;
  beforeAll(async () => {
    certificates = TestCertificates.create();
    [server, mutual, plain] = await Promise.all([
      RedisServer.start({ tls: certificates }),
      RedisServer.start({ tls: certificates, args: ['--tls-auth-clients', 'yes'] }),
      RedisServer.start(),
    ]);
  });
  afterAll(async () => {
    await Promise.all([server, mutual, plain].map((s) => s?.close()));
    certificates?.dispose();
  });

  it('works with the CA that signed the server certificate', async () => {
    const store = await open(server.url, 'tls', { ca: certificates.ca });
    try {
      await exerciseStore(store);
    } finally {
      await store.close();
    }
  });

  it('presents the client certificate to a server that requires one', async () => {
    const store = await open(mutual.url, 'tls', {
      ca: certificates.ca,
      cert: certificates.clientCert,
      key: certificates.clientKey,
    });
    try {
      await exerciseStore(store);
    } finally {
      await store.close();
    }
  });

  it('fails at start-up, naming the TLS trouble, when the server certificate is not trusted', async () => {
    const failure = await failureOf(open(server.url, 'tls'));
    expect(failure).toBeInstanceOf(StoreAuthError);
    expect(failure?.message).toMatch(/TLS handshake failed.*check the store CA/);
  });

  it('fails at start-up when the server wants a client certificate and gets none', async () => {
    const failure = await failureOf(open(mutual.url, 'tls', { ca: certificates.ca }));
    expect(failure).toBeInstanceOf(StoreAuthError);
    expect(failure?.message).toMatch(/TLS handshake failed/);
  });

  it(
    'counts rediss:// at a plain port as unavailable, with a hint',
    { timeout: 20_000 },
    async () => {
      // The plain server waits for a newline the TLS handshake never sends: a timeout, like
      // an unreachable host, so it stays transient; the message says what else it can be.
      const store = await open(`rediss://127.0.0.1:${plain.port}`, 'tls', { ca: certificates.ca });
      try {
        const deadline = performance.now() + 10_000;
        let failure: Error | null = null;
        while (!/ETIMEDOUT/.test(failure?.message ?? '') && performance.now() < deadline) {
          failure = await failureOf(store.read('jobs'));
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        expect(failure).toBeInstanceOf(StoreUnavailableError);
        expect(failure?.message).toMatch(/ETIMEDOUT.*a port without TLS/);
      } finally {
        await store.close();
      }
    },
  );

  it('counts redis:// at a TLS port as unavailable (nothing tells it apart from an outage)', async () => {
    const store = await open(`redis://127.0.0.1:${server.port}`, 'tls');
    try {
      expect(await failureOf(store.read('jobs'))).toBeInstanceOf(StoreUnavailableError);
    } finally {
      await store.close();
    }
  });
});
