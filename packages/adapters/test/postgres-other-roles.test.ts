import { Elector } from '@leasehold/core';
import pg from 'pg';
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { admin, SHARED_URL, SharedServerStores } from './helpers/postgres-admin.js';
import { until } from '@leasehold/testkit';

/**
 * Issue 25, item 2: another database role, with LOGIN and no grant at all, attacks the
 * elections of a schema it cannot read. It takes every advisory lock id it sees in pg_locks
 * (visible to every role) the moment it comes free, and the ids it can work out from public
 * names; it LISTENs on the channel names it can guess. Elections must still elect and fail
 * over, and it must hear nothing.
 */

const suffix = randomUUID().replaceAll('-', '').slice(0, 8);
const schema = `pgo${suffix}`;
const role = `lh_outsider_${suffix}`;
const TTL_MS = 1_500;

/** The ids leasehold derived from public names before this fix: guessable by anyone. */
function guessableLockIds(election: string): string[] {
  const hashed = createHash('sha256')
    .update(`leasehold:${schema}:${election}`)
    .digest()
    .readBigInt64BE(0)
    .toString();
  return [hashed, '7226384219'];
}

/**
 * The outsider: one session that takes every advisory lock it can, as often as it can,
 * and another that LISTENs on the guessable channel and keeps what it hears. It takes only
 * the ids this test's schema names (read by the superuser, `scope`): on a shared server it
 * would otherwise also take other test files' locks as they come free, and break their
 * checks of who holds what (postgres-safety's, run in parallel).
 */
class Outsider {
  readonly heard: string[] = [];
  readonly held = new Set<string>();
  /** Every id it has seen held: tried again on every pass until it has it. */
  private readonly seen = new Set<string>();
  /** Passes of the lock loop so far. */
  passes = 0;
  private readonly locker: pg.Client;
  private readonly listener: pg.Client;
  private readonly scope = new pg.Client({ connectionString: SHARED_URL });
  private running = true;
  private loop: Promise<void> = Promise.resolve();

  constructor(
    url: string,
    private readonly guesses: readonly string[],
  ) {
    this.locker = new pg.Client({ connectionString: url });
    this.listener = new pg.Client({ connectionString: url });
  }

  async start(): Promise<void> {
    await Promise.all([this.locker.connect(), this.listener.connect(), this.scope.connect()]);
    this.listener.on('notification', (message) =>
      this.heard.push(`${message.channel}: ${message.payload ?? ''}`),
    );
    await this.listener.query(`LISTEN "leasehold_${schema}"`);
    for (const id of this.guesses) this.seen.add(id);
    await this.grab(this.guesses);
    this.loop = this.takeLocks();
  }

  private async takeLocks(): Promise<void> {
    while (this.running) {
      const { rows } = await this.locker.query<{ id: string }>(
        `SELECT DISTINCT ((classid::bigint << 32) | objid::bigint)::text AS id FROM pg_locks
          WHERE locktype = 'advisory' AND objsubid = 1 AND pid <> pg_backend_pid()`,
      );
      const ours = await this.scope.query<{ id: string }>(
        `SELECT lock_id::text AS id FROM "${schema}".leases WHERE lock_id IS NOT NULL`,
      );
      const named = new Set(ours.rows.map((row) => row.id));
      for (const row of rows) if (named.has(row.id)) this.seen.add(row.id);
      await this.grab([...this.seen]);
      this.passes += 1;
    }
  }

  private async grab(ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      if (this.held.has(id)) continue;
      const { rows } = await this.locker.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock($1::bigint) AS locked',
        [id],
      );
      if (rows[0]?.locked === true) this.held.add(id);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop.catch(() => {});
    await Promise.all([this.locker.end(), this.listener.end(), this.scope.end()]);
  }
}

