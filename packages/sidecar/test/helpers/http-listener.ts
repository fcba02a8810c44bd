import type { Elector } from '@leasehold/core';
import pino, { type Logger } from 'pino';
import { listen } from '../../src/http/listener.js';
import {
  createSidecarState,
  type SidecarState,
  type SidecarStateOptions,
} from '../../src/http/sidecar-state.js';

/**
 * The HTTP API as the command serves it (src/sidecar.ts): the state made once, then the
 * real listener on 127.0.0.1, port 0. Tests ask it over a socket, so what they see is what
 * a client of `leasehold` sees, the fast path and the lazily loaded Fastify routes alike.
 */
export interface TestListener {
  readonly url: string;
  readonly state: SidecarState;
  /** One request over the socket, answered in full. */
  request(target: string | RequestTarget): Promise<TestAnswer>;
  close(): Promise<void>;
}

export interface RequestTarget {
  readonly url: string;
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface TestAnswer {
  readonly statusCode: number;
  /** Lower-case names, as node:http gives them. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  json<T = Record<string, unknown>>(): T;
}

export type TestListenerOptions = Omit<SidecarStateOptions, 'logger' | 'adminToken'> & {
  readonly elector: Elector;
  readonly logger?: Logger;
  readonly adminToken?: string | undefined;
  /**
   * Load the Fastify routes before returning (the default), as the command would have by
   * its first request for them: loading blocks the event loop for seconds on a loaded
   * machine, which a test's 2 s lease may not survive. `lazy` leaves that to the test.
   */
  readonly fastify?: 'preload' | 'lazy';
};

export async function startTestListener(options: TestListenerOptions): Promise<TestListener> {
  const { fastify, ...stateOptions } = options;
  const state = createSidecarState({
    logger: pino({ level: 'silent' }),
    adminToken: undefined,
    ...stateOptions,
  });
  const listener = await listen(state, { host: '127.0.0.1', port: 0 });
  if (fastify !== 'lazy') await ask(listener.url, { url: '/v1/history' });
  return {
    url: listener.url,
    state,
    request: (target) => ask(listener.url, typeof target === 'string' ? { url: target } : target),
    close: () => listener.close(),
  };
}

async function ask(base: string, target: RequestTarget): Promise<TestAnswer> {
  const response = await fetch(`${base}${target.url}`, {
    method: target.method ?? 'GET',
    headers: target.headers ?? {},
    ...(target.body === undefined ? {} : { body: target.body }),
  });
  const body = await response.text();
  return {
    statusCode: response.status,
    headers: Object.fromEntries(response.headers),
    body,
    json: <T>() => JSON.parse(body) as T,
  };
}
