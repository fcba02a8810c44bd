import type { Elector, LeaderInfo } from '@leasehold/core';
import type { FromSchema } from './json-schema-type.js';

/**
 * The answers of the leadership routes, as pure functions of the elector at the moment of
 * the request. The route table (route-table.ts) hands them to both the node:http fast path
 * (fast-path.ts) and the Fastify routes (fastify-app.ts), so the two can never drift apart. Every answer reads the elector once
 * (`status()`), so it never mixes two instants (docs/design.md §3.1).
 */

/** A complete answer: status, the headers of our own, and the JSON body. */
export interface Answer<Body, Status extends number = number> {
  readonly statusCode: Status;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Body;
}

export const NO_STORE = { 'cache-control': 'no-store' } as const;

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
        {
          type: 'object',
          properties: { code: { type: 'string' }, message: { type: 'string' } },
          required: ['code', 'message'],
        },
      ],
    },
  },
  required: ['healthy', 'lastOkAt', 'error'],
} as const;

/**
 * GET /v1/leader's body (and each event of GET /v1/events): its one definition. The
 * OpenAPI document and Fastify's serializer read it, `LeaderBody` is derived from it, and a
 * test holds docs/http-api.md's example to it.
 */
export const leaderBodySchema = {
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
    leadsFrom: {
      type: ['string', 'null'],
      description:
        'While this instance holds the lock but waits out a lease the store may have forgotten (the first election on a never-used namespace): ISO time from which it leads. Otherwise null.',
    },
    backend: { type: 'string' },
    store: storeSchema,
    steering: {
      type: 'object',
      description:
        'This instance\u2019s steering (docs/operations.md): drained, its app\u2019s health (unknown without a check), its app version, and the candidate a transfer of its own is handing leadership to',
      properties: {
        drained: { type: 'boolean' },
        health: { type: 'string', enum: ['unknown', 'healthy', 'unhealthy'] },
        version: { type: ['string', 'null'] },
        transferringTo: { type: ['string', 'null'] },
      },
      required: ['drained', 'health', 'version', 'transferringTo'],
    },
    termRegressions: {
      type: 'object',
      description:
        'How often this instance saw the election\u2019s term go backwards (the store was reset), and the last time',
      properties: {
        count: { type: 'integer' },
        last: {
          anyOf: [
            { type: 'null' },
            {
              type: 'object',
              properties: {
                at: { type: 'string' },
                previous: { type: 'integer' },
                observed: { type: 'integer' },
              },
              required: ['at', 'previous', 'observed'],
            },
          ],
        },
      },
      required: ['count', 'last'],
    },
  },
  required: [
    'election',
    'leader',
    'term',
    'isLeader',
    'self',
    'since',
    'leaseRemainingMs',
    'leadsFrom',
    'backend',
    'store',
    'steering',
    'termRegressions',
  ],
} as const;

export type LeaderBody = FromSchema<typeof leaderBodySchema>;

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
    leadsFrom: status.leadsFrom === null ? null : new Date(status.leadsFrom).toISOString(),
    backend: status.backend,
    store: {
      healthy: status.store.healthy,
      lastOkAt: lastOkText(status.store.lastOkAt),
      error: status.store.error,
    },
    steering: status.steering,
    termRegressions: {
      count: status.termRegressions,
      last:
        status.lastTermRegression === null
          ? null
          : {
              at: new Date(status.lastTermRegression.at).toISOString(),
              previous: status.lastTermRegression.previous,
              observed: status.lastTermRegression.observed,
            },
    },
  };
}

/** GET /v1/leader: the body, with the leader and term also in headers. */
export function leaderAnswer(elector: Elector): Answer<LeaderBody, 200> {
  const body = leaderBody(elector);
  return {
    statusCode: 200,
    headers: {
      'cache-control': NO_STORE['cache-control'],
      'leasehold-leader': body.leader ?? '',
      'leasehold-term': body.term === null ? '' : String(body.term),
    },
    body,
  };
}

/**
 * GET /v1/is-leader: 200 with the term while leading, 503 with the known leader otherwise.
 * Leadership and term come from one status snapshot, so the answer never says "leader" with
 * the term of no one (read an instant after the deadline).
 */
export function isLeaderAnswer(
  elector: Elector,
): Answer<
  { isLeader: true; term: number } | { isLeader: false; leader: string | null },
  200 | 503
> {
  const status = elector.status();
  return status.isLeader && status.term !== null
    ? { statusCode: 200, headers: NO_STORE, body: { isLeader: true, term: status.term } }
    : {
        statusCode: 503,
        headers: NO_STORE,
        body: { isLeader: false, leader: status.leader?.id ?? null },
      };
}

/** GET / for clients: the Kubernetes leader-elector sidecar's `{"name": …}`. */
export function nameAnswer(elector: Elector): { name: string } {
  return { name: elector.status().leader?.id ?? '' };
}

/**
 * GET /readyz: connected to the store and every election observed at least once; the
 * reason names the election only in a sidecar of several.
 */
export function readinessAnswer(
  electors: Elector | readonly Elector[],
): Answer<{ ready: true } | { ready: false; reason: string }, 200 | 503> {
  const all: readonly Elector[] = Array.isArray(electors) ? electors : [electors as Elector];
  for (const elector of all) {
    const status = elector.status();
    const named = all.length > 1 ? ` "${status.election}"` : '';
    if (!status.store.healthy) {
      const reason = `store unavailable${named === '' ? '' : ` to election${named}`}: ${status.store.error?.message ?? 'unknown'}`;
      return { statusCode: 503, headers: {}, body: { ready: false, reason } };
    }
    if (!status.observed) {
      const reason = `the election${named} has not been observed yet`;
      return { statusCode: 503, headers: {}, body: { ready: false, reason } };
    }
  }
  return { statusCode: 200, headers: {}, body: { ready: true } };
}
