import { createStore } from '@leasehold/adapters';
import { Elector, type LeaseStore } from '@leasehold/core';
import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import pino from 'pino';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '@leasehold/testkit';
import { startTestListener, type TestListener } from './helpers/http-listener.js';

// Routes are asked over a socket of the listener the command uses, against an elector on
// the real Redis.
const REDIS = 'redis://127.0.0.1:6379';
const TOKEN = 'test-admin-token-0123456789';

interface Harness {
  app: TestListener;
  elector: Elector;
  store: LeaseStore;
  logs: string[];
}
const running: Harness[] = [];

afterEach(async () => {
  for (const h of running.splice(0)) {
    await h.elector.stop();
    await h.app.close();
    await h.store.close();
  }
});

async function sidecar(
  options: {
    election?: string;
    id?: string;
    adminToken?: string;
    start?: boolean;
    store?: string;
    namespace?: string;
  } = {},
) {
  const store = await createStore(options.store ?? REDIS, {
    namespace: options.namespace ?? 'sidecartest',
  });
  const elector = new Elector({
    store,
    election: options.election ?? `e-${randomUUID().slice(0, 8)}`,
    id: options.id ?? 'alpha',
    ttlMs: 2_000,
    retryIntervalMs: 200,
  });
  const logs: string[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        logs.push(chunk.toString());
        done();
      },
    }),
  );
  const app = await startTestListener({ elector, logger, adminToken: options.adminToken });
  const harness = { app, elector, store, logs };
  running.push(harness);
  if (options.start ?? true) elector.start();
  return harness;
}

