import { createStore } from '@leasehold/adapters';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  BIN,
  SidecarProcesses,
  isLeader,
  oneLeader,
  type Sidecar,
} from './helpers/sidecar-processes.js';
import { removeZooKeeperTree } from './helpers/zookeeper-tree.js';

/**
 * Sidecars on the shared ZooKeeper, where leadership ends with a session: a killed leader is
 * replaced once ZooKeeper expires its session (one session timeout, which is the TTL); a
 * frozen one stops answering "leader" before that, so nobody else is elected while it could
 * still think it leads. Everything lives under a chroot of this file's own, removed after.
 */

const HOSTS = '127.0.0.1:2181';
const chroot = `/lhzk-sidecar-${randomUUID().slice(0, 8)}`;
const STORE = `zk://${HOSTS}${chroot}`;
const TTL_MS = 2_000;

const processes = new SidecarProcesses(TTL_MS);
afterEach(() => processes.killAll());
afterAll(() => removeZooKeeperTree(HOSTS, chroot));

interface LeaderAnswer {
  readonly isLeader: boolean;
  readonly leaseRemainingMs: number;
}

async function leaderAnswer(sidecar: Sidecar): Promise<LeaderAnswer> {
  const response = await fetch(`${sidecar.url}/v1/leader`, { signal: AbortSignal.timeout(2_000) });
  return (await response.json()) as LeaderAnswer;
}

/** Wall-clock ms at which the sidecar last logged that it was elected. */
function electedAt(sidecar: Sidecar): number {
  const times = sidecar.logLines
    .map((line) => JSON.parse(line) as { event?: string; time?: number })
    .filter((entry) => entry.event === 'elected')
    .map((entry) => entry.time ?? 0);
  return Math.max(0, ...times);
}

/**
 * Freeze the leader just after it renewed, when its deadline is exactly what it last
 * answered (no renew can move it before the SIGSTOP lands): returns that deadline, wall clock.
 */
async function freezeAfterRenewal(leader: Sidecar): Promise<number> {
  let previous = Number.POSITIVE_INFINITY;
  const until = performance.now() + 5 * TTL_MS;
  while (performance.now() < until) {
    const answer = await leaderAnswer(leader);
    const receivedAt = Date.now();
    if (!answer.isLeader) throw new Error(`${leader.id} stopped leading`);
    if (answer.leaseRemainingMs > previous) {
      leader.child.kill('SIGSTOP');
      // Computed when the request arrived, no later than the answer came back.
      return receivedAt + answer.leaseRemainingMs;
    }
    previous = answer.leaseRemainingMs;
  }
  throw new Error(`${leader.id} never renewed`);
}

describe('sidecars on ZooKeeper', () => {
  it(
    'replace a SIGKILLed leader within the session timeout; a frozen leader stops leading before anyone else is elected',
    { timeout: 60_000 },
    async () => {
      const election = `zkproc-${randomUUID().slice(0, 8)}`;
      const sidecars = await Promise.all(
        ['z1', 'z2', 'z3'].map((id) => processes.start(STORE, election, id)),
      );

      // SIGKILL: nothing is released; ZooKeeper expires the session a timeout (the TTL)
      // after it last heard from the leader, and the next in line takes over.
      const killed = await oneLeader(sidecars, 10_000);
      const killedAt = Date.now();
      killed.child.kill('SIGKILL');
      const rest = sidecars.filter((sidecar) => sidecar !== killed);
      const next = await oneLeader(rest, TTL_MS + 3_000);
      // Generous for a loaded machine; bench/run.mjs measures it (TTL + at most a tick).
      expect(electedAt(next) - killedAt).toBeLessThan(TTL_MS + 1_000);

      // SIGSTOP past the session timeout: the third sidecar is elected only after the
      // frozen leader's own deadline, and the frozen one's first answer on waking is 503.
      const frozenDeadline = await freezeAfterRenewal(next);
      const [third] = rest.filter((sidecar) => sidecar !== next);
      if (third === undefined) throw new Error('no third sidecar');
      await oneLeader([third], TTL_MS + 3_000);
      expect(electedAt(third)).toBeGreaterThan(frozenDeadline);
      const firstAnswer = fetch(`${next.url}/v1/is-leader`, { signal: AbortSignal.timeout(5_000) });
      next.child.kill('SIGCONT');
      expect((await firstAnswer).status).toBe(503);
      expect(await isLeader(third)).toBe(true);
    },
  );
});

describe('the leasehold command on ZooKeeper with digest credentials', () => {
  const auth = { username: 'app', password: 'zk-secret-pw' };
  const prefix = `lhzk_auth_${randomUUID().slice(0, 8).replaceAll('-', '')}`;
  afterAll(() => removeZooKeeperTree(HOSTS, `/${prefix}`, auth));

  it('prints the configuration with the password masked', () => {
    const result = spawnSync(
      process.execPath,
      [BIN, 'config', '--store', 'zk://app:zk-secret-pw@zk1:2181,zk2:2181/apps'],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('store: zk://app:***@zk1:2181,zk2:2181/apps');
    expect(result.stdout).not.toContain('zk-secret-pw');
  });

  // Exit 1, like every backend whose store refuses the credentials (docs/errors.md: the
  // environment, not a value of ours, is at fault).
  it('exits 1 at start-up with one line, without the password, on a wrong password', async () => {
    // The first user creates the namespace: its znodes are readable by that user alone.
    const owner = await createStore(`zk://${auth.username}:${auth.password}@${HOSTS}`, {
      namespace: prefix,
    });
    await owner.close();
    const result = spawnSync(
      process.execPath,
      [BIN, '--store', `zk://app:wrong-pw-4711@${HOSTS}`, '--store-prefix', prefix, '--port', '0'],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(result.status).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^leasehold: ZooKeeper at 127\.0\.0\.1:2181 denied user "app"/);
    expect(result.stderr + result.stdout).not.toContain('wrong-pw-4711');
  });
});
