import { errorRegistry, type ErrorCode } from '@leasehold/core';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ServerResponse } from 'node:http';

/**
 * Error answers of the HTTP API: one shape, `{statusCode, code, error, message}`, and every
 * `code` from the registry in docs/errors.md, whatever produced the answer (a route, Fastify's
 * validation, a plugin such as @fastify/sse, or a bug), so a client can match on the code.
 */

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

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  406: 'Not Acceptable',
  409: 'Conflict',
  421: 'Misdirected Request',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function sendError(
  reply: FastifyReply,
  statusCode: number,
  /** A registry code; the store's own when a store call failed. */
  code: string,
  message: string,
  /** More of the answer, after the error's own fields (a transfer's target: routes/steering.ts). */
  details: Readonly<Record<string, unknown>> = {},
) {
  return reply
    .code(statusCode)
    .type('application/json; charset=utf-8')
    .send({ statusCode, code, error: statusText(statusCode), message, ...details });
}

/** The body of an error answer, for an answer function (route-table.ts) to return. */
export function errorAnswerBody(statusCode: number, code: ErrorCode, message: string): ErrorBody {
  return { statusCode, code, error: statusText(statusCode), message };
}

export interface ErrorBody {
  readonly statusCode: number;
  readonly code: ErrorCode;
  readonly error: string;
  readonly message: string;
}

/** The same error answer from node:http, for what is refused before any route (listener.ts). */
export function writeError(
  response: ServerResponse,
  statusCode: number,
  code: ErrorCode,
  message: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  const json = JSON.stringify(errorAnswerBody(statusCode, code, message));
  response.writeHead(statusCode, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(json),
    ...headers,
  });
  response.end(json);
}

/** Install the error handler, the 404 answer and the guard that keeps codes in the registry. */
export function answerErrorsWithRegistryCodes(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      404,
      'LEASEHOLD_E_NOT_FOUND',
      `no route ${request.method} ${request.url.split('?')[0] ?? ''}; see docs/http-api.md`,
    ),
  );
  app.setErrorHandler((error: { statusCode?: number; message?: string }, request, reply) => {
    const statusCode = error.statusCode ?? 500;
    if (statusCode >= 400 && statusCode < 500) {
      return sendError(reply, statusCode, codeForStatus(statusCode), error.message ?? '');
    }
    // The cause stays in the log: its message may name internals the client has no use for.
    request.log.error({ err: error }, 'request failed');
    return sendError(
      reply,
      500,
      'LEASEHOLD_E_INTERNAL',
      'the sidecar could not answer this request; its log has the error',
    );
  });
  // Plugins answer some errors themselves (@fastify/sse's 406 has no code at all).
  app.addHook('onSend', async (_request, reply, payload) => {
    if (reply.statusCode < 400 || typeof payload !== 'string') return payload;
    const body = errorBody(payload);
    if (body === null || isRegistryCode(body.code)) return payload;
    const { statusCode } = reply;
    return JSON.stringify({
      statusCode,
      code: codeForStatus(statusCode),
      error: statusText(statusCode),
      message: typeof body.message === 'string' ? body.message : '',
    });
  });
}

function codeForStatus(statusCode: number): ErrorCode {
  if (statusCode === 401) return 'LEASEHOLD_E_UNAUTHORIZED';
  if (statusCode === 404) return 'LEASEHOLD_E_NOT_FOUND';
  if (statusCode === 406) return 'LEASEHOLD_E_NOT_ACCEPTABLE';
  return statusCode < 500 ? 'LEASEHOLD_E_BAD_REQUEST' : 'LEASEHOLD_E_INTERNAL';
}

function statusText(statusCode: number): string {
  return STATUS_TEXT[statusCode] ?? 'Error';
}

function isRegistryCode(code: unknown): boolean {
  return typeof code === 'string' && Object.hasOwn(errorRegistry, code);
}

/** The payload parsed, when it has the error shape; other 4xx/5xx bodies (`/readyz`) pass. */
function errorBody(payload: string): { code?: unknown; message?: unknown } | null {
  try {
    const body: unknown = JSON.parse(payload);
    return typeof body === 'object' && body !== null && 'error' in body && 'message' in body
      ? (body as { code?: unknown; message?: unknown })
      : null;
  } catch {
    return null;
  }
}
