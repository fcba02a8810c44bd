import { ELECTION_NAME, type ShardGroup } from '@leasehold/core';
import { NO_STORE, type Answer } from '../answers.js';
import { errorSchema } from '../errors.js';
import type { RouteDefinition, RouteParams } from '../route-table.js';
import type { SidecarState } from '../sidecar-state.js';
import { errorAnswer, nameParams } from './elections.js';
import { streamChanges } from './status.js';

/**
 * Shard groups (docs/shards.md, docs/http-api.md "Shards"): GET /v1/shards lists the
 * sidecar's groups, GET /v1/shards/:name answers which shards of one this instance owns, each
 * with its term, read at one instant. Both are fast routes: a consumer asks before each batch.
 */

const ownedSchema = {
  type: 'array',
  description: 'The shards this instance leads at this instant, by shard number',
  items: {
    type: 'object',
    properties: {
      shard: { type: 'integer' },
      term: { type: 'integer', description: 'Pass it with every write for this shard' },
    },
    required: ['shard', 'term'],
  },
} as const;

const groupSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    count: {
      type: 'integer',
      description: 'Shards in the group: elections <name>-0 … <name>-(count-1)',
    },
    owned: ownedSchema,
    members: {
      type: ['array', 'null'],
      items: { type: 'string' },
      description:
        'The eligible candidates the shards are balanced over; null before the first list',
    },
    moving: {
      type: 'array',
      description: 'Transfers of this instance under way',
      items: {
        type: 'object',
        properties: { shard: { type: 'integer' }, to: { type: 'string' } },
        required: ['shard', 'to'],
      },
    },
  },
  required: ['name', 'count', 'owned', 'members', 'moving'],
} as const;

export const shardsRoutes: readonly RouteDefinition[] = [
  {
    method: 'GET',
    path: '/v1/shards',
    schema: {
      description:
        "Every shard group of this sidecar (`shards:` in its YAML file), with this instance's shards",
      response: {
        200: {
          type: 'object',
          properties: { shards: { type: 'array', items: groupSchema } },
          required: ['shards'],
        },
      },
    },
    admin: false,
    fastPath: true,
    answer: ({ shards }) => ({
      statusCode: 200,
      headers: NO_STORE,
      body: { shards: [...shards.values()].map(groupAnswer) },
    }),
  },
  {
    method: 'GET',
    path: '/v1/shards/:name',
    schema: {
      description:
        'Which shards of the group `name` this instance owns now, each with its term (GET /v1/shards lists the groups)',
      params: nameParams,
      response: { 200: groupSchema, 400: errorSchema, 404: errorSchema },
    },
    admin: false,
    fastPath: true,
    answer: (state, params) => shardGroupAnswer(state, params),
    handler: (state) => async (request, reply) => {
      const { statusCode, headers, body } = shardGroupAnswer(state, request.params as RouteParams);
      return reply.code(statusCode).headers(headers).send(body);
    },
  },
  {
    method: 'GET',
    path: '/v1/shards/:name/events',
    sse: 'only',
    schema: {
      description:
        'Server-Sent Events: an `owned` event, the GET /v1/shards/{name} body, on connect and on every change of the shards this instance owns',
      params: nameParams,
    },
    admin: false,
    fastPath: false,
    handler: (state) => (request, reply) => {
      const { name = '' } = request.params as RouteParams;
      const group = state.shards.get(name);
      const streams = state.shardStreams.get(name);
      if (group === undefined || streams === undefined) {
        const { statusCode, body } = shardGroupAnswer(state, { name });
        return reply.code(statusCode).type('application/json; charset=utf-8').send(body);
      }
      return streamChanges(streams, 'owned', () => groupAnswer(group), request, reply);
    },
  },
];

/** `/v1/shards/<name>` with a name any group could have: the name. */
const SHARD_PATH = /^\/v1\/shards\/([A-Za-z0-9][A-Za-z0-9._-]{0,127})$/;

export function parseShardPath(path: string): string | null {
  return SHARD_PATH.exec(path)?.[1] ?? null;
}

/** One group's answer, from one status snapshot: owned without the election's name. */
function groupAnswer(group: ShardGroup) {
  const status = group.status();
  return {
    name: status.name,
    count: status.count,
    owned: status.owned.map(({ shard, term }) => ({ shard, term })),
    members: status.members,
    moving: status.moving,
  };
}

function shardGroupAnswer(state: SidecarState, params: RouteParams | undefined): Answer<unknown> {
  const name = params?.name;
  if (name === undefined || !ELECTION_NAME.pattern.test(name)) {
    const message = `invalid shard group name ${JSON.stringify(name ?? '')} in the path; ${ELECTION_NAME.accepted}`;
    return errorAnswer(400, 'LEASEHOLD_E_BAD_REQUEST', message);
  }
  const group = state.shards.get(name);
  if (group !== undefined) return { statusCode: 200, headers: NO_STORE, body: groupAnswer(group) };
  const message = `this sidecar runs no shard group "${name}"; GET /v1/shards lists the ones it does`;
  return errorAnswer(404, 'LEASEHOLD_E_UNKNOWN_SHARD_GROUP', message);
}
