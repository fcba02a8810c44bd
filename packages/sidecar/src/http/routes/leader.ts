import type { Elector } from '@leasehold/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseDuration } from '../../config/fields.js';
import {
  isLeaderAnswer,
  isLeaderWire,
  leaderAnswer,
  leaderBodySchema,
  leaderWire,
} from '../answers.js';
import { errorSchema, sendError } from '../errors.js';
import { RETRY_AFTER_SECONDS } from '../limits.js';
import type { RouteDefinition } from '../route-table.js';
import type { SidecarState } from '../sidecar-state.js';
import type { Subscribers } from '../subscribers.js';

/** GET /v1/leader (with its long-poll) and GET /v1/is-leader. */

const isLeaderSchema = {
  description: '200 while this instance leads, 503 otherwise',
  response: {
    200: {
      type: 'object',
      properties: { isLeader: { type: 'boolean' }, term: { type: ['integer', 'null'] } },
    },
    503: {
      type: 'object',
      properties: { isLeader: { type: 'boolean' }, leader: { type: ['string', 'null'] } },
    },
  },
} as const;

interface LongPoll {
  readonly wait?: string;
  readonly term?: string;
}

export const leaderRoutes: readonly RouteDefinition[] = [
  {
    method: 'GET',
    path: '/v1/leader',
    perElection: true,
    schema: {
      description:
        'Who leads. With ?wait=30s&term=N, waits until the term or leader differs from N.',
      querystring: {
        type: 'object',
        properties: { wait: { type: 'string' }, term: { type: 'string' } },
        additionalProperties: false,
      },
      response: { 200: leaderBodySchema, 400: errorSchema, 503: errorSchema },
    },
    admin: false,
    fastPath: true,
    answer: ({ elector }) => leaderAnswer(elector),
    wire: ({ elector }) => leaderWire(elector),
    handler: (state) => (request, reply) =>
      answerLeader(state, request as FastifyRequest<{ Querystring: LongPoll }>, reply),
  },
  {
    method: 'GET',
    path: '/v1/is-leader',
    perElection: true,
    schema: isLeaderSchema,
    admin: false,
    fastPath: true,
    answer: ({ elector }) => isLeaderAnswer(elector),
    wire: ({ elector }) => isLeaderWire(elector),
  },
];

/** GET /v1/leader through Fastify: with a query string, perhaps a long-poll. */
async function answerLeader(
  { elector, longPolls, maxWaitMs }: SidecarState,
  request: FastifyRequest<{ Querystring: LongPoll }>,
  reply: FastifyReply,
) {
  const poll = parseLongPoll(request.query, maxWaitMs);
  if (poll instanceof Error) {
    return sendError(reply, 400, 'LEASEHOLD_E_BAD_REQUEST', poll.message);
  }
  if (poll !== null) {
    // A body nobody reads pauses the socket, which then never sees its client go.
    request.raw.resume();
    // The response's close, not the request's: a request read to its end closes.
    const waited = await waitForChange(elector, longPolls, poll, reply.raw);
    if (!waited) {
      reply.header('retry-after', String(RETRY_AFTER_SECONDS));
      return sendError(
        reply,
        503,
        'LEASEHOLD_E_TOO_MANY_SUBSCRIBERS',
        `${longPolls.max} long-polls already wait; retry later, or ask without ?wait=`,
      );
    }
  }
  const { headers, body } = leaderAnswer(elector);
  return reply.headers(headers).send(body);
}

/** `?wait=…&term=…`: null without a wait, an Error naming the bad parameter. */
function parseLongPoll(
  query: LongPoll,
  maxWaitMs: number,
): { waitMs: number; seenTerm: number | undefined } | null | Error {
  const { wait, term } = query;
  // A bad term is refused with or without a wait: a client that got it wrong should know.
  const seenTerm = term === undefined ? undefined : Number(term);
  if (term !== undefined && !(/^\d{1,16}$/.test(term) && Number.isSafeInteger(seenTerm))) {
    return new Error(`invalid term: ${JSON.stringify(term)}; the term from your last answer`);
  }
  if (wait === undefined) return null;
  const waitMs = parseDuration(wait);
  if (waitMs instanceof Error || waitMs > maxWaitMs) {
    return new Error(
      `invalid wait: ${JSON.stringify(wait)}; a duration up to ${maxWaitMs / 1000}s, such as 30s`,
    );
  }
  return { waitMs, seenTerm };
}

/**
 * Resolve true when leader or term differs from what the caller saw, after waitMs, or on
 * disconnect; false at once when as many long-polls as allowed already wait.
 */
function waitForChange(
  elector: Elector,
  longPolls: Subscribers,
  { seenTerm, waitMs }: { seenTerm: number | undefined; waitMs: number },
  socketSide: NodeJS.EventEmitter & { readonly destroyed: boolean },
): Promise<boolean> {
  const changed = (): boolean => {
    const current = elector.status().leader;
    return seenTerm === undefined ? false : (current?.term ?? null) !== seenTerm;
  };
  if (changed()) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      unsubscribe?.();
      socketSide.off('close', done);
      resolve(true);
    };
    const unsubscribe = longPolls.subscribe(() => {
      if (seenTerm === undefined || changed()) done();
    });
    if (unsubscribe === null) {
      resolve(false);
      return;
    }
    const timer = setTimeout(done, waitMs);
    socketSide.once('close', done);
    // Gone already: its close came before we listened, and would hold the slot for waitMs.
    if (socketSide.destroyed) done();
  });
}
