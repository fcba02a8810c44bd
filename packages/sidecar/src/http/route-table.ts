import type { FastifyInstance, RouteHandlerMethod } from 'fastify';
import type { Answer } from './answers.js';
import { adminRoutes } from './routes/admin.js';
import { commandRoutes } from './routes/command.js';
import { leaderRoutes } from './routes/leader.js';
import { operationsRoutes } from './routes/operations.js';
import { statusRoutes } from './routes/status.js';
import { steeringRoutes } from './routes/steering.js';
import type { SidecarState } from './sidecar-state.js';

/**
 * Every route of the HTTP API (docs/http-api.md), in one table that the fast path
 * (fast-path.ts), the Fastify app (fastify-app.ts) and the docs test read. Importing it
 * loads no Fastify: its types only.
 */
export interface RouteDefinition {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  /** Fastify's route schema: description, query string, answers; the OpenAPI document's. */
  readonly schema: RouteSchema;
  /** Behind the admin token (checked before the route runs: fastify-app.ts). */
  readonly admin: boolean;
  /**
   * Answered by node:http from `answer` when asked with GET and no query string, without
   * Fastify's per-request work, and without loading Fastify at all (listener.ts).
   */
  readonly fastPath: boolean;
  /** The route's whole answer, a function of the state at the moment of the request. */
  readonly answer?: (state: SidecarState) => Answer<unknown> | Promise<Answer<unknown>>;
  /** Fastify's handler, for a route that needs more than `answer` (a query, a stream, a body). */
  readonly handler?: (state: SidecarState, app: FastifyInstance) => RouteHandlerMethod;
  /** @fastify/sse's option: the route answers with an event stream only. */
  readonly sse?: 'only';
}

export interface RouteSchema {
  readonly description?: string;
  readonly hide?: boolean;
  readonly querystring?: object;
  /** The JSON body a POST takes, validated by Fastify (400 LEASEHOLD_E_BAD_REQUEST). */
  readonly body?: object;
  readonly response?: Readonly<Record<number, object>>;
}

export const ROUTES: readonly RouteDefinition[] = [
  ...leaderRoutes,
  ...statusRoutes,
  ...adminRoutes,
  ...steeringRoutes,
  ...operationsRoutes,
  ...commandRoutes,
];

/** The fast route `method path` names, if any; `path` with a query string never is one. */
export function fastRoute(method: string | undefined, path: string): RouteDefinition | undefined {
  return FAST_ROUTES.get(`${method ?? ''} ${path}`);
}

const FAST_ROUTES = new Map(
  ROUTES.filter((route) => route.fastPath).map((route) => [`${route.method} ${route.path}`, route]),
);
