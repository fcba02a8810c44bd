import { createStore } from '@leasehold/adapters';
import { Elector, type LeaseStore } from '@leasehold/core';
import { randomUUID } from 'node:crypto';
import { request, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { listen, type SidecarListener } from '../src/http/listener.js';
import { createSidecarState } from '../src/http/sidecar-state.js';
import { DEFAULT_LIMITS, type ListenerLimits } from '../src/http/limits.js';
import { until } from '@leasehold/testkit';

/**
 * The sidecar's own listener (http/listener.ts) over real sockets, an elector on the real
 * Redis: the Host check against DNS rebinding and the connection, stream and long-poll
 * limits (issue 25).
 */
const REDIS = 'redis://127.0.0.1:6379';

interface Running {
  readonly listener: SidecarListener;
  readonly elector: Elector;
  readonly store: LeaseStore;
  readonly port: number;
}
const running: Running[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const r of running.splice(0)) {
    await r.listener.close();
    await r.elector.stop();
    await r.store.close();
  }
});

async function sidecar(
  options: { host?: string; limits?: Partial<ListenerLimits> } = {},
): Promise<Running> {
  const store = await createStore(REDIS, { namespace: `lhlt${randomUUID().slice(0, 8)}` });
  const elector = new Elector({
    store,
    election: `listen-${randomUUID().slice(0, 8)}`,
    id: 'alpha',
    ttlMs: 2_000,
    retryIntervalMs: 200,
  });
  const state = createSidecarState({
    elector,
    logger: pino({ level: 'silent' }),
    adminToken: undefined,
    ...(options.limits === undefined ? {} : { limits: options.limits }),
  });
  const listener = await listen(state, { host: options.host ?? '127.0.0.1', port: 0 });
  const port = Number(new URL(listener.url).port);
  const r = { listener, elector, store, port };
  running.push(r);
  elector.start();
  await until('elector.isLeader()', 5_000, () => elector.isLeader());
  return r;
}

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A GET with the given headers; with `headOnly`, resolves at the answer's head and keeps it. */
function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  headOnly = false,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      if (headOnly && res.statusCode === 200) {
        sockets.push(res.socket);
        resolve({ status: 200, headers: res.headers, body: '' });
        return;
      }
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A raw connection; resolves once connected. */
function openSocket(port: number, bytes = ''): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      if (bytes !== '') socket.write(bytes);
      resolve(socket);
    });
    // Read whatever comes, so that the server's close is seen.
    socket.resume();
    socket.on('error', reject);
    sockets.push(socket);
  });
}

/** Send `bytes` and half-close; destroy the socket at the answer's status line. */
function sendAndDrop(port: number, bytes: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const done = (): void => {
      socket.destroy();
      resolve();
    };
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (/^HTTP\/1\.1 \d{3}/.test(received)) done();
    });
    socket.on('error', done);
    socket.on('close', done);
    socket.on('connect', () => socket.end(bytes));
  });
}

function closedWithin(socket: Socket, ms: number): Promise<number | null> {
  const from = performance.now();
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve(0);
    const timer = setTimeout(() => resolve(null), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(performance.now() - from);
    });
  });
}

describe('a loopback listener', () => {
  it('refuses a foreign Host (DNS rebinding) on the hot and the Fastify routes', async () => {
    const { port } = await sidecar();
    for (const path of ['/v1/leader', '/healthz', '/metrics', '/v1/members', '/v1/history']) {
      const answer = await get(port, path, { host: `rebound.example:${port}` });
      expect(answer.status, path).toBe(421);
      expect(JSON.parse(answer.body)).toMatchObject({ code: 'LEASEHOLD_E_HOST_NOT_ALLOWED' });
    }
    for (const host of ['evil.example', '127.0.0.1.evil.example', 'localhost.evil.example']) {
      expect((await get(port, '/v1/leader', { host })).status, host).toBe(421);
    }
  });

  it('answers loopback host names, with or without a port', async () => {
    const { port } = await sidecar();
    for (const host of [
      'localhost',
      `localhost:${port}`,
      '127.0.0.1',
      `127.0.0.2:${port}`,
      '[::1]',
      `[::1]:${port}`,
      'LOCALHOST',
    ]) {
      expect((await get(port, '/v1/leader', { host })).status, host).toBe(200);
      expect((await get(port, '/v1/members', { host })).status, host).toBe(200);
    }
  });

  it('answers any Host on a non-loopback bind', async () => {
    const { listener } = await sidecar({ host: '0.0.0.0' });
    const port = Number(new URL(listener.url).port);
    expect((await get(port, '/v1/leader', { host: 'leasehold.internal' })).status).toBe(200);
  });
});

