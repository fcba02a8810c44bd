import { fastifySSE } from '@fastify/sse';
import fastifySwagger from '@fastify/swagger';
import type { Elector } from '@leasehold/core';
import Fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { isLeaderAnswer, leaderAnswer, type Answer } from './http/answers.js';
import { answerErrorsWithRegistryCodes } from './http/errors.js';
import { adminRoutes } from './http/routes/admin.js';
import { leaderRoutes } from './http/routes/leader.js';
import { operationsRoutes } from './http/routes/operations.js';
import { statusRoutes } from './http/routes/status.js';
import type { Metrics } from './metrics.js';
import { version } from './version.js';

/**
 * The HTTP API (docs/design.md §4), one plugin per concern under http/routes with its
 * schemas beside it. Every leadership answer is computed when the request arrives, from the
 * elector's own deadline (http/answers.ts): a sidecar frozen and resumed never answers
 * "leader" past it, whatever its timers have not yet noticed.
 */

export interface ServerOptions {
  readonly elector: Elector;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Bearer token for POST /v1/resign; resign is disabled without one. */
  readonly adminToken: string | undefined;
  /** What POST /v1/resign does; `elector.resign()` unless `leasehold run` stops its command first. */
  readonly resign?: () => Promise<boolean>;
  /** Longest `?wait=` a long-poll may ask for. */
  readonly maxWaitMs?: number;
}

const MAX_WAIT_MS = 5 * 60_000;

export async function buildServer(options: ServerOptions) {
  const { elector, metrics, adminToken } = options;
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    // Per-request lines only at debug: probes and polling clients would flood the log.
    // Errors are logged at any level.
    logController: new LogController({
      disableRequestLogging: () => !options.logger.isLevelEnabled('debug'),
    }),
    forceCloseConnections: true,
    serverFactory: (handler) =>
      createServer((request, response) => {
        if (!answerHotRoute(elector, request, response)) handler(request, response);
      }),
  });
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'leasehold sidecar',
        version,
        description: 'Who leads, under which fencing term.',
      },
    },
  });
  await app.register(fastifySSE, { heartbeatInterval: 15_000 });
  answerErrorsWithRegistryCodes(app);
  await app.register(leaderRoutes, { elector, maxWaitMs: options.maxWaitMs ?? MAX_WAIT_MS });
  await app.register(statusRoutes, { elector });
  const resign = options.resign ?? (() => elector.resign());
  await app.register(adminRoutes, { elector, adminToken, resign });
  await app.register(operationsRoutes, { elector, metrics });
  return app;
}

/**
 * The two routes apps poll hardest, `GET /v1/leader` (without a long-poll) and
 * `GET /v1/is-leader`, answered straight from node:http: the same answer functions as the
 * Fastify routes, without the framework's per-request work. The sidecar registers no
 * request hooks, so nothing is skipped; one added later must be applied here too (the
 * server test compares both paths byte for byte).
 */
const HOT_ROUTES: Readonly<Record<string, (elector: Elector) => Answer<unknown>>> = {
  '/v1/leader': leaderAnswer,
  '/v1/is-leader': isLeaderAnswer,
};

function answerHotRoute(
  elector: Elector,
  request: IncomingMessage,
  response: ServerResponse,
): boolean {
  const answer = request.method === 'GET' ? HOT_ROUTES[request.url ?? ''] : undefined;
  if (answer === undefined) return false;
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
