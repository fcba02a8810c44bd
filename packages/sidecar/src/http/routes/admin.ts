import type { ResignOutcome } from '@leasehold/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import { errorSchema, sendError } from '../errors.js';
import type { RouteDefinition } from '../route-table.js';
import type { AdminPolicy } from '../sidecar-state.js';

/**
 * POST /v1/resign, the one route that changes anything, and the admin token check every
 * route marked `admin` in the route table passes first (fastify-app.ts).
 */

/** POST /v1/resign's answer: whether this instance stepped down, and what became of its lease. */
export interface ResignAnswer {
  readonly resigned: boolean;
  /** Absent when nothing was held. `left-to-expire`: the release failed, see `expiresBy`. */
  readonly lease?: 'released' | 'left-to-expire';
  /** With `left-to-expire`: the latest time the store keeps the lease (ISO 8601). */
  readonly expiresBy?: string;
  /** The release's failure, when it failed. */
  readonly releaseError?: { readonly code: string; readonly message: string };
}

const resignSchema = {
  description: 'Give up leadership now. Needs Authorization: Bearer <admin token>.',
  response: {
    200: {
      type: 'object',
      properties: {
        resigned: { type: 'boolean' },
        lease: { type: 'string', enum: ['released', 'left-to-expire'] },
        expiresBy: { type: 'string' },
        releaseError: {
          type: 'object',
          properties: { code: { type: 'string' }, message: { type: 'string' } },
        },
      },
    },
    401: errorSchema,
    403: errorSchema,
  },
} as const;

export const adminRoutes: readonly RouteDefinition[] = [
  {
    method: 'POST',
    path: '/v1/resign',
    perElection: true,
    schema: resignSchema,
    admin: true,
    fastPath: false,
    handler: ({ admin }) =>
      async function resign(request) {
        const answer = resignAnswer(await admin.resign());
        // The request's logger already names the election and this id (sidecar.ts binds them).
        if (answer.releaseError === undefined) {
          request.log.info(answer, 'resign requested over HTTP');
        } else {
          request.log.warn(answer, 'resigned over HTTP, but the release failed');
        }
        return answer;
      },
  },
];

/**
 * Refuse an admin route's request unless the policy allows admin routes and the request
 * presents the token; undefined to let it through.
 */
export function refuseWithoutAdminToken(
  admin: AdminPolicy,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply | undefined {
  if (admin.token === undefined || admin.disabledReason !== undefined) {
    return sendError(
      reply,
      403,
      'LEASEHOLD_E_RESIGN_DISABLED',
      admin.disabledReason ??
        'resign is disabled: start the sidecar with --admin-token to enable it',
    );
  }
  const header = request.headers.authorization ?? '';
  const presented = header.startsWith('Bearer ') ? header.slice(7) : '';
  if (!sameSecret(presented, admin.token)) {
    return sendError(reply, 401, 'LEASEHOLD_E_UNAUTHORIZED', 'missing or wrong bearer token');
  }
  return undefined;
}

export function resignAnswer(outcome: ResignOutcome): ResignAnswer {
  if (!outcome.resigned) return { resigned: false };
  const releaseError = outcome.releaseError === null ? {} : { releaseError: outcome.releaseError };
  if (outcome.released || outcome.leaseExpiresBy === null) {
    return { resigned: true, lease: 'released', ...releaseError };
  }
  return {
    resigned: true,
    lease: 'left-to-expire',
    expiresBy: new Date(outcome.leaseExpiresBy).toISOString(),
    ...releaseError,
  };
}

/**
 * Compared as SHA-256 digests: equal lengths whatever was presented, so neither the answer's
 * timing nor an early return tells a client how long the token is.
 */
export function sameSecret(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
