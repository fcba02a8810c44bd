import { errorRegistry } from '@leasehold/core';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '@leasehold/testkit';
import { SidecarProcesses, oneLeader, type Sidecar } from './helpers/sidecar-processes.js';

// A real sidecar process on the real Redis, asked the way people and tools ask it.
const processes = new SidecarProcesses(2_000);
let sidecar: Sidecar;
beforeAll(async () => {
  sidecar = await processes.start(
    'redis://127.0.0.1:6379',
    `lhsu-http-${randomUUID().slice(0, 8)}`,
    'solo',
  );
  await oneLeader([sidecar], 10_000);
});
afterAll(() => processes.killAll());

/** The first chunk of /v1/events with this Accept header (none when undefined). */
async function eventsWith(accept: string | undefined) {
  const controller = new AbortController();
  const response = await fetch(`${sidecar.url}/v1/events`, {
    headers: accept === undefined ? {} : { accept },
    signal: controller.signal,
  });
  try {
    if (response.status !== 200) return { status: response.status, body: await response.text() };
    const first = await response.body?.getReader().read();
    return { status: response.status, body: new TextDecoder().decode(first?.value) };
  } finally {
    controller.abort();
  }
}

describe('GET /v1/events', () => {
  it('streams events to `curl -N` (Accept: */*)', { timeout: 15_000 }, async () => {
    const curl = spawn('curl', ['-sN', `${sidecar.url}/v1/events`], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let output = '';
    curl.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await until(`output.includes('"isLeader":true')`, 10_000, () =>
        output.includes('"isLeader":true'),
      );
      expect(output).toMatch(/^event: leader\ndata: \{/m);
    } finally {
      curl.kill();
    }
  });

  it.each([undefined, '*/*', 'text/*', 'application/json;q=0.9, */*;q=0.1', 'text/event-stream'])(
    'streams to Accept %j',
    async (accept) => {
      const { status, body } = await eventsWith(accept);
      expect(status).toBe(200);
      expect(body).toContain('event: leader');
    },
  );

  it.each(['application/json', 'text/event-stream;q=0, */*'])(
    'answers 406 LEASEHOLD_E_NOT_ACCEPTABLE to Accept %j, which refuses event streams',
    async (accept) => {
      const { status, body } = await eventsWith(accept);
      expect(status).toBe(406);
      expect(JSON.parse(body)).toMatchObject({
        statusCode: 406,
        code: 'LEASEHOLD_E_NOT_ACCEPTABLE',
      });
    },
  );
});

describe('error answers', () => {
  it.each([
    ['abc', 'GET', '/v1/leader?term=abc'],
    ['an empty term', 'GET', '/v1/leader?term='],
    ['a term with wait=soon', 'GET', '/v1/leader?wait=soon&term=1'],
  ])('GET /v1/leader answers 400 to %s', async (_what, method, path) => {
    const response = await fetch(`${sidecar.url}${path}`, { method });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: 'LEASEHOLD_E_BAD_REQUEST' });
  });

  it('carry a code from the registry, never a framework code, and never a 500', async () => {
    const requests: [string, RequestInit][] = [
      ['/nowhere', {}],
      ['/v1/leader', { method: 'PUT' }],
      ['/v1/leader?term=abc', {}],
      ['/v1/leader?wait=forever', {}],
      ['/v1/events', { headers: { accept: 'application/json' } }],
      ['/v1/resign', { method: 'POST' }],
      [
        '/v1/resign',
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' },
      ],
      ['/v1/resign', { method: 'POST', headers: { 'content-type': 'text/xml' }, body: '<a/>' }],
    ];
    for (const [path, init] of requests) {
      const response = await fetch(`${sidecar.url}${path}`, init);
      const body = (await response.json()) as { statusCode: number; code: string };
      expect(response.status, path).toBeGreaterThanOrEqual(400);
      expect(response.status, path).toBeLessThan(500);
      expect(body.statusCode, path).toBe(response.status);
      expect(Object.keys(errorRegistry), `${path}: ${body.code}`).toContain(body.code);
    }
  });
});
