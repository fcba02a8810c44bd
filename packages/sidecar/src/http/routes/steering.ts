import {
  LeaseholdError,
  TransferError,
  type DrainOutcome,
  type TransferOutcome,
} from '@leasehold/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorSchema, sendError } from '../errors.js';
import type { RouteDefinition } from '../route-table.js';
import type { SidecarState } from '../sidecar-state.js';

/**
 * POST /v1/transfer, /v1/drain and /v1/undrain (docs/design.md §3.6, docs/operations.md):
 * an operator steers leadership. Admin routes, like /v1/resign. One rule for the answers: a
 * leadership move that did not happen is a 409 with a registry code (a refusal, a transfer
 * that timed out, a drain that found nobody to hand over to), whatever else it carries; a
 * store that could not be asked is a 503 with the store's code.
 */

/** An error answer with a transfer's details: the target, and after a timeout, who leads. */
const conflictSchema = {
  type: 'object',
  properties: {
    ...errorSchema.properties,
    target: { type: 'string' },
    from: { type: 'string' },
    retaken: { type: 'boolean' },
    leader: {
      anyOf: [
        { type: 'null' },
        {
          type: 'object',
          properties: { id: { type: 'string' }, term: { type: 'integer' } },
          required: ['id', 'term'],
        },
      ],
    },
    drain: { type: 'object', additionalProperties: true },
  },
  required: errorSchema.required,
} as const;

const transferredSchema = {
  type: 'object',
  properties: {
    transferred: { type: 'boolean' },
    from: { type: 'string' },
    to: { type: 'string' },
    term: { type: ['integer', 'null'], description: 'The new leader\u2019s term' },
  },
  required: ['transferred', 'from', 'to', 'term'],
} as const;

const transferSchema = {
  description:
    'Hand leadership to the live candidate `to`. Needs Authorization: Bearer <admin token>.',
  body: {
    type: 'object',
    properties: { to: { type: 'string', minLength: 1 } },
    required: ['to'],
  },
  response: { 200: transferredSchema, 401: errorSchema, 403: errorSchema, 409: conflictSchema },
} as const;

const drainedSchema = {
  type: 'object',
  properties: {
    drained: { type: 'boolean' },
    wasLeader: { type: 'boolean' },
    transfer: { anyOf: [{ type: 'null' }, transferredSchema] },
    resigned: { type: 'boolean' },
    code: { type: 'null' },
  },
  required: ['drained', 'wasLeader', 'transfer', 'resigned', 'code'],
} as const;

const drainSchema = {
  description:
    'Stop campaigning; a leader hands over to the first eligible candidate in line (with ' +
    '`force` and nobody eligible, it resigns). Needs Authorization: Bearer <admin token>.',
  body: {
    type: ['object', 'null'],
    properties: { force: { type: 'boolean' } },
  },
  response: { 200: drainedSchema, 401: errorSchema, 403: errorSchema, 409: conflictSchema },
} as const;

const undrainSchema = {
  description:
    'Campaign again after a drain or --standby. Needs Authorization: Bearer <admin token>.',
  response: {
    200: { type: 'object', properties: { drained: { type: 'boolean' } }, required: ['drained'] },
    401: errorSchema,
    403: errorSchema,
  },
} as const;

export const steeringRoutes: readonly RouteDefinition[] = [
  {
    method: 'POST',
    path: '/v1/transfer',
    perElection: true,
    schema: transferSchema,
    admin: true,
    fastPath: false,
    handler: (state) =>
      async function transfer(request, reply) {
        const { to } = request.body as { to: string };
        request.log.info(
          { event: 'transfer-requested', to },
          `transfer to "${to}" requested over HTTP`,
        );
        return steer(
          reply,
          () => state.elector.transfer(to),
          (outcome) => transferAnswer(request, reply, outcome),
        );
      },
  },
  {
    method: 'POST',
    path: '/v1/drain',
    perElection: true,
    schema: drainSchema,
    admin: true,
    fastPath: false,
    handler: (state) =>
      async function drain(request, reply) {
        const force = (request.body as { force?: boolean } | null | undefined)?.force === true;
        request.log.info({ event: 'drain-requested', force }, 'drain requested over HTTP');
        // The sidecar's drain (the unprefixed route) hands its shards over too.
        if (request.routeOptions.url === '/v1/drain') {
          for (const group of state.shards.values()) group.drain();
        }
        return steer(
          reply,
          () => state.elector.drain({ force }),
          (outcome) => drainAnswer(request, reply, outcome),
        );
      },
  },
  {
    method: 'POST',
    path: '/v1/undrain',
    perElection: true,
    schema: undrainSchema,
    admin: true,
    fastPath: false,
    handler: (state: SidecarState) =>
      async function undrain(request) {
        state.elector.undrain();
        if (request.routeOptions.url === '/v1/undrain') {
          for (const group of state.shards.values()) group.undrain();
        }
        request.log.info({ event: 'undrain-requested' }, 'undrained over HTTP: campaigning again');
        return { drained: false };
      },
  },
];

/** Run one steering call; a refusal or a store failure becomes its error answer. */
async function steer<T>(
  reply: FastifyReply,
  call: () => Promise<T>,
  answer: (outcome: T) => unknown,
): Promise<unknown> {
  let outcome: T;
  try {
    outcome = await call();
  } catch (error) {
    if (error instanceof TransferError) {
      return sendError(reply, 409, error.code, error.message, { target: error.target });
    }
    // The store could not be asked (listing the members, the hand-over): try again later.
    if (error instanceof LeaseholdError) return sendError(reply, 503, error.code, error.message);
    throw error;
  }
  return answer(outcome);
}

function transferAnswer(request: FastifyRequest, reply: FastifyReply, outcome: TransferOutcome) {
  if (outcome.transferred) {
    request.log.info(
      { event: 'transferred', ...outcome },
      `leadership transferred to "${outcome.to}"`,
    );
    return outcome;
  }
  const { code, reason, to, from, retaken, leader } = outcome;
  request.log.warn({ event: 'transfer-failed', code, to, retaken, leader }, reason);
  return sendError(reply, 409, code, reason, { target: to, from, retaken, leader });
}

/** A drain that leaves this instance leading (nobody eligible, a failed handover) is a 409. */
function drainAnswer(request: FastifyRequest, reply: FastifyReply, outcome: DrainOutcome) {
  const { transfer } = outcome;
  if (outcome.code !== null) {
    const message =
      'drained, but still leading: no other candidate is eligible (live, not drained, not ' +
      'unhealthy); it hands over as soon as one is, or drain with force to resign anyway';
    request.log.warn({ event: 'drain-kept-leadership', code: outcome.code }, message);
    return sendError(reply, 409, outcome.code, message, { drain: outcome });
  }
  if (transfer !== null && !transfer.transferred) {
    const { code, reason, to, from, retaken, leader } = transfer;
    request.log.warn({ event: 'drain-kept-leadership', code, to }, reason);
    return sendError(reply, 409, code, `drained, but ${reason}; it tries again`, {
      target: to,
      from,
      retaken,
      leader,
      drain: outcome,
    });
  }
  request.log.info({ event: 'drained', ...outcome }, 'drained');
  return outcome;
}
