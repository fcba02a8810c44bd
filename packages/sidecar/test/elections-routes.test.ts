import { createStore } from '@leasehold/adapters';
import { Elector, type LeaseStore } from '@leasehold/core';
import { until } from '@leasehold/testkit';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestListener, type TestListener } from './helpers/http-listener.js';

/**
 * The routes of a sidecar of several elections (docs/http-api.md, "Several elections"),
 * over the listener the command uses, three electors on one real SQLite store: each
 * election's routes answer for it, on the fast path and through Fastify alike.
 */

const dir = mkdtempSync(join(tmpdir(), 'leasehold-election-routes-'));
const TOKEN = 'election-routes-admin-token';
const names = ['first', 'second', 'third'].map((name) => `${name}-${randomUUID().slice(0, 6)}`);
const [first = '', second = '', third = ''] = names;
let store: LeaseStore;
let electors: Elector[];
let app: TestListener;

beforeAll(async () => {
  store = await createStore(`sqlite://${join(dir, 'leases.db')}`, { namespace: 'routes' });
  electors = names.map(
    (election) => new Elector({ store, election, id: 'alpha', ttlMs: 2_000, retryIntervalMs: 200 }),
  );
  const [elector] = electors;
  if (elector === undefined) throw new Error('no elector');
  app = await startTestListener({ elector, electors, adminToken: TOKEN });
  for (const each of electors) each.start();
  await until('alpha leads every election', 10_000, () => electors.every((e) => e.isLeader()));
});

afterAll(async () => {
  await Promise.all(electors.map((elector) => elector.stop()));
  await app.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('several elections in one sidecar', () => {
  it('lists every election in configuration order', async () => {
    const { elections } = (await app.request('/v1/elections')).json<{
      elections: { name: string; isLeader: boolean; leader: string; term: number }[];
    }>();
    expect(elections.map((e) => [e.name, e.isLeader, e.leader])).toEqual(
      names.map((name) => [name, true, 'alpha']),
    );
    expect(elections.map((e) => e.term)).toEqual(electors.map((e) => e.currentTerm()));
  });

  it.each(['', '?'])(
    'answers each election on its own routes, the first on the unprefixed ones (%j: fast path or Fastify)',
    async (query) => {
      for (const [index, name] of names.entries()) {
        const leader = (await app.request(`/v1/elections/${name}/leader${query}`)).json();
        expect(leader).toMatchObject({ election: name, term: electors[index]?.currentTerm() });
      }
      expect((await app.request(`/v1/leader${query}`)).json()).toMatchObject({ election: first });
      const isLeader = await app.request(`/v1/elections/${third}/is-leader${query}`);
      expect([isLeader.statusCode, isLeader.json()]).toEqual([
        200,
        { isLeader: true, term: electors[2]?.currentTerm() },
      ]);
    },
  );

  it.each(['', '?'])(
    'answers an unknown election 404 and an impossible name 400, with registry codes (%j)',
    async (query) => {
      const unknown = await app.request(`/v1/elections/nosuch/is-leader${query}`);
      expect([unknown.statusCode, unknown.json().code]).toEqual([
        404,
        'LEASEHOLD_E_UNKNOWN_ELECTION',
      ]);
      expect(unknown.json().message).toContain('GET /v1/elections');
      const bad = await app.request(`/v1/elections/-bad/leader${query}`);
      expect([bad.statusCode, bad.json().code]).toEqual([400, 'LEASEHOLD_E_BAD_REQUEST']);
      expect(bad.json().message).toContain('use 1-128 characters');
    },
  );

  it('keeps each election its own history, members and admin routes', async () => {
    const history = (await app.request(`/v1/elections/${second}/history`)).json<{
      changes: { leader: string; term: number }[];
    }>();
    expect(history.changes[0]).toMatchObject({ leader: 'alpha', term: electors[1]?.currentTerm() });
    const members = (await app.request(`/v1/elections/${third}/members`)).json<{
      members: { id: string }[];
    }>();
    expect(members.members.map((m) => m.id)).toEqual(['alpha']);
    const refused = await app.request({ url: `/v1/elections/${second}/resign`, method: 'POST' });
    expect(refused.statusCode).toBe(401);
    const resigned = await app.request({
      url: `/v1/elections/${second}/resign`,
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(resigned.json()).toMatchObject({ resigned: true, lease: 'released' });
    expect(electors.map((e) => e.status().isLeader)).toEqual([true, false, true]);
    await until('alpha leads the second again', 10_000, () => electors[1]?.isLeader());
  });

  it('labels every election series with its election, the process series with the first', async () => {
    const metrics = (await app.request('/metrics')).body;
    for (const name of names) {
      expect(metrics).toContain(`leasehold_is_leader{election="${name}"} 1`);
      expect(metrics).toContain(
        `leasehold_transitions_total{kind="elected",reason="",election="${name}"}`,
      );
    }
    expect(metrics).toMatch(
      new RegExp(`^process_cpu_user_seconds_total\\{election="${first}"\\}`, 'm'),
    );
    const perElection = metrics
      .split('\n')
      .filter((line) => line.includes(`election="${third}"`)).length;
    // What docs/http-api.md says one election adds.
    expect(perElection).toBeLessThanOrEqual(100);
  });

  it('is ready once every election is observed', async () => {
    expect((await app.request('/readyz')).json()).toEqual({ ready: true });
    const late = new Elector({ store, election: `late-${randomUUID().slice(0, 6)}`, id: 'alpha' });
    const { readinessAnswer } = await import('../src/http/answers.js');
    expect(readinessAnswer([...electors, late]).body).toEqual({
      ready: false,
      reason: `the election "${late.election}" has not been observed yet`,
    });
  });

  it('streams the events of the election its path names', async () => {
    const controller = new AbortController();
    const response = await fetch(`${app.url}/v1/elections/${third}/events`, {
      signal: controller.signal,
    });
    const reader = response.body?.getReader();
    const { value } = (await reader?.read()) ?? {};
    controller.abort();
    expect(new TextDecoder().decode(value)).toContain(`"election":"${third}"`);
  });
});
