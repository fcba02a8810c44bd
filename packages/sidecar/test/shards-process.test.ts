import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runningWithMarker, until } from '@leasehold/testkit';
import { SidecarProcesses, type Sidecar } from './helpers/sidecar-processes.js';

/**
 * Shards in the sidecar (issue 27 part 3), as a user runs them: three sidecar processes
 * with `shards: [{name, count: 12}]` on real Redis own 4 each; no shard ever has two owners
 * in any poll of every sidecar's GET /v1/shards/{name}; after one is SIGKILLed its shards
 * are owned again by the two left, 6 each; SIGTERM releases every shard and exits 0.
 */

const TTL_MS = 4_000;
const COUNT = 12;
const TOKEN = 'shards-test-admin-token';
const REDIS = 'redis://127.0.0.1:6379';
const dir = mkdtempSync(join(tmpdir(), 'leasehold-shards-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const processes = new SidecarProcesses(TTL_MS);
afterEach(() => {
  processes.killAll();
  return until('no sidecar left running', 10_000, () =>
    runningWithMarker(processes.marker).length === 0 ? true : undefined,
  );
});

interface GroupAnswer {
  readonly name: string;
  readonly count: number;
  readonly owned: readonly { readonly shard: number; readonly term: number }[];
}

async function group(sidecar: Sidecar, name: string): Promise<GroupAnswer> {
  const response = await fetch(`${sidecar.url}/v1/shards/${name}`, {
    signal: AbortSignal.timeout(5_000),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as GroupAnswer;
}

/**
 * Polls every sidecar until `wanted` holds of the shards each owns, asserting at every poll
 * that no shard is owned by two of them; the owned counts at the end, by sidecar.
 */
async function owners(
  sidecars: readonly Sidecar[],
  name: string,
  withinMs: number,
  wanted: (counts: number[], owned: number) => boolean,
): Promise<number[]> {
  let counts: number[] = [];
  await until(
    `shards of ${name} spread as wanted`,
    withinMs,
    async () => {
      const answers = await Promise.all(sidecars.map((sidecar) => group(sidecar, name)));
      const ownerOf = new Map<number, string>();
      answers.forEach((answer, index) => {
        for (const { shard } of answer.owned) {
          const id = sidecars[index]?.id ?? '';
          expect(ownerOf.get(shard), `shard ${shard} owned by two`).toBeUndefined();
          ownerOf.set(shard, id);
        }
      });
      counts = answers.map((answer) => answer.owned.length);
      return wanted(counts, ownerOf.size) ? true : undefined;
    },
    25,
  );
  return counts;
}

/** The first `owned` event of GET /v1/shards/{name}/events: its data. */
async function firstOwnedEvent(sidecar: Sidecar, name: string): Promise<GroupAnswer> {
  const controller = new AbortController();
  const response = await fetch(`${sidecar.url}/v1/shards/${name}/events`, {
    signal: controller.signal,
  });
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const reader = response.body?.getReader();
  let text = '';
  try {
    for (;;) {
      const chunk = await reader?.read();
      if (chunk === undefined || chunk.done) throw new Error(`stream ended: ${text}`);
      text += new TextDecoder().decode(chunk.value);
      const data = /event: owned\ndata: (.*)\n/.exec(text)?.[1];
      if (data !== undefined) return JSON.parse(data) as GroupAnswer;
    }
  } finally {
    controller.abort();
  }
}

function admin(sidecar: Sidecar, path: string): Promise<Response> {
  return fetch(`${sidecar.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}` },
    signal: AbortSignal.timeout(15_000),
  });
}

describe('three sidecars sharing a shard group on redis', () => {
  it(
    'own 4 shards each, never two owners, 6 each after a SIGKILL, release on SIGTERM',
    { timeout: 120_000 },
    async () => {
      const name = `r${randomUUID().slice(0, 8)}`;
      const config = join(dir, `${name}.yaml`);
      writeFileSync(config, `shards:\n  - name: ${name}\n    count: ${COUNT}\n`);
      const start = (id: string) =>
        processes.start(REDIS, `${name}-e`, id, ['--config', config, '--admin-token', TOKEN]);
      const [s1, s2, s3] = [await start('s1'), await start('s2'), await start('s3')];

      const balanced = await owners(
        [s1, s2, s3],
        name,
        6 * TTL_MS,
        (counts, owned) => owned === COUNT && counts.every((count) => count === 4),
      );
      expect(balanced).toEqual([4, 4, 4]);
      const answer = await group(s1, name);
      expect(answer).toMatchObject({ name, count: COUNT });
      expect(answer.owned.map((o) => o.shard)).toEqual(
        [...answer.owned.map((o) => o.shard)].sort((a, b) => a - b),
      );
      const list = (await (await fetch(`${s1.url}/v1/shards`)).json()) as {
        shards: GroupAnswer[];
      };
      expect(list.shards.map((g) => g.name)).toEqual([name]);
      expect((await fetch(`${s1.url}/v1/shards/${name}x`)).status).toBe(404);
      const streamed = await firstOwnedEvent(s2, name);
      expect(streamed).toMatchObject({ name, count: COUNT });
      expect(streamed.owned).toHaveLength(4);

      // The sidecar's drain hands its shards to the others; undrained, it gets its share back.
      expect((await admin(s3, '/v1/drain')).status).toBe(200);
      const drained = await owners(
        [s1, s2, s3],
        name,
        6 * TTL_MS,
        (counts, owned) => owned === COUNT && counts.join() === '6,6,0',
      );
      expect(drained).toEqual([6, 6, 0]);
      expect((await admin(s3, '/v1/undrain')).status).toBe(200);
      await owners(
        [s1, s2, s3],
        name,
        6 * TTL_MS,
        (counts, owned) => owned === COUNT && counts.every((count) => count === 4),
      );

      const metrics = await (await fetch(`${s1.url}/metrics`)).text();
      expect(metrics).toMatch(
        new RegExp(`leasehold_shards_owned\\{[^}]*group="${name}"[^}]*\\} 4`),
      );

      s3.child.kill('SIGKILL');
      const killed = performance.now();
      await owners([s1, s2], name, 4 * TTL_MS, (_counts, owned) => owned === COUNT);
      const ownedAgainMs = performance.now() - killed;
      const after = await owners(
        [s1, s2],
        name,
        4 * TTL_MS,
        (counts, owned) => owned === COUNT && counts.every((count) => count === 6),
      );
      expect(after).toEqual([6, 6]);
      // For docs/shards.md: how long the orphans took, on this machine's load.
      console.info(
        `shards of the SIGKILLed sidecar owned again after ${Math.round(ownedAgainMs)} ms, ` +
          `6/6 after ${Math.round(performance.now() - killed)} ms (TTL ${TTL_MS} ms)`,
      );

      // SIGTERM: every shard released at once (not left to expire), exit 0.
      s2.child.kill('SIGTERM');
      expect(await s2.exited).toBe(0);
      const released = performance.now();
      const last = await owners([s1], name, TTL_MS, (_counts, owned) => owned === COUNT);
      expect(last).toEqual([COUNT]);
      expect(performance.now() - released).toBeLessThan(TTL_MS);
    },
  );
});
