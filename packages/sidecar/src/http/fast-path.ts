import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Answer, WireAnswer } from './answers.js';
import { fastRoute } from './route-table.js';
import type { SidecarState } from './sidecar-state.js';

/**
 * The routes apps, probes and Prometheus ask all day (`fastPath` in the route table),
 * answered straight from node:http: the same answer functions as the Fastify routes,
 * without the framework's per-request work, and without loading the framework at all in a
 * sidecar nobody asks anything else (listener.ts). The sidecar registers no request hooks
 * but the admin check, and no fast route is an admin route; one added later must be applied
 * here too (the server test compares both paths).
 *
 * An answer computed synchronously (every route but /metrics) is written in the request's
 * own tick, as a bare node:http handler does: no promise, no microtask, and one headers
 * object per response (bench/RESULTS.md, "/v1/leader throughput"). A route with a `wire`
 * answer (GET /v1/leader, GET /v1/is-leader) hands over its bytes and headers ready-made,
 * serialised once per change of what they say (answers.ts, LeaderWire).
 */

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Answer `request` if it is for a fast route (its method, no query string) and return
 * true; return false to leave it to Fastify. `fallback` hands it to Fastify after all,
 * should the answer fail (/metrics failing to render, an answer function throwing):
 * Fastify then answers with its own error.
 */
export function answerOnFastPath(
  state: SidecarState,
  request: IncomingMessage,
  response: ServerResponse,
  fallback: () => void,
): boolean {
  const route = fastRoute(request.method, request.url ?? '');
  if (route?.answer === undefined) return false;
  if (route.wire !== undefined) {
    let wire: WireAnswer | undefined;
    try {
      wire = route.wire(state);
      if (wire !== undefined) response.writeHead(wire.statusCode, wire.headers);
    } catch {
      if (!response.headersSent) fallback();
      return true;
    }
    if (wire !== undefined) {
      response.end(wire.payload);
      return true;
    }
  }
  let answer: Answer<unknown> | Promise<Answer<unknown>>;
  try {
    answer = route.answer(state);
  } catch {
    fallback();
    return true;
  }
  if (answer instanceof Promise) {
    answer.then((done) => send(response, done, fallback), fallback);
  } else {
    send(response, answer, fallback);
  }
  return true;
}

/** Write `answer`; anything that fails before a byte is sent goes to Fastify instead. */
function send(response: ServerResponse, answer: Answer<unknown>, fallback: () => void): void {
  let text: string;
  try {
    text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    const headers: OutgoingHttpHeaders =
      typeof answer.body === 'string'
        ? { 'content-length': Buffer.byteLength(text) }
        : { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(text) };
    for (const name in answer.headers) headers[name] = answer.headers[name];
    response.writeHead(answer.statusCode, headers);
  } catch {
    if (!response.headersSent) fallback();
    return;
  }
  response.end(text);
}
