import { Elector } from '@leasehold/core';
import { createMemoryStore } from '@leasehold/core/testing';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { leaderBodySchema } from '../src/http/answers.js';
import { ROUTES } from '../src/http/route-table.js';
import { startTestListener } from './helpers/http-listener.js';
import { until } from '@leasehold/testkit';

/** The route table against the documentation and against what the listener serves. */
const page = readFileSync(new URL('../../../docs/http-api.md', import.meta.url), 'utf8');
const store = createMemoryStore();
const elector = new Elector({ store, election: 'table', id: 'alpha', ttlMs: 2_000 });
const listener = await startTestListener({ elector });
afterAll(async () => {
  await elector.stop();
  await listener.close();
});

interface ObjectSchema {
  readonly properties?: Readonly<Record<string, ObjectSchema>>;
  readonly anyOf?: readonly ObjectSchema[];
}

/**
 * Where a JSON value's objects and a schema disagree on keys: `extra x.y` (in the value
 * only) or `missing x.y` (in the schema only), through the schema's `anyOf` alternatives.
 */
function keyMismatches(value: unknown, schema: ObjectSchema, at = ''): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  const properties = [schema, ...(schema.anyOf ?? [])].find((s) => s.properties)?.properties;
  if (properties === undefined) return [];
  const object = value as Record<string, unknown>;
  return [
    ...Object.keys(object)
      .filter((key) => !(key in properties))
      .map((key) => `extra ${at}${key}`),
    ...Object.entries(properties).flatMap(([key, inner]) =>
      key in object ? keyMismatches(object[key], inner, `${at}${key}.`) : [`missing ${at}${key}`],
    ),
  ];
}

describe('the route table', () => {
  it('is documented route by route in docs/http-api.md', () => {
    const documented = [...page.matchAll(/^## `([A-Z]+ \/[^`]*)`$/gm)].map((match) => match[1]);
    const table = ROUTES.map((route) => `${route.method} ${route.path}`);
    expect(documented.sort()).toEqual(table.sort());
  });

  it('gives every route an answer or a handler, and the fast path only GET answers', () => {
    for (const route of ROUTES) {
      expect(route.answer ?? route.handler, route.path).toBeDefined();
      if (route.fastPath) {
        expect([route.method, route.admin, typeof route.answer], route.path).toEqual([
          'GET',
          false,
          'function',
        ]);
      }
    }
  });

  it('serves every route over the listener, none of them a 404', async () => {
    for (const { method, path } of ROUTES) {
      // An event stream answers with its headers and then stays open: ask for its end.
      const controller = new AbortController();
      const response = await fetch(`${listener.url}${path}`, { method, signal: controller.signal });
      expect(response.status, `${method} ${path}`).not.toBe(404);
      controller.abort();
    }
  });
});

describe("GET /v1/leader's shape, defined once (leaderBodySchema)", () => {
  it('is what the listener answers, key for key, on both paths', async () => {
    elector.start();
    await until('the elector leads', 5_000, () => elector.isLeader());
    for (const path of ['/v1/leader', '/v1/leader?']) {
      const body = (await listener.request(path)).json();
      expect(keyMismatches(body, leaderBodySchema), path).toEqual([]);
    }
  });

  it("is docs/http-api.md's example, key for key", () => {
    const section = page.slice(page.indexOf('## `GET /v1/leader`'));
    const example = /```json\n([\s\S]*?)\n```/.exec(section)?.[1] ?? '{}';
    expect(keyMismatches(JSON.parse(example), leaderBodySchema)).toEqual([]);
  });
});
