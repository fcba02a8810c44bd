import type { Elector } from '@leasehold/core';
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics.js';
import { readinessAnswer } from '../answers.js';

/** For the platform: liveness, readiness, Prometheus and the OpenAPI document. */

export interface OperationsRoutesOptions {
  readonly elector: Elector;
  readonly metrics: Metrics;
}

const healthzSchema = {
  description: 'The process and its election loop are alive',
  response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } },
} as const;

const readyzSchema = {
  description: 'Connected to the store and has observed the election at least once',
  response: {
    200: { type: 'object', properties: { ready: { type: 'boolean' } } },
    503: {
      type: 'object',
      properties: { ready: { type: 'boolean' }, reason: { type: 'string' } },
    },
  },
} as const;

export async function operationsRoutes(app: FastifyInstance, options: OperationsRoutesOptions) {
  const { elector, metrics } = options;

  app.get('/healthz', { schema: healthzSchema }, async () => ({ ok: true }));

  app.get('/readyz', { schema: readyzSchema }, async (_request, reply) => {
    const { statusCode, body } = readinessAnswer(elector);
    return reply.code(statusCode).send(body);
  });

  app.get(
    '/metrics',
    { schema: { description: 'Prometheus metrics', hide: false } },
    async (_request, reply) => {
      reply.header('Content-Type', metrics.contentType);
      return metrics.render();
    },
  );

  app.get('/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
