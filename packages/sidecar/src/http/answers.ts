import type { Elector, ElectorStatus, LeaderInfo } from '@leasehold/core';
import type { OutgoingHttpHeaders } from 'node:http';
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
  return leaderBodyOf(elector.status());
}

/** GET /v1/leader's body from one status snapshot. */
export function leaderBodyOf(status: ElectorStatus): LeaderBody {
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

/**
 * An answer already serialised, every header included (content-type and content-length
 * too): the node:http fast path writes it as it is (fast-path.ts). Never mutated once
 * returned, so the same object may be handed out for many requests.
 */
export interface WireAnswer {
  readonly statusCode: number;
  readonly headers: OutgoingHttpHeaders;
  /**
   * The body's text. A string, not a Buffer: node:http writes a string body and the head in
   * one piece (one write of one string), a Buffer after the head (a writev of two chunks).
   */
  readonly payload: string;
}

const JSON_TYPE = 'application/json; charset=utf-8';

function jsonWire(
  statusCode: number,
  extra: Readonly<Record<string, string>>,
  payload: string,
): WireAnswer {
  return {
    statusCode,
    headers: {
      'content-type': JSON_TYPE,
      'content-length': Buffer.byteLength(payload),
      ...extra,
    },
    payload,
  };
}

/**
 * GET /v1/leader and GET /v1/is-leader on the fast path, serialised once per change instead
 * of once per request (issue 28). Never stale, by construction rather than by events: every
 * request still reads one status snapshot (`status()`, as `leaderAnswer` does) and compares
 * it with the snapshot the cached text was made from, field by field, every field the
 * answer shows included (leader, term, isLeader, since, leadsFrom, store health and its
 * lastOkAt, steering, term regressions...). Any difference rebuilds the text. Events would
 * not do: leadership ends at the deadline even before the timer that records it has run, and
 * the store's lastOkAt moves on every call, with no event for either. The one field that
 * moves with time, leaseRemainingMs, is left out of the cached text and written into it per
 * millisecond: the text is two halves around it, and the last millisecond's answer is kept.
 */
class LeaderWire {
  // The snapshot the cached halves were made from: every status field leaderBodyOf reads
  // but leaseRemainingMs. `built` false: nothing cached yet.
  private built = false;
  private election = '';
  private id = '';
  private backend = '';
  private leading = false;
  private leaderId: string | null = null;
  private leaderTerm: number | null = null;
  private leaderSince: number | null = null;
  private leadsFrom: number | null = null;
  private store: ElectorStatus['store'] | null = null;
  private drained = false;
  private health = '';
  private version: string | null = null;
  private transferringTo: string | null = null;
  private termRegressions = 0;
  private lastTermRegression: ElectorStatus['lastTermRegression'] = null;
  /** The body's text before leaseRemainingMs's value, and after it. */
  private head = '';
  private tail = '';
  private extra: Readonly<Record<string, string>> = {};
  /** The last answer, and the leaseRemainingMs it says. */
  private last: WireAnswer | null = null;
  private lastRemaining = -1;

  private isLeaderKey: string | number | null | undefined = undefined;
  private isLeaderLast: WireAnswer | null = null;

  leader(status: ElectorStatus): WireAnswer {
    if (!this.matches(status)) this.rebuild(status);
    const remaining = Math.floor(status.leaseRemainingMs);
    if (remaining !== this.lastRemaining || this.last === null) {
      this.last = jsonWire(200, this.extra, `${this.head}${remaining}${this.tail}`);
      this.lastRemaining = remaining;
    }
    return this.last;
  }

  /** GET /v1/is-leader: 200 with the term, or 503 with the leader (isLeaderAnswer). */
  isLeaderAnswer(status: ElectorStatus): WireAnswer {
    // The term (a number) while leading, else the leader's id (a string) or null.
    const key = status.isLeader && status.term !== null ? status.term : (status.leader?.id ?? null);
    if (key !== this.isLeaderKey || this.isLeaderLast === null) {
      const answer =
        typeof key === 'number'
          ? { statusCode: 200, body: { isLeader: true, term: key } }
          : { statusCode: 503, body: { isLeader: false, leader: key } };
      this.isLeaderLast = jsonWire(answer.statusCode, NO_STORE, JSON.stringify(answer.body));
      this.isLeaderKey = key;
    }
    return this.isLeaderLast;
  }

  private matches(status: ElectorStatus): boolean {
    const { leader, steering } = status;
    return (
      this.built &&
      status.election === this.election &&
      status.id === this.id &&
      status.backend === this.backend &&
      status.isLeader === this.leading &&
      (leader?.id ?? null) === this.leaderId &&
      (leader?.term ?? null) === this.leaderTerm &&
      status.leaderSince === this.leaderSince &&
      status.leadsFrom === this.leadsFrom &&
      // Replaced, never changed in place (core's StoreCalls, TermHistory).
      status.store === this.store &&
      steering.drained === this.drained &&
      steering.health === this.health &&
      steering.version === this.version &&
      steering.transferringTo === this.transferringTo &&
      status.termRegressions === this.termRegressions &&
      status.lastTermRegression === this.lastTermRegression
    );
  }

  private rebuild(status: ElectorStatus): void {
    const { leader, steering } = status;
    this.election = status.election;
    this.id = status.id;
    this.backend = status.backend;
    this.leading = status.isLeader;
    this.leaderId = leader?.id ?? null;
    this.leaderTerm = leader?.term ?? null;
    this.leaderSince = status.leaderSince;
    this.leadsFrom = status.leadsFrom;
    this.store = status.store;
    this.drained = steering.drained;
    this.health = steering.health;
    this.version = steering.version;
    this.transferringTo = steering.transferringTo;
    this.termRegressions = status.termRegressions;
    this.lastTermRegression = status.lastTermRegression;
    // The body's fields in their order, split around leaseRemainingMs: head + ms + tail is
    // JSON.stringify(leaderBodyOf(status)) (a test holds them equal).
    const body = leaderBodyOf(status);
    const { election, leader: id, term, isLeader, self, since } = body;
    const { leadsFrom, backend, store, steering: steer, termRegressions } = body;
    this.head = `${JSON.stringify({ election, leader: id, term, isLeader, self, since }).slice(0, -1)},"leaseRemainingMs":`;
    this.tail = `,${JSON.stringify({ leadsFrom, backend, store, steering: steer, termRegressions }).slice(1)}`;
    this.extra = {
      'cache-control': NO_STORE['cache-control'],
      'leasehold-leader': body.leader ?? '',
      'leasehold-term': body.term === null ? '' : String(body.term),
    };
    this.last = null;
    this.built = true;
  }
}

const wires = new WeakMap<Elector, LeaderWire>();
function wireOf(elector: Elector): LeaderWire {
  let wire = wires.get(elector);
  if (wire === undefined) {
    wire = new LeaderWire();
    wires.set(elector, wire);
  }
  return wire;
}

/** GET /v1/leader as leaderAnswer answers it, serialised (LeaderWire). */
export function leaderWire(elector: Elector): WireAnswer {
  return wireOf(elector).leader(elector.status());
}

/** GET /v1/is-leader as isLeaderAnswer answers it, serialised. */
export function isLeaderWire(elector: Elector): WireAnswer {
  return wireOf(elector).isLeaderAnswer(elector.status());
}
