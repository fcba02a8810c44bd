import type { FastifyInstance, RouteHandlerMethod } from 'fastify';
import type { Answer, WireAnswer } from './answers.js';
import { adminRoutes } from './routes/admin.js';
import { commandRoutes } from './routes/command.js';
import { leaderRoutes } from './routes/leader.js';
import { operationsRoutes } from './routes/operations.js';
import { statusRoutes } from './routes/status.js';
import { steeringRoutes } from './routes/steering.js';
import {
  ELECTION_PREFIX,
  electionRoute,
  electionsRoutes,
  parseElectionPath,
} from './routes/elections.js';
import { parseShardPath, shardsRoutes } from './routes/shards.js';
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
  /**
   * The route's whole answer, a function of the state at the moment of the request (and of
   * the path's parameters: the election a per-election row's path names).
   */
  readonly answer?: (
    state: SidecarState,
    params?: RouteParams,
  ) => Answer<unknown> | Promise<Answer<unknown>>;
  /**
   * The fast path's answer already serialised, when the route has one (answers.ts,
   * LeaderWire): the same answer as `answer`, written without building or serialising it
   * per request. Undefined (the function's result): use `answer` (a per-election row's
   * error, for one).
   */
  readonly wire?: (state: SidecarState, params?: RouteParams) => WireAnswer | undefined;
  /** Fastify's handler, for a route that needs more than `answer` (a query, a stream, a body). */
  readonly handler?: (state: SidecarState, app: FastifyInstance) => RouteHandlerMethod;
  /** @fastify/sse's option: the route answers with an event stream only. */
  readonly sse?: 'only';
  /**
   * Served for every election too, under /v1/elections/:name (routes/elections.ts makes the
   * row); the unprefixed route answers for the first election.
   */
  readonly perElection?: true;
}

/** A path's parameters: the election of a row under /v1/elections/:name. */
export interface RouteParams {
  readonly name?: string;
}

export interface RouteSchema {
  readonly description?: string;
  readonly hide?: boolean;
  readonly querystring?: object;
  /** The path's parameters (`:name`). */
  readonly params?: object;
  /** The JSON body a POST takes, validated by Fastify (400 LEASEHOLD_E_BAD_REQUEST). */
  readonly body?: object;
  readonly response?: Readonly<Record<number, object>>;
}

const UNPREFIXED: readonly RouteDefinition[] = [
  ...leaderRoutes,
  ...statusRoutes,
  ...adminRoutes,
  ...steeringRoutes,
  ...operationsRoutes,
  ...commandRoutes,
  ...electionsRoutes,
  ...shardsRoutes,
];

export const ROUTES: readonly RouteDefinition[] = [
  ...UNPREFIXED,
  ...UNPREFIXED.filter((route) => route.perElection === true).map(electionRoute),
];

/**
 * The fast route `method path` names, if any; `path` with a query string never is one. A
 * per-election path comes back as its row with the answer bound to the election it names.
 */
export function fastRoute(method: string | undefined, path: string): RouteDefinition | undefined {
  // GET's fixed paths first, without building a key: what apps and probes ask all day.
  const fixed = method === 'GET' ? FAST_GETS.get(path) : FAST_ROUTES.get(`${method ?? ''} ${path}`);
  if (fixed !== undefined) return fixed;
  const group = parseShardPath(path);
  const shardRow = FAST_ROUTES.get(`${method ?? ''} /v1/shards/:name`);
  if (group !== null && shardRow?.answer !== undefined) return bound(shardRow, { name: group });
  const election = parseElectionPath(path);
  if (election === null) return undefined;
  const row = FAST_ROUTES.get(`${method ?? ''} ${ELECTION_PREFIX}${election.rest}`);
  return row === undefined ? undefined : bound(row, { name: election.name });
}

/** `row` with its answers bound to `params`; undefined when it has no answer. */
function bound(row: RouteDefinition, params: RouteParams): RouteDefinition | undefined {
  const { answer, wire } = row;
  if (answer === undefined) return undefined;
  return {
    ...row,
    answer: (state) => answer(state, params),
    ...(wire === undefined ? {} : { wire: (state: SidecarState) => wire(state, params) }),
  };
}

const FAST_ROUTES = new Map(
  ROUTES.filter((route) => route.fastPath).map((route) => [`${route.method} ${route.path}`, route]),
);
const FAST_GETS = new Map(
  ROUTES.filter((route) => route.fastPath && route.method === 'GET').map((route) => [
    route.path,
    route,
  ]),
);
