import type { Elector, ResignOutcome } from '@leasehold/core';
import type { FastifyInstance } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import { errorSchema, sendError } from '../errors.js';

/** POST /v1/resign: the one route that changes anything, behind the admin token. */

export interface AdminRoutesOptions {
  readonly elector: Elector;
  /** Bearer token for POST /v1/resign; resign is disabled without one. */
  readonly adminToken: string | undefined;
  /** Gives up leadership (with `leasehold run`, after stopping the command). */
  readonly resign: () => Promise<ResignOutcome>;
  /** Why resign is off although a token may be set; the 403's message. */
  readonly disabledReason?: string;
}

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

export async function adminRoutes(app: FastifyInstance, options: AdminRoutesOptions) {
  const { adminToken, resign, disabledReason } = options;
  app.post('/v1/resign', { schema: resignSchema }, async (request, reply) => {
    if (adminToken === undefined || disabledReason !== undefined) {
      return sendError(
        reply,
        403,
        'LEASEHOLD_E_RESIGN_DISABLED',
        disabledReason ?? 'resign is disabled: start the sidecar with --admin-token to enable it',
      );
    }
    const header = request.headers.authorization ?? '';
    const presented = header.startsWith('Bearer ') ? header.slice(7) : '';
    if (!sameSecret(presented, adminToken)) {
      return sendError(reply, 401, 'LEASEHOLD_E_UNAUTHORIZED', 'missing or wrong bearer token');
    }
    const answer = resignAnswer(await resign());
    // The request's logger already names the election and this id (serve.ts binds them).
    if (answer.releaseError === undefined) {
      request.log.info(answer, 'resign requested over HTTP');
    } else {
      request.log.warn(answer, 'resigned over HTTP, but the release failed');
    }
    return answer;
  });
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
