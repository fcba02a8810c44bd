import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';
import { statusPage, wantsHtml } from '../status-page.js';
import { leaderBody, nameAnswer } from '../answers.js';
import { errorSchema, sendError } from '../errors.js';
import { RETRY_AFTER_SECONDS } from '../limits.js';
import type { RouteDefinition } from '../route-table.js';
import type { SidecarState } from '../sidecar-state.js';
import type { Subscribers } from '../subscribers.js';

/**
 * What a person or a dashboard looks at: GET / (the Kubernetes leader-elector answer, or
 * the status page for a browser), the history of changes, the members and the event stream.
 */

const rootSchema = {
  description:
    'Compatible with the Kubernetes leader-elector sidecar. A browser (Accept: text/html) gets the live status page.',
  response: {
    200: {
      content: {
        'application/json': {
          schema: {
            type: 'object',
            properties: { name: { type: 'string' } },
            required: ['name'],
          },
        },
        'text/html': { schema: { type: 'string' } },
      },
    },
  },
} as const;

const historySchema = {
  description: 'Recent leadership changes as this instance saw them, newest first',
  response: {
    200: {
      type: 'object',
      properties: {
        changes: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              at: { type: 'string' },
              kind: { type: 'string', enum: ['leader', 'deposed'] },
              leader: { type: ['string', 'null'] },
              term: { type: ['integer', 'null'] },
              reason: { type: 'string' },
            },
            required: ['at', 'kind', 'leader', 'term'],
          },
        },
      },
      required: ['changes'],
    },
  },
} as const;

const membersSchema = {
  description:
    'Live candidates, first in line first (docs/design.md §3.5): priority, drained, app health and version, last heartbeat',
  response: {
    200: {
      type: 'object',
      properties: {
        members: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              id: { type: 'string' },
              priority: { type: 'integer' },
              isLeader: { type: 'boolean' },
              startedAt: { type: 'string' },
              lastHeartbeatAt: { type: 'string' },
              metadata: { type: 'object', additionalProperties: { type: 'string' } },
              drained: { type: 'boolean' },
              health: { type: 'string', enum: ['unknown', 'healthy', 'unhealthy'] },
              version: { type: ['string', 'null'] },
            },
          },
        },
      },
    },
    503: errorSchema,
  },
} as const;

export const statusRoutes: readonly RouteDefinition[] = [
  {
    method: 'GET',
    path: '/',
    schema: rootSchema,
    admin: false,
    fastPath: false,
    handler: ({ elector }) =>
      async function root(request, reply) {
        if (wantsHtml(request.headers.accept)) {
          const page = statusPage();
          return reply.headers(page.headers).send(page.html);
        }
        return reply.type('application/json').send(nameAnswer(elector));
      },
  },
  {
    method: 'GET',
    path: '/v1/history',
    perElection: true,
    schema: historySchema,
    admin: false,
    fastPath: false,
    answer: ({ history }) => ({
      statusCode: 200,
      headers: {},
      body: { changes: history.recent() },
    }),
  },
  {
    method: 'GET',
    path: '/v1/members',
    perElection: true,
    schema: membersSchema,
    admin: false,
    fastPath: false,
    handler: (state) => (_request, reply) => answerMembers(state, reply),
  },
  {
    method: 'GET',
    path: '/v1/events',
    perElection: true,
    // Any client that does not refuse event streams gets one: curl and proxies send
    // `Accept: */*` or nothing; only an Accept that rules text/event-stream out gets 406.
    sse: 'only',
    schema: {
      description: 'Server-Sent Events: a `leader` event on every change, heartbeats meanwhile',
    },
    admin: false,
    fastPath: false,
    handler:
      ({ elector, eventStreams }) =>
      (request, reply) =>
        streamChanges(eventStreams, 'leader', () => leaderBody(elector), request, reply),
  },
];

async function answerMembers({ elector }: SidecarState, reply: FastifyReply) {
  try {
    const members = await elector.members();
    return {
      members: members.map((m) => ({
        ...m,
        startedAt: new Date(m.startedAt).toISOString(),
        lastHeartbeatAt: new Date(m.lastHeartbeatAt).toISOString(),
      })),
    };
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'LEASEHOLD_E_STORE_UNAVAILABLE';
    const message = `the store could not list members: ${(error as Error).message}`;
    return sendError(reply, 503, code, message);
  }
}

/**
 * An event stream of `event`s carrying `data()`: one on connect, one on every change the
 * subscribers see (GET /v1/events, GET /v1/shards/{name}/events).
 */
export async function streamChanges(
  eventStreams: Pick<Subscribers, 'subscribe' | 'max'>,
  event: string,
  data: () => unknown,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  const send = (): void => {
    void reply.sse.send({ event, data: data() }).catch(() => {});
  };
  // A body nobody reads pauses the socket, which then never sees its client go and
  // would hold its slot: a stream's request has none.
  if (hasBody(request.headers)) {
    return sendError(reply, 400, 'LEASEHOLD_E_BAD_REQUEST', 'an event stream request has no body');
  }
  const unsubscribe = eventStreams.subscribe(send);
  if (unsubscribe === null) {
    reply.header('retry-after', String(RETRY_AFTER_SECONDS));
    return sendError(
      reply,
      503,
      'LEASEHOLD_E_TOO_MANY_SUBSCRIBERS',
      `${eventStreams.max} event streams are already open; retry later`,
    );
  }
  reply.sse.keepAlive();
  reply.sse.onClose(unsubscribe);
  // A client gone before the stream started (it half-closed, or dropped at once) gets no
  // onClose: its slot would be held for good, and enough of them fill the cap.
  reply.raw.once('close', unsubscribe);
  if (reply.raw.destroyed || request.raw.destroyed) unsubscribe();
  send();
}

function hasBody(headers: IncomingHttpHeaders): boolean {
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
