import { fastifySSE } from '@fastify/sse';
import fastifySwagger from '@fastify/swagger';
import type { Elector, ResignOutcome } from '@leasehold/core';
import Fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { Logger } from 'pino';
import { answerHotRoute } from './fast-path.js';
import { answerErrorsWithRegistryCodes } from './errors.js';
import { LeadershipHistory } from './history.js';
import { DEFAULT_LIMITS, type ListenerLimits } from './limits.js';
import { adminRoutes } from './routes/admin.js';
import { leaderRoutes } from './routes/leader.js';
import { operationsRoutes } from './routes/operations.js';
import { statusRoutes } from './routes/status.js';
import type { CommandStatus } from '../run/command-backoff.js';
import { commandRoutes } from './routes/command.js';
import { Subscribers } from './subscribers.js';
import type { Metrics } from './metrics.js';
import { version } from '../version.js';

/**
 * The HTTP API (docs/design.md §4) in Fastify, one plugin per concern under http/routes with
 * its schemas beside it. Every leadership answer is computed when the request arrives, from the
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
  readonly resign?: () => Promise<ResignOutcome>;
  /**
   * Why resign is off, for its 403, when the sidecar has a token but will not take it
   * (a non-loopback bind without TLS: serve.ts).
   */
  readonly resignDisabledReason?: string;
  /** Longest `?wait=` a long-poll may ask for. */
  readonly maxWaitMs?: number;
  /**
   * The changes GET /v1/history and the status page show, created with the elector, before
   * it starts: routes built later (http/listener.ts loads them on first use) would miss
   * every change before them. buildServer creates one if none is given.
   */
  readonly history?: LeadershipHistory;
  /** `leasehold run`: its command's status, answered at GET /v1/command. */
  readonly command?: () => CommandStatus;
  /** Connection, stream and long-poll limits (http/limits.ts); defaults otherwise. */
  readonly limits?: Partial<ListenerLimits>;
}

/** The options' limits over the defaults. */
export function listenerLimits(options: Pick<ServerOptions, 'limits'>): ListenerLimits {
  return { ...DEFAULT_LIMITS, ...options.limits };
}

const MAX_WAIT_MS = 5 * 60_000;

/**
 * The Fastify app on a node:http server of its own, the hot routes answered before Fastify
 * sees them (http/hot-routes.ts). The sidecar command uses http/listener.ts instead, which
 * loads this only when a request needs it.
 */
export async function buildServer(options: ServerOptions) {
  const { elector, metrics } = options;
  const history = options.history ?? new LeadershipHistory(elector);
  return createApp({ ...options, history }, (handler) =>
    createServer((request, response) => {
      const toFastify = () => handler(request, response);
      if (!answerHotRoute(elector, metrics, request, response, toFastify)) toFastify();
    }),
  );
}

/**
 * The Fastify routes as a request handler for a server the caller owns and listens on:
 * Fastify only routes the requests it is handed, and `close()` leaves the server alone.
 */
export async function buildRequestHandler(
  options: ServerOptions & { readonly history: LeadershipHistory },
  server: Server,
): Promise<{ handle: RequestListener; close(): Promise<void> }> {
  let handle: RequestListener | null = null;
  const app = await createApp(options, (handler) => {
    handle = handler;
    return server;
  });
  await app.ready();
  if (handle === null) throw new Error('Fastify did not hand over its request handler');
  return { handle, close: () => app.close() };
}

async function createApp(
  options: ServerOptions & { readonly history: LeadershipHistory },
  serverFactory: (handler: RequestListener) => Server,
) {
  const { elector, metrics, adminToken } = options;
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    // Per-request lines only at debug: probes and polling clients would flood the log.
    // Errors are logged at any level.
    logController: new LogController({
      disableRequestLogging: () => !options.logger.isLevelEnabled('debug'),
    }),
    forceCloseConnections: true,
    serverFactory,
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
  const limits = listenerLimits(options);
  // One listener per elector event however many wait (http/subscribers.ts).
  const longPolls = new Subscribers(elector, ['leader', 'elected', 'deposed'], limits.maxLongPolls);
  const eventStreams = new Subscribers(
    elector,
    ['leader', 'elected', 'deposed', 'store-health'],
    limits.maxEventStreams,
  );
  await app.register(leaderRoutes, {
    elector,
    maxWaitMs: options.maxWaitMs ?? MAX_WAIT_MS,
    longPolls,
  });
  await app.register(statusRoutes, { elector, history: options.history, eventStreams });
  const resign = options.resign ?? (() => elector.resignWithOutcome());
  await app.register(adminRoutes, {
    elector,
    adminToken,
    resign,
    ...(options.resignDisabledReason === undefined
      ? {}
      : { disabledReason: options.resignDisabledReason }),
  });
  await app.register(operationsRoutes, { elector, metrics });
  await app.register(commandRoutes, { command: options.command });
  return app;
}
