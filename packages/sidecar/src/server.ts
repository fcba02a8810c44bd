import { fastifySSE } from '@fastify/sse';
import fastifySwagger from '@fastify/swagger';
import type { Elector, LeaderInfo } from '@leasehold/core';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyReply } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { version } from './version.js';
import type { Metrics } from './metrics.js';
import { parseDuration } from './config.js';
import { LeadershipHistory } from './history.js';
import { statusPage, wantsHtml } from './status-page.js';

/**
 * The HTTP API (DESIGN §4). Every leadership answer is computed when the request arrives,
 * from the elector's own deadline: a sidecar frozen and resumed never answers "leader" past
 * it, whatever its timers have not yet noticed.
 */

export interface ServerOptions {
  readonly elector: Elector;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Bearer token for POST /v1/resign; resign is disabled without one. */
  readonly adminToken: string | undefined;
  /** What POST /v1/resign does; `elector.resign()` unless `leasehold run` stops its command first. */
  readonly resign?: () => Promise<boolean>;
  /** Longest `?wait=` a long-poll may ask for. */
  readonly maxWaitMs?: number;
}

const MAX_WAIT_MS = 5 * 60_000;

const errorSchema = {
  type: 'object',
  properties: {
    statusCode: { type: 'integer' },
    code: { type: 'string' },
    error: { type: 'string' },
    message: { type: 'string' },
  },
  required: ['statusCode', 'code', 'error', 'message'],
} as const;

