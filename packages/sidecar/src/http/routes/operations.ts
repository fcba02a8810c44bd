import { readinessAnswer } from '../answers.js';
import type { RouteDefinition } from '../route-table.js';

/** For the platform: liveness, readiness, Prometheus and the OpenAPI document. */

const healthzSchema = {
  description: 'The process and its election loop are alive',
  response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } },
} as const;

const readyzSchema = {
  description: 'Connected to the store and has observed every election at least once',
  response: {
    200: { type: 'object', properties: { ready: { type: 'boolean' } } },
    503: {
      type: 'object',
      properties: { ready: { type: 'boolean' }, reason: { type: 'string' } },
    },
  },
} as const;

export const operationsRoutes: readonly RouteDefinition[] = [
  {
    method: 'GET',
    path: '/healthz',
    schema: healthzSchema,
    admin: false,
    fastPath: true,
    answer: () => ({ statusCode: 200, headers: {}, body: { ok: true } }),
  },
  {
    method: 'GET',
    path: '/readyz',
    schema: readyzSchema,
    admin: false,
    fastPath: true,
    // Every election observed: a sidecar of several is ready once it can answer for each.
    answer: ({ elections }) => readinessAnswer([...elections.values()].map((e) => e.elector)),
  },
  {
    method: 'GET',
    path: '/metrics',
    schema: { description: 'Prometheus metrics', hide: false },
    admin: false,
    fastPath: true,
    answer: async ({ metrics }) => ({
      statusCode: 200,
      headers: { 'content-type': metrics.contentType },
      body: await metrics.render(),
    }),
  },
  {
    method: 'GET',
    path: '/v1/openapi.json',
    schema: { hide: true },
    admin: false,
    fastPath: false,
    handler: (_state, app) => async () => app.swagger(),
  },
];
