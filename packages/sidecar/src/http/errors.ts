import type { FastifyReply } from 'fastify';

/** The body of every error answer: a stable code from docs/errors.md and a message. */
export const errorSchema = {
  type: 'object',
  properties: {
    statusCode: { type: 'integer' },
    code: { type: 'string' },
    error: { type: 'string' },
    message: { type: 'string' },
  },
  required: ['statusCode', 'code', 'error', 'message'],
} as const;

const REASONS: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  503: 'Service Unavailable',
};

export function sendError(reply: FastifyReply, statusCode: number, code: string, message: string) {
  const error = REASONS[statusCode] ?? 'Error';
  return reply.code(statusCode).send({ statusCode, code, error, message });
}