describe('postgres against another database role', () => {
  const electors: Elector[] = [];
  let outsider: Outsider;
  const outsiderUrl = `postgres://${role}@127.0.0.1:5432/test`;

  const stores = new SharedServerStores(schema);
  const open = () => stores.open();

  beforeAll(() => admin((client) => client.query(`CREATE ROLE ${role} LOGIN`)));
  afterEach(async () => {
    await outsider.stop();
    await Promise.all(electors.splice(0).map((e) => e.stop()));
    await stores.closeAll();
  });
  afterAll(() =>
    admin(async (client) => {
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.query(`DROP ROLE IF EXISTS ${role}`);
    }),
  );

  async function startElectors(election: string): Promise<void> {
    for (const id of ['a', 'b']) {
      electors.push(
        new Elector({ store: await open(), election, id, ttlMs: TTL_MS, retryIntervalMs: 100 }),
      );
    }
    for (const elector of electors) elector.start();
  }

  const leaders = () => electors.filter((e) => e.isLeader());

  it(
    'elects and fails over while the role takes every advisory lock it sees as it comes free',
    { timeout: 40_000 },
    async () => {
      const election = `locks-${randomUUID().slice(0, 6)}`;
      await (await open()).read(election); // the schema exists before the outsider starts
      outsider = new Outsider(outsiderUrl, guessableLockIds(election));
      await outsider.start();
      await until('the outsider scans pg_locks', 5_000, () => outsider.passes > 0);
      await startElectors(election);
      await until('a leader despite the outsider', 10_000, () => leaders().length === 1);
      const first = leaders()[0];
      const firstTerm = first?.currentTerm() ?? Infinity;
      // The outsider has seen the leader's lock and waits to take it the moment it is free.
      const seen = outsider.passes;
      await until('the outsider saw the lock', 5_000, () => outsider.passes > seen + 1);
      const lockId = await admin(async (client) => {
        const result = await client.query<{ lock_id: string }>(
          `SELECT lock_id::text FROM "${schema}".leases WHERE election = $1`,
          [election],
        );
        return result.rows[0]?.lock_id ?? '';
      });
      const { rows } = await admin((client) =>
        client.query<{ terminated: boolean }>(
          `SELECT pg_terminate_backend(pid) AS terminated
             FROM pg_locks, "${schema}".leases AS l
            WHERE l.election = $1 AND locktype = 'advisory' AND granted AND objsubid = 1
              AND classid = ((l.lock_id >> 32) & 4294967295)::oid
              AND objid = (l.lock_id & 4294967295)::oid
              AND pid <> ALL (SELECT pid FROM pg_stat_activity WHERE usename = $2)`,
          [election, role],
        ),
      );
      expect(rows.filter((row) => row.terminated)).toHaveLength(1);
      await until('the outsider took the freed lock', 5_000, () => outsider.held.has(lockId));
      await until('a new term leads within a few TTLs', TTL_MS * 4, () => {
        expect(leaders().length).toBeLessThanOrEqual(1);
        return (leaders()[0]?.currentTerm() ?? 0) > firstTerm;
      });
      // The clean way out as well: a resignation hands over at once.
      const second = leaders()[0];
      const secondTerm = second?.currentTerm() ?? Infinity;
      await second?.resign();
      await until(
        'the other candidate takes over after a resignation',
        TTL_MS * 4,
        () => (leaders()[0]?.currentTerm() ?? 0) > secondTerm,
      );
      expect(electors.every((e) => e.status().store.healthy)).toBe(true);
    },
  );

  it('starts while the role holds every advisory lock id it can guess', async () => {
    const election = `start-${randomUUID().slice(0, 6)}`;
    outsider = new Outsider(outsiderUrl, guessableLockIds(election));
    await outsider.start();
    const store = await open();
    const result = await store.tryAcquire({
      election,
      holder: 'a',
      token: randomUUID(),
      ttlMs: TTL_MS,
    });
    expect(result.acquired).toBe(true);
  });

  it('hears nothing on the channel names it can guess, and cannot read the key', async () => {
    const election = `quiet-${randomUUID().slice(0, 6)}`;
    outsider = new Outsider(outsiderUrl, []);
    await outsider.start();
    await startElectors(election);
    await until('a leader', 10_000, () => leaders().length === 1);
    const leader = leaders()[0];
    const term = leader?.currentTerm() ?? Infinity;
    await leader?.resign();
    await until('the other takes over', 10_000, () => (leaders()[0]?.currentTerm() ?? 0) > term);
    // The release's NOTIFY was sent before the takeover; a NOTIFY on the guessed channel
    // from here marks the end of what the outsider could have heard.
    await admin((client) => client.query(`NOTIFY "leasehold_${schema}", 'end'`));
    await until('the marker arrives', 5_000, () => outsider.heard.length > 0);
    expect(outsider.heard).toEqual([`leasehold_${schema}: end`]);
    const reader = new pg.Client({ connectionString: outsiderUrl });
    await reader.connect();
    try {
      await expect(reader.query(`SELECT * FROM "${schema}".secrets`)).rejects.toThrow(
        /permission denied/,
      );
      await expect(
        reader.query(`UPDATE "${schema}".leases SET expires_at = now() + interval '1 day'`),
      ).rejects.toThrow(/permission denied/);
    } finally {
      await reader.end();
    }
  });
});