describe('sidecar routes', () => {
  it('answers /v1/leader with the fields, headers and no-store caching', async () => {
    const { app, elector } = await sidecar();
    await until('elector.isLeader()', 5_000, () => elector.isLeader());
    const response = await app.request('/v1/leader');
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({
      leader: 'alpha',
      isLeader: true,
      self: 'alpha',
      backend: 'redis',
      store: { healthy: true, error: null },
    });
    expect(Object.keys(body).sort()).toEqual(
      [
        'backend',
        'election',
        'isLeader',
        'leader',
        'leaseRemainingMs',
        'leadsFrom',
        'self',
        'since',
        'steering',
        'store',
        'term',
        'termRegressions',
      ].sort(),
    );
    expect(body.leaseRemainingMs).toBeGreaterThan(0);
    expect(body.leaseRemainingMs).toBeLessThanOrEqual(2_000);
    expect(response.headers['leasehold-leader']).toBe('alpha');
    expect(response.headers['leasehold-term']).toBe(String(body.term));
    expect(response.headers['cache-control']).toBe('no-store');
  });

  it('answers GET / like the Kubernetes leader-elector', async () => {
    const { app, elector } = await sidecar({ id: 'pod-1' });
    await until('elector.isLeader()', 5_000, () => elector.isLeader());
    for (const accept of [undefined, '*/*', 'application/json']) {
      const response = await app.request({
        url: '/',
        headers: accept === undefined ? {} : { accept },
      });
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(response.json()).toEqual({ name: 'pod-1' });
    }
  });

  it('serves browsers the status page, locked down by a hash-based CSP', async () => {
    const { app } = await sidecar({ start: false });
    const response = await app.request({
      url: '/',
      headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' },
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.body).toMatch(/^<!doctype html>/);
    expect(response.body).toContain('new EventSource(');
    // Every inline script and style is allowed by its hash, and nothing else is.
    const policy = String(response.headers['content-security-policy']);
    expect(policy).toContain("default-src 'none'");
    const inline = [...response.body.matchAll(/<(script|style)>([\s\S]*?)<\/\1>/g)];
    expect(inline.map((match) => match[1]).sort()).toEqual(['script', 'style']);
    for (const [, tag, content] of inline) {
      const hash = createHash('sha256')
        .update(content ?? '')
        .digest('base64');
      expect(policy).toMatch(new RegExp(`${tag}-src 'sha256-${hash.replace(/[+/]/g, '\\$&')}'`));
    }
    expect(policy).not.toContain('unsafe-inline');
  });

  it('keeps the recent leadership changes this instance saw, newest first', async () => {
    const election = `e-${randomUUID().slice(0, 8)}`;
    const first = await sidecar({ election, id: 'one', adminToken: TOKEN });
    await until('first.elector.isLeader()', 5_000, () => first.elector.isLeader());
    const second = await sidecar({ election, id: 'two' });
    await until(
      `second.elector.status().leader?.id === 'one'`,
      5_000,
      () => second.elector.status().leader?.id === 'one',
    );
    await first.app.request({
      method: 'POST',
      url: '/v1/resign',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    await until('second.elector.isLeader()', 5_000, () => second.elector.isLeader());
    const { changes } = (await second.app.request('/v1/history')).json<{
      changes: { at: string; kind: string; leader: string | null; term: number | null }[];
    }>();
    const leaders = changes.filter((change) => change.kind === 'leader' && change.leader !== null);
    expect(leaders.map((change) => change.leader).slice(0, 2)).toEqual(['two', 'one']);
    expect(leaders[0]?.term).toBeGreaterThan(leaders[1]?.term ?? Infinity);
    const times = changes.map((change) => Date.parse(change.at));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    const own = (await first.app.request('/v1/history')).json<{
      changes: { kind: string; reason?: string }[];
    }>();
    expect(own.changes).toContainEqual(
      expect.objectContaining({ kind: 'deposed', reason: 'resigned' }),
    );
  });

  it('shows on /v1/leader when a held-off first election will lead (never-used namespace)', async () => {
    const { app, elector } = await sidecar({ namespace: `fresh-${randomUUID().slice(0, 8)}` });
    await until(
      `elector.status().state === 'pending'`,
      5_000,
      () => elector.status().state === 'pending',
    );
    const waiting = (await app.request('/v1/leader')).json<{
      leader: string | null;
      leadsFrom: string | null;
    }>();
    expect(waiting.leader).toBeNull();
    const leadsFrom = Date.parse(String(waiting.leadsFrom));
    // One TTL (2 s here) from when the server first served the namespace, with margins.
    expect(leadsFrom).toBeGreaterThan(Date.now());
    expect(leadsFrom).toBeLessThanOrEqual(Date.now() + 2_100);
    await until('elector.isLeader()', 5_000, () => elector.isLeader());
    expect(Date.now()).toBeGreaterThanOrEqual(leadsFrom - 50);
    const leading = (await app.request('/v1/leader')).json<{ leadsFrom: string | null }>();
    expect(leading.leadsFrom).toBeNull();
  });

  it('answers /v1/is-leader 200 for the leader and 503 for a follower', async () => {
    const election = `e-${randomUUID().slice(0, 8)}`;
    const leader = await sidecar({ election, id: 'one' });
    await until('leader.elector.isLeader()', 5_000, () => leader.elector.isLeader());
    const follower = await sidecar({ election, id: 'two' });
    await until(
      `follower.elector.status().leader?.id === 'one'`,
      5_000,
      () => follower.elector.status().leader?.id === 'one',
    );
    expect((await leader.app.request('/v1/is-leader')).statusCode).toBe(200);
    const refused = await follower.app.request('/v1/is-leader');
    expect(refused.statusCode).toBe(503);
    expect(refused.json()).toEqual({ isLeader: false, leader: 'one' });
  });

  it('long-polls /v1/leader until the term changes, and returns at once when it already has', async () => {
    const election = `e-${randomUUID().slice(0, 8)}`;
    const first = await sidecar({ election, id: 'one' });
    await until('first.elector.isLeader()', 5_000, () => first.elector.isLeader());
    const second = await sidecar({ election, id: 'two' });
    await until(
      `second.elector.status().leader?.id === 'one'`,
      5_000,
      () => second.elector.status().leader?.id === 'one',
    );
    const seen = (await second.app.request('/v1/leader')).json<{ term: number }>().term;
    expect((await second.app.request(`/v1/leader?wait=30s&term=${seen - 1}`)).json()).toMatchObject(
      {
        term: seen,
      },
    );
    const started = performance.now();
    const polling = second.app.request(`/v1/leader?wait=30s&term=${seen}`);
    await first.elector.stop();
    const answer = (await polling).json<{ leader: string; term: number }>();
    expect(answer.term).toBeGreaterThan(seen);
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('ends a long-poll after wait when nothing changes', async () => {
    const { app, elector } = await sidecar();
    await until('elector.isLeader()', 5_000, () => elector.isLeader());
    const term = elector.currentTerm();
    const started = performance.now();
    const response = await app.request(`/v1/leader?wait=300ms&term=${term}`);
    expect(response.json()).toMatchObject({ term });
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });

  it.each([
    ['/v1/leader?wait=soon', 'invalid wait'],
    ['/v1/leader?wait=10m', 'invalid wait'],
    ['/v1/leader?wait=1s&term=abc', 'invalid term'],
  ])('refuses %s with LEASEHOLD_E_BAD_REQUEST', async (url, message) => {
    const { app } = await sidecar({ start: false });
    const response = await app.request(url);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ statusCode: 400, code: 'LEASEHOLD_E_BAD_REQUEST' });
    expect(response.json<{ message: string }>().message).toContain(message);
  });

  it('lists members with priority and heartbeat', async () => {
    const election = `e-${randomUUID().slice(0, 8)}`;
    const one = await sidecar({ election, id: 'one' });
    await sidecar({ election, id: 'two' });
    await until(
      'both members listed',
      5_000,
      async () =>
        (await one.app.request('/v1/members')).json<{ members: unknown[] }>().members.length === 2,
    );
    const { members } = (await one.app.request('/v1/members')).json<{
      members: { id: string; priority: number; lastHeartbeatAt: string }[];
    }>();
    expect(members.map((m) => m.id).sort()).toEqual(['one', 'two']);
    expect(
      members.every((m) => m.priority === 0 && !Number.isNaN(Date.parse(m.lastHeartbeatAt))),
    ).toBe(true);
  });

  it('guards POST /v1/resign with the admin token', async () => {
    const disabled = await sidecar();
    const refused = await disabled.app.request({ method: 'POST', url: '/v1/resign' });
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ code: 'LEASEHOLD_E_RESIGN_DISABLED' });

    const guarded = await sidecar({ adminToken: TOKEN });
    await until('guarded.elector.isLeader()', 5_000, () => guarded.elector.isLeader());
    for (const authorization of [undefined, 'Bearer wrong-token-0123456789', TOKEN]) {
      const response = await guarded.app.request({
        method: 'POST',
        url: '/v1/resign',
        ...(authorization === undefined ? {} : { headers: { authorization } }),
      });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toMatchObject({ code: 'LEASEHOLD_E_UNAUTHORIZED' });
    }
    const accepted = await guarded.app.request({
      method: 'POST',
      url: '/v1/resign',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(accepted.json()).toEqual({ resigned: true, lease: 'released' });
    expect(guarded.elector.isLeader()).toBe(false);
    expect(guarded.logs.join('')).not.toContain(TOKEN);
  });

  it('reports health and readiness', async () => {
    const { app, elector } = await sidecar({ start: false });
    expect((await app.request('/healthz')).statusCode).toBe(200);
    const notYet = await app.request('/readyz');
    expect(notYet.statusCode).toBe(503);
    expect(notYet.json()).toMatchObject({
      ready: false,
      reason: 'the election has not been observed yet',
    });
    elector.start();
    await until(
      `(await app.request('/readyz')).statusCode === 200`,
      5_000,
      async () => (await app.request('/readyz')).statusCode === 200,
    );
  });

  it('serves the TTL and a zero election count before the first election', async () => {
    const { app } = await sidecar({ start: false });
    const text = (await app.request('/metrics')).body;
    expect(text).toMatch(/^leasehold_ttl_seconds\{[^}]*\} 2$/m);
    expect(text).toMatch(/^leasehold_transitions_total\{kind="elected",reason="",[^}]*\} 0$/m);
  });

  it('serves Prometheus metrics that follow leadership', async () => {
    const { app, elector } = await sidecar();
    await until('elector.isLeader()', 5_000, () => elector.isLeader());
    const text = (await app.request('/metrics')).body;
    for (const name of [
      'leasehold_is_leader',
      'leasehold_term',
      'leasehold_transitions_total',
      'leasehold_store_request_duration_seconds',
      'leasehold_lease_remaining_seconds',
      'leasehold_ttl_seconds',
    ]) {
      expect(text).toContain(name);
    }
    expect(text).toMatch(/leasehold_is_leader\{[^}]*\} 1/);
    expect(text).toMatch(/^leasehold_transitions_total\{kind="elected",reason="",[^}]*\} 1$/m);
  });

  it('streams leader events over SSE', async () => {
    const { app, elector } = await sidecar();
    await until('elector.isLeader()', 5_000, () => elector.isLeader());
    const address = app.url;
    const controller = new AbortController();
    const response = await fetch(`${address}/v1/events`, {
      headers: { accept: 'text/event-stream' },
      signal: controller.signal,
    });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body?.getReader();
    const first = await reader?.read();
    const text = new TextDecoder().decode(first?.value);
    expect(text).toContain('event: leader');
    expect(text).toContain('"isLeader":true');
    controller.abort();
  });

  it('streams to clients that send no Accept header, and refuses those that accept no stream', async () => {
    // curl and most HTTP clients send no Accept: text/event-stream; this used to be a 500.
    const { app } = await sidecar();
    const address = app.url;
    const controller = new AbortController();
    const plain = await fetch(`${address}/v1/events`, { signal: controller.signal });
    expect(plain.status).toBe(200);
    expect(plain.headers.get('content-type')).toContain('text/event-stream');
    controller.abort();
    const json = await fetch(`${address}/v1/events`, { headers: { accept: 'application/json' } });
    expect(json.status).toBe(406);
  });

  it('answers the fast routes on both paths alike: node:http, and Fastify for a query string', async () => {
    const election = `e-${randomUUID().slice(0, 8)}`;
    const leader = await sidecar({ election, id: 'one' });
    await until('leader.elector.isLeader()', 5_000, () => leader.elector.isLeader());
    const follower = await sidecar({ election, id: 'two' });
    await until(
      `follower.elector.status().leader?.id === 'one'`,
      5_000,
      () => follower.elector.status().leader?.id === 'one',
    );
    for (const { app } of [leader, follower]) {
      const address = app.url;
      for (const path of ['/v1/leader', '/v1/is-leader', '/healthz', '/readyz']) {
        const [overSocket, viaFastify] = [
          await fetch(`${address}${path}`),
          // Any query string, even an empty one, leaves the request to Fastify.
          await app.request(`${path}?`),
        ];
        expect(overSocket.status).toBe(viaFastify.statusCode);
        const [socketBody, fastifyBody] = [await overSocket.json(), viaFastify.json()];
        expect(Object.keys(socketBody).sort()).toEqual(Object.keys(fastifyBody).sort());
        // What may change between the two requests: the lease left, and the time of the
        // last store call (a member heartbeat may land between them).
        const stable = (body: Record<string, unknown>) => ({
          ...body,
          leaseRemainingMs: 0,
          ...(body.store === undefined
            ? {}
            : { store: { ...(body.store as object), lastOkAt: 0 } }),
        });
        expect(stable(socketBody)).toEqual(stable(fastifyBody));
        for (const header of [
          'content-type',
          'cache-control',
          'leasehold-leader',
          'leasehold-term',
        ]) {
          expect(overSocket.headers.get(header) ?? undefined).toBe(viaFastify.headers[header]);
        }
      }
      const [metricsOverSocket, metricsViaFastify] = [
        await fetch(`${address}/metrics`),
        await app.request('/metrics?'),
      ];
      expect(metricsOverSocket.status).toBe(metricsViaFastify.statusCode);
      expect(metricsOverSocket.headers.get('content-type')).toBe(
        metricsViaFastify.headers['content-type'],
      );
      expect(await metricsOverSocket.text()).toContain('leasehold_is_leader');
    }
  });

  it('publishes an OpenAPI document listing every route', async () => {
    const { app } = await sidecar({ start: false });
    const document = (await app.request('/v1/openapi.json')).json<{
      openapi: string;
      paths: Record<string, unknown>;
    }>();
    expect(document.openapi).toMatch(/^3\./);
    expect(Object.keys(document.paths).sort()).toEqual(
      [
        '/',
        '/healthz',
        '/metrics',
        '/readyz',
        '/v1/command',
        '/v1/events',
        '/v1/history',
        '/v1/is-leader',
        '/v1/leader',
        '/v1/members',
        '/v1/resign',
        '/v1/transfer',
        '/v1/drain',
        '/v1/undrain',
        '/v1/elections',
        '/v1/shards',
        '/v1/shards/{name}',
        '/v1/shards/{name}/events',
        ...[
          'leader',
          'is-leader',
          'events',
          'members',
          'history',
          'resign',
          'transfer',
          'drain',
          'undrain',
          'command',
        ].map((route) => `/v1/elections/{name}/${route}`),
      ].sort(),
    );
  });

  it('shows terms that went backwards in /v1/leader and /metrics', async () => {
    // A PostgreSQL schema dropped under a running election restarts its terms from 1.
    const postgres = 'postgres://postgres@127.0.0.1:5432/test';
    const namespace = `srv${randomUUID().replaceAll('-', '').slice(0, 8)}`;
    const { app, elector } = await sidecar({ store: postgres, namespace });
    const psql = (sql: string) =>
      execFileSync('psql', [postgres, '-qc', `SET client_min_messages = warning; ${sql}`]);
    try {
      for (let term = 1; term <= 2; term += 1) {
        await until(`term ${term}`, 5_000, () => elector.currentTerm() === term);
        if (term < 2) await elector.resign();
      }
      psql(`DROP SCHEMA "${namespace}" CASCADE`);
      await until('a term regression', 10_000, () => elector.status().termRegressions > 0);
      const body = (await app.request({ url: '/v1/leader' })).json();
      expect(body.termRegressions).toMatchObject({ count: 1, last: { previous: 2, observed: 1 } });
      const metrics = (await app.request({ url: '/metrics' })).body;
      expect(metrics).toMatch(/^leasehold_term_regressions_total\{[^}]*\} 1$/m);
    } finally {
      await elector.stop();
      psql(`DROP SCHEMA IF EXISTS "${namespace}" CASCADE`);
    }
  });
});
