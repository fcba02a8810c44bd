import { ELECTION_NAME } from '@leasehold/core';
import type { FastifyInstance, RouteHandlerMethod } from 'fastify';
import { NO_STORE, type Answer } from '../answers.js';
import { errorAnswerBody, errorSchema, type ErrorBody } from '../errors.js';
import type { RouteDefinition, RouteParams } from '../route-table.js';
import type { SidecarState } from '../sidecar-state.js';

/**
 * Several elections in one sidecar (docs/http-api.md, "Several elections"): GET
 * /v1/elections lists them, and every route marked `perElection` in the route table is
 * served for each under /v1/elections/:name, by a row made here from the unprefixed one. The
 * row answers exactly as the unprefixed route does, from the state of the election its path
 * names (SidecarState.elections); the unprefixed routes keep answering for the first.
 */

const listSchema = {
  description:
    'Every election this sidecar takes part in, in configuration order (the first is the one the unprefixed routes answer for)',
  response: {
    200: {
      type: 'object',
      properties: {
        elections: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              name: { type: 'string' },
              isLeader: { type: 'boolean', description: 'Whether this instance leads it now' },
              leader: { type: ['string', 'null'] },
              term: { type: ['integer', 'null'] },
            },
            required: ['name', 'isLeader', 'leader', 'term'],
          },
        },
      },
      required: ['elections'],
    },
  },
} as const;

export const electionsRoutes: readonly RouteDefinition[] = [
  {
    method: 'GET',
    path: '/v1/elections',
    schema: listSchema,
    admin: false,
    fastPath: true,
    answer: ({ elections }) => ({
      statusCode: 200,
      headers: NO_STORE,
      body: { elections: [...elections.values()].map(({ elector }) => electionSummary(elector)) },
    }),
  },
];

/** One election's line of the list, from one status snapshot (docs/design.md §3.1). */
function electionSummary(elector: SidecarState['elector']) {
  const status = elector.status();
  return {
    name: status.election,
    isLeader: status.isLeader,
    leader: status.leader?.id ?? null,
    term: status.leader?.term ?? null,
  };
}

/** The prefix of every per-election route; `:name` is Fastify's path parameter. */
export const ELECTION_PREFIX = '/v1/elections/:name';

/** `/v1/elections/<name>/<rest>` with a name any election could have: the name and the rest. */
const ELECTION_PATH = /^\/v1\/elections\/([A-Za-z0-9][A-Za-z0-9._-]{0,127})(\/[a-z-]+)$/;

export function parseElectionPath(path: string): { name: string; rest: string } | null {
  const match = ELECTION_PATH.exec(path);
  return match?.[1] === undefined || match[2] === undefined
    ? null
    : { name: match[1], rest: match[2] };
}

/** The per-election row of an unprefixed route (`/v1/leader` → `/v1/elections/:name/leader`). */
export function electionRoute(template: RouteDefinition): RouteDefinition {
  const { answer, wire, schema } = template;
  return {
    method: template.method,
    path: `${ELECTION_PREFIX}${template.path.slice('/v1'.length)}`,
    schema: {
      ...schema,
      description: `For the election \`name\` (GET /v1/elections lists them), as ${template.method} ${template.path}: ${schema.description ?? ''}`,
      params: nameParams,
      ...(schema.response === undefined
        ? {}
        : { response: { ...schema.response, 400: errorSchema, 404: errorSchema } }),
    },
    admin: template.admin,
    fastPath: template.fastPath,
    ...(template.sse === undefined ? {} : { sse: template.sse }),
    ...(answer === undefined
      ? {}
      : {
          answer: (state: SidecarState, params?: RouteParams) => {
            const found = electionState(state, params?.name);
            return 'error' in found ? found.error : answer(found.state);
          },
        }),
    ...(wire === undefined
      ? {}
      : {
          // An error answer (a bad or unknown name) is left to `answer`.
          wire: (state: SidecarState, params?: RouteParams) => {
            const found = electionState(state, params?.name);
            return 'error' in found ? undefined : wire(found.state);
          },
        }),
    handler: (state, app) => electionHandler(state, app, template),
  };
}

/** The `:name` parameter of a route's path (an election's, a shard group's). */
export const nameParams = {
  type: 'object',
  properties: { name: { type: 'string', description: ELECTION_NAME.accepted } },
  required: ['name'],
} as const;

/** The state of the election `name` names, or the error answer: 400 a bad name, 404 unknown. */
function electionState(
  state: SidecarState,
  name: string | undefined,
): { state: SidecarState } | { error: Answer<ErrorBody> } {
  if (name === undefined || !ELECTION_NAME.pattern.test(name)) {
    const message = `invalid election name ${JSON.stringify(name ?? '')} in the path; ${ELECTION_NAME.accepted}`;
    return { error: errorAnswer(400, 'LEASEHOLD_E_BAD_REQUEST', message) };
  }
  const found = state.elections.get(name);
  if (found !== undefined) return { state: found };
  const message = `this sidecar takes no part in an election "${name}"; GET /v1/elections lists the ones it does`;
  return { error: errorAnswer(404, 'LEASEHOLD_E_UNKNOWN_ELECTION', message) };
}

export function errorAnswer(
  statusCode: 400 | 404,
  code: ErrorBody['code'],
  message: string,
): Answer<ErrorBody> {
  return { statusCode, headers: {}, body: errorAnswerBody(statusCode, code, message) };
}

/**
 * Fastify's handler of a per-election row: the unprefixed route's own handler, made for an
 * election's state on its first request and kept, with the request's log lines naming it.
 */
function electionHandler(
  state: SidecarState,
  app: FastifyInstance,
  template: RouteDefinition,
): RouteHandlerMethod {
  const handlers = new Map<string, RouteHandlerMethod>();
  const handlerFor = (name: string, scoped: SidecarState): RouteHandlerMethod => {
    let handler = handlers.get(name);
    if (handler === undefined) {
      handler = template.handler?.(scoped, app) ?? answerHandler(template, scoped);
      handlers.set(name, handler);
    }
    return handler;
  };
  return function perElection(request, reply) {
    const { name } = request.params as { name?: string };
    const found = electionState(state, name);
    if ('error' in found) {
      const { statusCode, body } = found.error;
      return reply.code(statusCode).type('application/json; charset=utf-8').send(body);
    }
    request.log = request.log.child({ election: name });
    return handlerFor(found.state.elector.election, found.state).call(this, request, reply);
  };
}

/** A route defined by its answer alone, answered through Fastify. */
function answerHandler(template: RouteDefinition, state: SidecarState): RouteHandlerMethod {
  const { answer } = template;
  if (answer === undefined) throw new Error(`${template.method} ${template.path} has no answer`);
  return async (_request, reply) => {
    const { statusCode, headers, body } = await answer(state);
    return reply.code(statusCode).headers(headers).send(body);
  };
}
