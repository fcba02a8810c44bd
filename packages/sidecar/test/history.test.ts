import { mkdtempSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SidecarProcesses, oneLeader } from './helpers/sidecar-processes.js';

/**
 * The sidecar command loads its Fastify routes only for the first request that needs them
 * (src/http/listener.ts); the history of leadership changes must not wait for that request.
 */
const dir = mkdtempSync(join(tmpdir(), 'leasehold-history-'));
const sidecars = new SidecarProcesses(1_000);
afterEach(() => sidecars.killAll());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the history of the sidecar command', () => {
  it('holds the changes seen before the first request that loads the HTTP routes', async () => {
    const store = `sqlite://${join(dir, 'leases.db')}`;
    const election = `history-${randomUUID().slice(0, 8)}`;
    const sidecar = await sidecars.start(store, election, 'h1');
    // /v1/is-leader is answered without the Fastify routes: nothing else has been asked yet.
    await oneLeader([sidecar], 10_000);

    const response = await fetch(`${sidecar.url}/v1/history`);
    expect(response.status).toBe(200);
    const { changes } = (await response.json()) as {
      changes: { kind: string; leader: string | null; term: number | null }[];
    };
    expect(changes).toContainEqual(
      expect.objectContaining({ kind: 'leader', leader: 'h1', term: expect.any(Number) as number }),
    );
  });
});
