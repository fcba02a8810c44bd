import { Elector, type ElectorStatus } from '@leasehold/core';
import { MemoryBackend } from '@leasehold/core/testing';
import { until } from '@leasehold/testkit';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  isLeaderAnswer,
  isLeaderWire,
  leaderAnswer,
  leaderBody,
  leaderBodyOf,
  leaderWire,
} from '../src/http/answers.js';
import { listen } from '../src/http/listener.js';
import { createSidecarState } from '../src/http/sidecar-state.js';

/**
 * GET /v1/leader and /v1/is-leader are serialised once per change of what they say, not
 * once per request (answers.ts, LeaderWire): every change must show in the very next
 * answer, and the bytes must be those the uncached answer would have been.
 */

const closing: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closing.splice(0).reverse()) await close();
});

const base: ElectorStatus = {
  election: 'wire',
  id: 'a',
  backend: 'memory',
  state: 'leading',
  isLeader: true,
  term: 7,
  leader: { id: 'a', term: 7, self: true },
  leaderSince: Date.UTC(2026, 0, 1),
  leaseRemainingMs: 4_321.7,
  leadsFrom: null,
  observed: true,
  store: { healthy: true, lastOkAt: Date.UTC(2026, 0, 2), error: null },
  steering: { drained: false, health: 'unknown', version: '1.0.0', transferringTo: null },
  highestTerm: 7,
  termRegressions: 0,
  lastTermRegression: null,
};

/**
 * Another value for every field of the status, each alone: a field added to ElectorStatus
 * fails to compile here until it has one.
 */
const changes: { readonly [K in keyof ElectorStatus]: readonly ElectorStatus[K][] } = {
  election: ['other'],
  id: ['b'],
  backend: ['redis'],
  state: ['following', 'pending'],
  isLeader: [false],
  term: [8, null],
  leader: [{ id: 'b', term: 7, self: false }, { id: 'a', term: 8, self: true }, null],
  leaderSince: [Date.UTC(2026, 0, 3), null],
  leaseRemainingMs: [0, 4_322, 99_999, 9],
  leadsFrom: [Date.UTC(2026, 0, 4), Date.UTC(2026, 0, 4) + 1],
  observed: [false],
  store: [
    { healthy: true, lastOkAt: Date.UTC(2026, 0, 2) + 1, error: null },
    {
      healthy: false,
      lastOkAt: Date.UTC(2026, 0, 2),
      error: { code: 'LEASEHOLD_E_STORE_UNAVAILABLE', message: 'gone "quoted"' },
    },
  ],
  steering: [
    { drained: true, health: 'unknown', version: '1.0.0', transferringTo: null },
    { drained: false, health: 'unhealthy', version: '1.0.0', transferringTo: null },
    { drained: false, health: 'unknown', version: '1.0.1', transferringTo: null },
    { drained: false, health: 'unknown', version: null, transferringTo: null },
    { drained: false, health: 'unknown', version: '1.0.0', transferringTo: 'b' },
  ],
  highestTerm: [9],
  termRegressions: [1],
  lastTermRegression: [{ at: Date.UTC(2026, 0, 5), previous: 7, observed: 2 }],
};

/** An elector whose status is whatever the test says. */
function fakeElector(status: () => ElectorStatus): Elector {
  return { election: 'wire', status } as unknown as Elector;
}

/** What the fast path wrote before the cache: the answer serialised per request. */
function uncached(elector: Elector, route: 'leader' | 'is-leader') {
  const answer = route === 'leader' ? leaderAnswer(elector) : isLeaderAnswer(elector);
  const text = JSON.stringify(answer.body);
  return {
    statusCode: answer.statusCode,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      ...answer.headers,
    },
    text,
  };
}

function wired(elector: Elector, route: 'leader' | 'is-leader') {
  const wire = route === 'leader' ? leaderWire(elector) : isLeaderWire(elector);
  return {
    statusCode: wire.statusCode,
    headers: wire.headers,
    text: wire.payload,
  };
}

