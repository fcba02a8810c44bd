import { createStore } from '@leasehold/adapters';
import { Elector } from '@leasehold/core';
import type * as nodeCrypto from 'node:crypto';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { startTestListener } from './helpers/http-listener.js';

/**
 * The admin token is compared in constant time whatever is presented: a comparison that
 * returned early on a length mismatch told a client the token's length (issue 25).
 */
const compared = vi.hoisted(() => [] as [number, number][]);
vi.mock('node:crypto', async (importOriginal) => {
  const crypto = await importOriginal<typeof nodeCrypto>();
  return {
    ...crypto,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      compared.push([a.byteLength, b.byteLength]);
      return crypto.timingSafeEqual(a, b);
    },
  };
});

const TOKEN = 'token-compare-0123456789abcdef';
const store = await createStore('redis://127.0.0.1:6379', {
  namespace: `lhtok${randomUUID().slice(0, 8)}`,
});
const elector = new Elector({ store, election: 'tokens', id: 'alpha', ttlMs: 2_000 });
const app = await startTestListener({ elector, adminToken: TOKEN });
afterAll(async () => {
  await app.close();
  await store.close();
});

describe('POST /v1/resign token comparison', () => {
  it.each([
    ['shorter', 'x'],
    ['longer', `${TOKEN}-and-more`],
    ['as long', TOKEN.replace('0', '1')],
    ['empty', ''],
  ])('compares a %s wrong token in full, digests of equal length', async (_kind, presented) => {
    compared.length = 0;
    const answer = await app.request({
      method: 'POST',
      url: '/v1/resign',
      headers: { authorization: `Bearer ${presented}` },
    });
    expect(answer.statusCode).toBe(401);
    expect(compared).toEqual([[32, 32]]);
  });
});