const storeSchema = {
  type: 'object',
  properties: {
    healthy: { type: 'boolean' },
    lastOkAt: {
      type: ['string', 'null'],
      description: 'ISO time of the last successful store call',
    },
    error: {
      anyOf: [
        { type: 'null' },
        { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
      ],
    },
  },
  required: ['healthy', 'lastOkAt', 'error'],
} as const;

const leaderSchema = {
  type: 'object',
  properties: {
    election: { type: 'string' },
    leader: { type: ['string', 'null'], description: 'Id of the leader this instance knows of' },
    term: { type: ['integer', 'null'], description: 'Fencing term of that leader' },
    isLeader: { type: 'boolean', description: 'Whether this instance leads, as of this request' },
    self: { type: 'string', description: 'This instance\u2019s id' },
    since: { type: ['string', 'null'], description: 'ISO time since which the leader is known' },
    leaseRemainingMs: {
      type: 'integer',
      description:
        'While leading: ms until this instance\u2019s own deadline. Cache no longer than this.',
    },
    backend: { type: 'string' },
    store: storeSchema,
  },
  required: [
    'election',
    'leader',
    'term',
    'isLeader',
    'self',
    'since',
    'leaseRemainingMs',
    'backend',
    'store',
  ],
} as const;

interface LeaderBody {
  election: string;
  leader: string | null;
  term: number | null;
  isLeader: boolean;
  self: string;
  since: string | null;
  leaseRemainingMs: number;
  backend: string;
  store: {
    healthy: boolean;
    lastOkAt: string | null;
    error: { code: string; message: string } | null;
  };
}

/** Wall-clock ms → ISO text; the same few values recur on every request, so keep the last. */
function isoTimeCache(): (ms: number | null) => string | null {
  let lastMs: number | null = null;
  let lastText: string | null = null;
  return (ms) => {
    if (ms === null) return null;
    if (ms !== lastMs) {
      lastMs = ms;
      lastText = new Date(ms).toISOString();
    }
    return lastText;
  };
}
const sinceText = isoTimeCache();
const lastOkText = isoTimeCache();

export function leaderBody(elector: Elector): LeaderBody {
  const status = elector.status();
  const leader: LeaderInfo | null = status.leader;
  return {
    election: status.election,
    leader: leader?.id ?? null,
    term: leader?.term ?? null,
    isLeader: status.isLeader,
    self: status.id,
    since: sinceText(status.leaderSince),
    leaseRemainingMs: Math.floor(status.leaseRemainingMs),
    backend: status.backend,
    store: {
      healthy: status.store.healthy,
      lastOkAt: lastOkText(status.store.lastOkAt),
      error: status.store.error,
    },
  };
}

function sendError(reply: FastifyReply, statusCode: number, code: string, message: string) {
  const error =
    { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 503: 'Service Unavailable' }[
      statusCode
    ] ?? 'Error';
  return reply.code(statusCode).send({ statusCode, code, error, message });
}

export async function buildServer(options: ServerOptions) {
  const { elector, metrics } = options;
  const maxWaitMs = options.maxWaitMs ?? MAX_WAIT_MS;
  // Request logging stays off: probes would flood the log. Errors are still logged.
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    // Per-request lines only at debug: probes and polling clients would flood the log.
    logController: new LogController({
      disableRequestLogging: () => !options.logger.isLevelEnabled('debug'),
    }),
    forceCloseConnections: true,
    // The two routes apps poll hardest are answered straight from node:http; Fastify's
    // routes below give the same answers (and the schemas, the OpenAPI document, inject).
    serverFactory: (handler) =>
      createServer((request, response) => {
        if (!answerHotRoute(elector, request, response)) handler(request, response);
      }),
  });
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'leasehold sidecar',
        version,
        description: 'Who leads, under which fencing term.',
      },
    },
  });
  await app.register(fastifySSE, { heartbeatInterval: 15_000 });

  const history = new LeadershipHistory(elector);

  app.get(
    '/',
    {
      schema: {
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
      },
    },
    async (request, reply) => {
      if (wantsHtml(request.headers.accept)) {
        const page = statusPage();
        return reply.headers(page.headers).send(page.html);
      }
      return reply.type('application/json').send({ name: elector.status().leader?.id ?? '' });
    },
  );

  app.get(
    '/v1/history',
    {
      schema: {
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
      },
    },
    async () => ({ changes: history.recent() }),
  );

  app.get<{ Querystring: { wait?: string; term?: string } }>(
    '/v1/leader',
    {
      schema: {
        description:
          'Who leads. With ?wait=30s&term=N, waits until the term or leader differs from N.',
        querystring: {
          type: 'object',
          properties: { wait: { type: 'string' }, term: { type: 'string' } },
          additionalProperties: false,
        },
        response: { 200: leaderSchema, 400: errorSchema },
      },
    },
    async (request, reply) => {
      const { wait, term } = request.query;
      if (wait !== undefined) {
        const waitMs = parseDuration(wait);
        if (waitMs instanceof Error || waitMs > maxWaitMs) {
          return sendError(
            reply,
            400,
            'LEASEHOLD_E_BAD_REQUEST',
            `invalid wait: ${JSON.stringify(wait)}; a duration up to ${maxWaitMs / 1000}s, such as 30s`,
          );
        }
        const seenTerm = term === undefined ? undefined : Number(term);
        if (term !== undefined && !Number.isSafeInteger(seenTerm)) {
          return sendError(
            reply,
            400,
            'LEASEHOLD_E_BAD_REQUEST',
            `invalid term: ${JSON.stringify(term)}; the term from your last answer`,
          );
        }
        await waitForChange(elector, seenTerm, waitMs, request.raw);
      }
      const body = leaderBody(elector);
      reply.header('Leasehold-Leader', body.leader ?? '');
      reply.header('Leasehold-Term', body.term === null ? '' : String(body.term));
      reply.header('Cache-Control', 'no-store');
      return body;
    },
  );

  app.get(
    '/v1/is-leader',
    {
      schema: {
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
      },
    },
    async (_request, reply) => {
      reply.header('Cache-Control', 'no-store');
      if (elector.isLeader()) return { isLeader: true, term: elector.currentTerm() };
      return reply.code(503).send({ isLeader: false, leader: elector.status().leader?.id ?? null });
    },
  );

  app.get(
    '/v1/members',
    {
      schema: {
        description: 'Live candidates with priority and last heartbeat',
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
                  },
                },
              },
            },
          },
          503: errorSchema,
        },
      },
    },
    async (_request, reply) => {
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
        return sendError(
          reply,
          503,
          code,
          `the store could not list members: ${(error as Error).message}`,
        );
      }
    },
  );

  app.post(
    '/v1/resign',
    {
      schema: {
        description: 'Give up leadership now. Needs Authorization: Bearer <admin token>.',
        response: {
          200: { type: 'object', properties: { resigned: { type: 'boolean' } } },
          401: errorSchema,
          403: errorSchema,
        },
      },
    },
    async (request, reply) => {
      if (options.adminToken === undefined) {
        return sendError(
          reply,
          403,
          'LEASEHOLD_E_RESIGN_DISABLED',
          'resign is disabled: start the sidecar with --admin-token to enable it',
        );
      }
      const header = request.headers.authorization ?? '';
      const presented = header.startsWith('Bearer ') ? header.slice(7) : '';
      if (!sameSecret(presented, options.adminToken)) {
        return sendError(reply, 401, 'LEASEHOLD_E_UNAUTHORIZED', 'missing or wrong bearer token');
      }
      const resigned = await (options.resign ?? (() => elector.resign()))();
      request.log.info({ id: elector.id, resigned }, 'resign requested over HTTP');
      return { resigned };
    },
  );

  app.get(
    '/v1/events',
    {
      sse: true,
      schema: {
        description: 'Server-Sent Events: a `leader` event on every change, heartbeats meanwhile',
      },
    },
    async (_request, reply) => {
      reply.sse.keepAlive();
      const send = (): void => {
        void reply.sse.send({ event: 'leader', data: leaderBody(elector) }).catch(() => {});
      };
      const events = ['leader', 'elected', 'deposed', 'store-health'] as const;
      for (const event of events) elector.on(event, send);
      reply.sse.onClose(() => {
        for (const event of events) elector.off(event, send);
      });
      send();
    },
  );

  app.get(
    '/healthz',
    {
      schema: {
        description: 'The process and its election loop are alive',
        response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } },
      },
    },
    async () => ({ ok: true }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        description: 'Connected to the store and has observed the election at least once',
        response: {
          200: { type: 'object', properties: { ready: { type: 'boolean' } } },
          503: {
            type: 'object',
            properties: { ready: { type: 'boolean' }, reason: { type: 'string' } },
          },
        },
      },
    },
    async (_request, reply) => {
      const status = elector.status();
      if (!status.store.healthy) {
        return reply.code(503).send({
          ready: false,
          reason: `store unavailable: ${status.store.error?.message ?? 'unknown'}`,
        });
      }
      if (!status.observed)
        return reply
          .code(503)
          .send({ ready: false, reason: 'the election has not been observed yet' });
      return { ready: true };
    },
  );

  app.get(
    '/metrics',
    { schema: { description: 'Prometheus metrics', hide: false } },
    async (_request, reply) => {
      reply.header('Content-Type', metrics.contentType);
      return metrics.render();
    },
  );

  app.get('/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  return app;
}