describe('the serialised leader answers', () => {
  it('are the uncached answers, byte for byte, after a change of any status field', () => {
    let current: ElectorStatus = base;
    const elector = fakeElector(() => current);
    for (const field of Object.keys(changes) as (keyof ElectorStatus)[]) {
      for (const value of changes[field]) {
        for (const status of [base, { ...base, [field]: value }, base]) {
          current = status;
          for (const route of ['leader', 'is-leader'] as const) {
            // Twice: the second answer is the cached one.
            expect(wired(elector, route), `${field} = ${JSON.stringify(value)}`).toEqual(
              uncached(elector, route),
            );
            expect(wired(elector, route)).toEqual(uncached(elector, route));
          }
        }
      }
    }
    // The halves around leaseRemainingMs make the same text as the whole body.
    expect(wired(elector, 'leader').text).toBe(JSON.stringify(leaderBodyOf(base)));
  });

  it('are the same object while nothing changes within a millisecond', () => {
    const elector = fakeElector(() => base);
    expect(leaderWire(elector)).toBe(leaderWire(elector));
    expect(isLeaderWire(elector)).toBe(isLeaderWire(elector));
  });

  it(
    'show every change through the listener at once: resign, leader, term, drain, health, store',
    { timeout: 60_000 },
    async () => {
      const backend = new MemoryBackend();
      const store = backend.connect();
      const timing = { ttlMs: 3_000 };
      const a = new Elector({
        store,
        election: 'wire',
        id: 'a',
        ...timing,
        steering: { version: '2.0.0', health: { failureThreshold: 1, minTenureMs: 0 } },
      });
      const b = new Elector({ store: backend.connect(), election: 'wire', id: 'b', ...timing });
      a.start();
      closing.push(() => a.stop());
      // A gated candidate campaigns once its app is healthy.
      a.setAppHealth(true);
      await until('a leads', 10_000, () => a.status().isLeader);
      b.start();
      closing.push(() => b.stop());
      const state = createSidecarState({
        elector: a,
        logger: pino({ level: 'silent' }),
        adminToken: undefined,
      });
      const listener = await listen(state, { host: '127.0.0.1', port: 0 });
      closing.push(() => listener.close());

      const ask = async (path: string) => {
        const response = await fetch(`${listener.url}${path}`);
        return {
          status: response.status,
          leader: response.headers.get('leasehold-leader'),
          term: response.headers.get('leasehold-term'),
          body: (await response.json()) as Record<string, unknown>,
        };
      };
      /** The body but leaseRemainingMs, which moves with every millisecond. */
      const settled = (body: Record<string, unknown>) => {
        const rest = { ...body };
        delete rest['leaseRemainingMs'];
        return rest;
      };
      /**
       * The answers to GET /v1/leader (and its per-election row) and /v1/is-leader are what
       * the elector's status says, read just before the request or just after (a store call
       * may complete in between: lastOkAt). A request before every change keeps the cache
       * warm, so a change the cache missed would show here.
       */
      const check = async (what: string) => {
        for (const path of ['/v1/leader', '/v1/elections/wire/leader', '/v1/is-leader']) {
          const before = leaderBody(a);
          const got = await ask(path);
          const after = leaderBody(a);
          const expected = [before, after].map((body) =>
            path === '/v1/is-leader'
              ? {
                  status: body.isLeader ? 200 : 503,
                  body: body.isLeader
                    ? { isLeader: true, term: body.term }
                    : { isLeader: false, leader: body.leader },
                }
              : {
                  status: 200,
                  leader: body.leader ?? '',
                  term: body.term === null ? '' : String(body.term),
                  body: settled(body),
                },
          );
          const answer =
            path === '/v1/is-leader'
              ? { status: got.status, body: got.body }
              : { status: got.status, leader: got.leader, term: got.term, body: settled(got.body) };
          expect(expected, `${what}: ${path}`).toContainEqual(answer);
        }
        return leaderBody(a);
      };

      const first = await check('a leads');
      expect(first).toMatchObject({ isLeader: true, leader: 'a' });
      expect(first.steering.version).toBe('2.0.0');

      // Resign: b takes over (leader and term change, a no longer leads).
      await a.resign();
      await until('b leads', 10_000, () => b.status().isLeader && a.status().leader?.id === 'b');
      const second = await check('after a resigned');
      expect(second).toMatchObject({ isLeader: false, leader: 'b' });
      expect(second.term).toBeGreaterThan(first.term ?? 0);

      // b resigns: a leads again, a new term with the same leader as before.
      await check('warm');
      await b.resign();
      await until('a leads again', 10_000, () => a.status().isLeader);
      const third = await check('after b resigned');
      expect(third).toMatchObject({ isLeader: true, leader: 'a' });
      expect(third.term).toBeGreaterThan(second.term ?? 0);

      // App health: unhealthy (the gate may start a handover: the answer shows it), healthy.
      expect((await check('healthy')).steering.health).toBe('healthy');
      a.setAppHealth(false);
      expect((await check('unhealthy')).steering.health).toBe('unhealthy');
      a.setAppHealth(true);
      expect((await check('healthy again')).steering.health).toBe('healthy');

      // Drain and undrain.
      await a.drain();
      expect((await check('drained')).steering.drained).toBe(true);
      a.undrain();
      expect((await check('undrained')).steering.drained).toBe(false);

      // The store fails: health and its error show in the next answer.
      await check('warm');
      store.faults.fail();
      await until('a sees the store fail', 10_000, () => !a.status().store.healthy);
      const failing = await check('store failing');
      expect(failing.store.healthy).toBe(false);
      store.faults.clear();
      await until('a sees the store again', 10_000, () => a.status().store.healthy);
      expect((await check('store back')).store.healthy).toBe(true);
    },
  );
});
