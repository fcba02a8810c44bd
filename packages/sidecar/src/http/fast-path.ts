import type { Elector } from '@leasehold/core';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Metrics } from './metrics.js';
import { isLeaderAnswer, leaderAnswer, readinessAnswer, type Answer } from './answers.js';

/**
 * The routes apps, probes and Prometheus ask all day, answered straight from node:http: the
 * same answer functions as the Fastify routes, without the framework's per-request work, and
 * without loading the framework at all in a sidecar nobody asks anything else
 * (http/listener.ts). The sidecar registers no request hooks, so nothing is skipped; one
 * added later must be applied here too (the server test compares both paths).
 */
const JSON_ROUTES: Readonly<Record<string, (elector: Elector) => Answer<unknown>>> = {
  '/v1/leader': leaderAnswer,
  '/v1/is-leader': isLeaderAnswer,
  '/healthz': () => ({ statusCode: 200, headers: {}, body: { ok: true } }),
  '/readyz': readinessAnswer,
};

/**
 * Answer `request` if it is for a hot route (GET, no query string) and return true; return
 * false to leave it to Fastify. `fallback` hands it to Fastify after all, should /metrics
 * fail to render (Fastify then answers with its own error).
 */
export function answerHotRoute(
  elector: Elector,
  metrics: Metrics,
  request: IncomingMessage,
  response: ServerResponse,
  fallback: () => void,
): boolean {
  if (request.method !== 'GET') return false;
  const path = request.url ?? '';
  const answer = JSON_ROUTES[path];
  if (answer !== undefined) {
    const { statusCode, headers, body } = answer(elector);
    const json = JSON.stringify(body);
    response.writeHead(statusCode, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(json),
      ...headers,
    });
    response.end(json);
    return true;
  }
  if (path !== '/metrics') return false;
  metrics.render().then((text) => {
    response.writeHead(200, {
      'content-type': metrics.contentType,
      'content-length': Buffer.byteLength(text),
    });
    response.end(text);
  }, fallback);
  return true;
}
