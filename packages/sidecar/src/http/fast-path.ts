import type { IncomingMessage, ServerResponse } from 'node:http';
import { fastRoute } from './route-table.js';
import type { SidecarState } from './sidecar-state.js';

/**
 * The routes apps, probes and Prometheus ask all day (`fastPath` in the route table),
 * answered straight from node:http: the same answer functions as the Fastify routes,
 * without the framework's per-request work, and without loading the framework at all in a
 * sidecar nobody asks anything else (listener.ts). The sidecar registers no request hooks
 * but the admin check, and no fast route is an admin route; one added later must be applied
 * here too (the server test compares both paths).
 */

/**
 * Answer `request` if it is for a fast route (its method, no query string) and return
 * true; return false to leave it to Fastify. `fallback` hands it to Fastify after all,
 * should the answer fail (/metrics failing to render): Fastify then answers with its own
 * error.
 */
export function answerOnFastPath(
  state: SidecarState,
  request: IncomingMessage,
  response: ServerResponse,
  fallback: () => void,
): boolean {
  const route = fastRoute(request.method, request.url ?? '');
  if (route?.answer === undefined) return false;
  Promise.resolve(route.answer(state)).then(({ statusCode, headers, body }) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    response.writeHead(statusCode, {
      ...(typeof body === 'string' ? {} : { 'content-type': 'application/json; charset=utf-8' }),
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    response.end(text);
  }, fallback);
  return true;
}
