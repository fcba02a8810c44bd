import { Elector } from '@leasehold/core';
import { createMemoryStore } from '@leasehold/core/testing';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { answerOnFastPath } from '../src/http/fast-path.js';
import { listen, type SidecarListener } from '../src/http/listener.js';
import { createSidecarState } from '../src/http/sidecar-state.js';

/**
 * The node:http fast path (http/fast-path.ts): a synchronous answer is written in the
 * request's own tick, as a bare handler writes it, and an answer function that throws
 * hands the request to Fastify instead of escaping from the request listener.
 */
const store = createMemoryStore();
const closing: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closing.splice(0).reverse()) await close();
});

async function leadingState() {
  const elector = new Elector({ store, election: `fast-${closing.length}`, id: 'a', ttlMs: 5_000 });
  const elected = new Promise((resolve) => elector.once('elected', resolve));
  elector.start();
  closing.push(() => elector.stop());
  await elected;
  const state = createSidecarState({
    elector,
    logger: pino({ level: 'silent' }),
    adminToken: undefined,
  });
  return { elector, state };
}

describe('the fast path', () => {
  it('writes a synchronous answer before the request listener returns', async () => {
    const { state } = await leadingState();
    const sentInTick: boolean[] = [];
    const server: Server = createServer((request, response) => {
      const answered = answerOnFastPath(state, request, response, () =>
        response.writeHead(599).end(),
      );
      sentInTick.push(answered && response.writableEnded);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closing.push(() => new Promise((resolve) => server.close(resolve)));
    const { port } = server.address() as AddressInfo;
    const answer = await fetch(`http://127.0.0.1:${port}/v1/leader`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(answer.headers.get('leasehold-leader')).toBe('a');
    const body = (await answer.json()) as { isLeader: boolean; leader: string };
    expect(body).toMatchObject({ isLeader: true, leader: 'a' });
    expect(sentInTick).toEqual([true]);
  });

  it(
    'hands a request whose answer throws to Fastify, and goes on serving',
    { timeout: 60_000 },
    async () => {
      const { elector, state } = await leadingState();
      const listener: SidecarListener = await listen(state, { host: '127.0.0.1', port: 0 });
      closing.push(() => listener.close());
      const status = elector.status.bind(elector);
      let failing = true;
      elector.status = () => {
        if (failing) throw new Error('status failed');
        return status();
      };
      const failed = await fetch(`${listener.url}/v1/is-leader`);
      expect(failed.status).toBe(500);
      failing = false;
      const answer = await fetch(`${listener.url}/v1/is-leader`);
      expect(answer.status).toBe(200);
      expect(await answer.json()).toMatchObject({ isLeader: true });
    },
  );
});