/**
 * `GET /v1/leader` (without a long-poll) and `GET /v1/is-leader`, the same answers as the
 * Fastify routes, without the framework's per-request work. Returns false for anything else.
 */
function answerHotRoute(
  elector: Elector,
  request: IncomingMessage,
  response: ServerResponse,
): boolean {
  if (request.method !== 'GET') return false;
  if (request.url === '/v1/leader') {
    const body = leaderBody(elector);
    const json = JSON.stringify(body);
    response.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(json),
      'cache-control': 'no-store',
      'leasehold-leader': body.leader ?? '',
      'leasehold-term': body.term === null ? '' : String(body.term),
    });
    response.end(json);
    return true;
  }
  if (request.url === '/v1/is-leader') {
    const isLeader = elector.isLeader();
    const json = JSON.stringify(
      isLeader
        ? { isLeader: true, term: elector.currentTerm() }
        : { isLeader: false, leader: elector.status().leader?.id ?? null },
    );
    response.writeHead(isLeader ? 200 : 503, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(json),
      'cache-control': 'no-store',
    });
    response.end(json);
    return true;
  }
  return false;
}

/** Resolve when leader or term differs from what the caller saw, after waitMs, or on disconnect. */
function waitForChange(
  elector: Elector,
  seenTerm: number | undefined,
  waitMs: number,
  socketSide: NodeJS.EventEmitter,
): Promise<void> {
  const changed = (): boolean => {
    const current = elector.status().leader;
    return seenTerm === undefined ? false : (current?.term ?? null) !== seenTerm;
  };
  if (changed()) return Promise.resolve();
  return new Promise((resolve) => {
    const events = ['leader', 'elected', 'deposed'] as const;
    const done = (): void => {
      clearTimeout(timer);
      for (const event of events) elector.off(event, onEvent);
      socketSide.off('close', done);
      resolve();
    };
    const onEvent = (): void => {
      if (seenTerm === undefined || changed()) done();
    };
    const timer = setTimeout(done, waitMs);
    for (const event of events) elector.on(event, onEvent);
    socketSide.once('close', done);
  });
}

function sameSecret(presented: string, expected: string): boolean {
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
