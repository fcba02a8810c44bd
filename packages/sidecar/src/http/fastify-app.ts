import { fastifySSE } from '@fastify/sse';
import fastifySwagger from '@fastify/swagger';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type RouteHandlerMethod,
} from 'fastify';
import type { RequestListener, Server } from 'node:http';
import { version } from '../version.js';
import { answerErrorsWithRegistryCodes } from './errors.js';
import { refuseWithoutAdminToken } from './routes/admin.js';
import { ROUTES, type RouteDefinition } from './route-table.js';
import type { SidecarState } from './sidecar-state.js';

/**
 * The HTTP API in Fastify (docs/design.md §4): every route of the route table with its
 * schema, the OpenAPI document, event streams and the registry's error answers. The
 * listener (listener.ts) loads this module on the first request the fast path leaves, and
 * hands Fastify that request and every later one; Fastify never listens itself.
 */
export interface FastifyRoutes {
  /** Answer one request the listener's server received. */
  readonly handle: RequestListener;
  /** Fastify's close hooks (event streams, long-polls); the server is left alone. */
  close(): Promise<void>;
}

/** The Fastify app for `state`, routing the requests it is handed from `server`. */
export async function loadFastifyApp(state: SidecarState, server: Server): Promise<FastifyRoutes> {
  let handle: RequestListener | null = null;
  const app = Fastify({
    loggerInstance: state.logger as FastifyBaseLogger,
    // Per-request lines only at debug: probes and polling clients would flood the log.
    // Errors are logged at any level.
    logController: new LogController({
      disableRequestLogging: () => !state.logger.isLevelEnabled('debug'),
    }),
    forceCloseConnections: true,
    serverFactory: (handler) => {
      handle = handler;
      return server;
    },
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
  for (const route of ROUTES) addRoute(app, state, route);
  await app.ready();
  if (handle === null) throw new Error('Fastify did not hand over its request handler');
  return { handle, close: () => app.close() };
}

function addRoute(app: FastifyInstance, state: SidecarState, route: RouteDefinition): void {
  app.route({
    method: route.method,
    url: route.path,
    schema: route.schema,
    ...(route.sse === undefined ? {} : { sse: route.sse }),
    ...(route.admin
      ? {
          preHandler: async (request, reply) =>
            refuseWithoutAdminToken(state.admin, request, reply),
        }
      : {}),
    handler: routeHandler(app, state, route),
  });
}

/** The route's own Fastify handler, or one that sends its answer. */
function routeHandler(
  app: FastifyInstance,
  state: SidecarState,
  route: RouteDefinition,
): RouteHandlerMethod {
  if (route.handler !== undefined) return route.handler(state, app);
  const { answer } = route;
  if (answer === undefined) throw new Error(`${route.method} ${route.path} has no answer`);
  return async (_request, reply) => {
    const { statusCode, headers, body } = await answer(state);
    return reply.code(statusCode).headers(headers).send(body);
  };
}