describe('the listener limits', () => {
  it('closes a connection that sends nothing, or half a request, within the header timeout', async () => {
    const { port } = await sidecar({ limits: { headersTimeoutMs: 500 } });
    const silent = await openSocket(port);
    const half = await openSocket(port, 'GET /v1/leader HTTP/1.1\r\nHost: localhost\r\nX-Slow: ');
    const [silentAfter, halfAfter] = await Promise.all([
      closedWithin(silent, 5_000),
      closedWithin(half, 5_000),
    ]);
    expect(silentAfter).not.toBeNull();
    expect(halfAfter).not.toBeNull();
    expect(silentAfter).toBeGreaterThan(300);
  });

  it('by default closes a silent connection within 30 s', () => {
    expect(DEFAULT_LIMITS.headersTimeoutMs).toBeLessThanOrEqual(30_000);
  });

  it('keeps a connection that asked, until it has been idle past the keep-alive timeout', async () => {
    const { port } = await sidecar({
      limits: { headersTimeoutMs: 300, keepAliveTimeoutMs: 1_000 },
    });
    const socket = await openSocket(port, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    // Past the header timeout: it asked in time, so only the keep-alive timeout applies.
    expect(await closedWithin(socket, 600)).toBeNull();
    expect(await closedWithin(socket, 3_000)).not.toBeNull();
  });

  it('keeps long-polls and event streams past the header and request timeouts', async () => {
    const { port, elector } = await sidecar({ limits: { headersTimeoutMs: 300 } });
    const term = elector.status().leader?.term ?? 0;
    const stream = await get(port, '/v1/events', { accept: 'text/event-stream' }, true);
    expect(stream.status).toBe(200);
    const streamSocket = sockets.at(-1);
    const from = performance.now();
    const polled = await get(port, `/v1/leader?wait=2s&term=${term}`);
    expect(polled.status).toBe(200);
    expect(performance.now() - from).toBeGreaterThan(1_500);
    expect(streamSocket?.destroyed).toBe(false);
  });

  it('closes connections beyond the cap at once and serves again when they go', async () => {
    const { port } = await sidecar({ limits: { maxConnections: 5 } });
    const held = await Promise.all(Array.from({ length: 5 }, () => openSocket(port)));
    await until(
      '(await closedWithin(await openSocket(port), 1_000)) !== null',
      5_000,
      async () => (await closedWithin(await openSocket(port), 1_000)) !== null,
    );
    for (const socket of held) socket.destroy();
    await until(
      `(await get(port, '/healthz').catch(() => null))?.status === 200`,
      5_000,
      async () => (await get(port, '/healthz').catch(() => null))?.status === 200,
    );
  });

  it('answers event streams and long-polls beyond their caps with 503 and Retry-After', async () => {
    const { port, elector } = await sidecar({ limits: { maxEventStreams: 3, maxLongPolls: 3 } });
    const term = elector.status().leader?.term ?? 0;
    const stream = { accept: 'text/event-stream' };
    const poll = `/v1/leader?wait=60s&term=${term}`;
    for (let i = 0; i < 3; i++)
      expect((await get(port, '/v1/events', stream, true)).status).toBe(200);
    const pollsHeld = Array.from({ length: 3 }, () => get(port, poll));
    await until(
      `elector.listenerCount('deposed') > 0`,
      5_000,
      () => elector.listenerCount('deposed') > 0,
    );
    for (const [path, headers] of [
      ['/v1/events', stream],
      [poll, {}],
    ] as const) {
      const refused = await get(port, path, headers);
      expect(refused.status, path).toBe(503);
      expect(refused.headers['retry-after'], path).toBe('5');
      expect(JSON.parse(refused.body)).toMatchObject({ code: 'LEASEHOLD_E_TOO_MANY_SUBSCRIBERS' });
    }
    // The held long-polls still end with the change they waited for.
    await elector.resign();
    for (const answer of await Promise.all(pollsHeld)) expect(answer.status).toBe(200);
  });

  it('frees the slot of a stream or long-poll whose client left before it began', async () => {
    const { port, elector } = await sidecar({ limits: { maxEventStreams: 1, maxLongPolls: 1 } });
    const term = elector.status().leader?.term ?? 0;
    const head = (path: string, more: string[] = []): string =>
      [`GET ${path} HTTP/1.1`, 'Host: localhost', 'Connection: close', ...more, '', ''].join(
        '\r\n',
      );
    const body = 'x'.repeat(3_000_000);
    for (const path of ['/v1/events?bogus=1', `/v1/leader?wait=60s&term=${term}`]) {
      // As the chaos suite's bad input does: half-closed at once, and with a body the route
      // never reads; each dropped as soon as the answer's status line is in.
      await sendAndDrop(port, head(path));
      await sendAndDrop(port, head(path, [`Content-Length: ${body.length}`]) + body);
    }
    await until('an event stream accepted again', 5_000, async () => {
      const stream = await get(port, '/v1/events', { accept: 'text/event-stream' }, true);
      return stream.status === 200;
    });
    const polled = get(port, `/v1/leader?wait=1s&term=${term}`);
    expect((await polled).status).toBe(200);
  });

  it('holds 1,000 subscribers without a MaxListenersExceededWarning', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const { port, elector } = await sidecar({
        limits: { maxEventStreams: 500, maxLongPolls: 500 },
      });
      const term = elector.status().leader?.term ?? 0;
      const polls: Promise<Answer>[] = [];
      for (let i = 0; i < 500; i += 50) {
        await Promise.all(
          Array.from({ length: 50 }, () =>
            get(port, '/v1/events', { accept: 'text/event-stream' }, true),
          ),
        );
        for (let j = 0; j < 50; j++) polls.push(get(port, `/v1/leader?wait=60s&term=${term}`));
      }
      await until(
        `elector.listenerCount('deposed') > 0`,
        5_000,
        () => elector.listenerCount('deposed') > 0,
      );
      await elector.resign();
      expect((await Promise.all(polls)).every((answer) => answer.status === 200)).toBe(true);
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).toEqual([]);
      expect(elector.listenerCount('leader')).toBeLessThanOrEqual(5);
    } finally {
      process.off('warning', onWarning);
    }
  }, 60_000);
});
