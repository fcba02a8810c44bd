import {
  StoreClosedError,
  StorePoolerError,
  StoreProtocolError,
  StoreUnavailableError,
  type AcquireRequest,
  type AcquireResult,
  type BatchStore,
  type BeatAnswer,
  type BeatRequest,
  type Lease,
  type LeaseMetadata,
  type LeaseRecord,
  type LeaseStore,
  type MemberRecord,
  type RenewResult,
  type Reservation,
  type TransferStore,
  waitAtMost,
} from '@leasehold/core';
import type pg from 'pg';
import type { SslPlan } from './tls.js';
import { diagnoseFirstConnection, type Endpoint } from '../first-connection.js';
import { guardedCall, type CallGuard } from '../guarded-call.js';
import { endsSession, isMissingRelation, translateError } from './errors.js';
import { assertOwnBackend } from './pooler.js';
import { MemberRows } from './members.js';
import { WakeUpListener, wakeUpTag } from './notifications.js';
import { withOrderKey, withoutOrderKey } from '../records.js';
import {
  beatSql,
  claimManySql,
  claimSql,
  handOverSql,
  liveLeaseSql,
  liveLeasesSql,
  randomLockId,
  refusedManySql,
  releaseSql,
  renewManySql,
  renewSql,
  reservationSql,
  UNLOCK_SQL,
} from './queries.js';
import { tablesIn, type Tables } from './schema.js';
import { StoreSession, type Session } from './session.js';

/**
 * PostgreSQL: mutual exclusion by the lease row, in a table only the sidecar's role can
 * write. The row carries the term, the expiry by the database clock, whether the last holder
 * released cleanly, and the id of a session-level advisory lock its holder drew at random
 * when it claimed (on a connection of this candidate's own, never a pooled one: the lock
 * lives and dies with the session). A claim succeeds only when the row is released, expired,
 * or its holder's lock is held by nobody: that session is gone.
 *
 * Every role can see and take any advisory lock id, so the lock only ever speeds a claim up
 * (a holder whose session died before its lease ran out); holding it cannot keep anyone out
 * beyond the lease, and a fresh random id per claim cannot be taken in advance.
 *
 * The session sets idle_session_timeout to the TTL. A holder renews every third of a TTL,
 * so it is never idle that long; a holder that freezes is, and the server then ends its
 * session, which frees the lock. The next holder finds a row that was not released and
 * whose lease may still run, and waits it out (notBeforeMs) before it reports leadership.
 */

export interface PostgresStoreOptions {
  readonly connection: pg.ClientConfig;
  /** sslmode allow and prefer: connect once more with this TLS setting when the first fails so. */
  readonly otherwise?: SslPlan['otherwise'];
  /** Schema holding leasehold's tables. */
  readonly schema: string;
  /** Human-readable server for messages; never contains the password. */
  readonly where: string;
  /** The server's TCP address, to probe when the first connection fails; none for a socket. */
  readonly endpoint?: Endpoint;
  /** statement_timeout of the session: how long one request may take. */
  readonly statementTimeoutMs: number;
}

/** The session's statement_timeout when the caller does not shorten it. */
export const STATEMENT_TIMEOUT_MS = 5_000;

/** How long close() waits for the server to acknowledge the end of each connection. */
const CLOSE_WAIT_MS = 1_000;

export class PostgresStore implements LeaseStore {
  readonly backend = 'postgres';
  private closed = false;
  private readonly tables: Tables;
  /** The session leases, locks and member records live in (session.ts). */
  private readonly sessions: StoreSession;
  /** Watchers, and the LISTEN connection that wakes them (notifications.ts). */
  private readonly wakeUps: WakeUpListener = new WakeUpListener(
    () => this.closed,
    async () => this.sessions.wakeUpKey(await this.connect()),
    () => this.sessions.connectClient({}),
  );
  /** Every store call goes through it (../guarded-call.ts). */
  private readonly guard: CallGuard = {
    backend: 'postgres',
    isClosed: () => this.closed,
    failed: (error, op) => {
      // The schema or a table is gone (dropped by hand, a restored or reset database): make
      // them again on the next call and carry on. Terms restart, and electors notice.
      if (isMissingRelation(error)) this.sessions.forgetSchema();
      return translateError(error, op, this.options);
    },
  };

  constructor(private readonly options: PostgresStoreOptions) {
    this.tables = tablesIn(options.schema);
    this.sessions = new StoreSession(options, this.tables, (key) => this.wakeUps.adoptKey(key));
  }

  /**
   * Connect once at start-up so that wrong credentials, and a pooler that shares sessions,
   * fail loudly there. A server that is merely down is not an error: calls fail with
   * StoreUnavailableError until it is back (and the pooler check is not made).
   */
  async start(): Promise<void> {
    try {
      await guardedCall(this.guard, 'connect', () => this.connect());
    } catch (error) {
      const hopeless =
        error instanceof StoreUnavailableError && this.options.endpoint !== undefined
          ? await diagnoseFirstConnection('postgres', [this.options.endpoint])
          : error;
      if (hopeless === null) return;
      await this.close();
      throw hopeless;
    }
    try {
      await assertOwnBackend((extra) => this.sessions.connectClient(extra), this.options.where);
    } catch (error) {
      // A check that could not finish met a server that is down or flaky: not fatal, as above.
      if (!(error instanceof StorePoolerError)) return;
      await this.close();
      throw error;
    }
  }

  /**
   * Take the advisory lock and claim the lease row in one round trip. When this session
   * already holds the lock (a lease it lost or released without a confirmed unlock), the
   * claim is conditional on still holding it instead: never a second grant of one lock.
   */
  tryAcquire(request: AcquireRequest): Promise<AcquireResult> {
    return guardedCall(this.guard, 'acquire', async () => {
      const { election } = request;
      const session = await this.connect();
      await this.sessions.setIdleTimeout(session, request.ttlMs);
      const held = session.locks.get(election);
      if (held !== undefined && (await this.liveHolder(session, election))) {
        // This session already holds the lock for a live lease of ours: not a second grant.
        return this.refused(session, election);
      }
      // A lock this session still holds is claimed with again; otherwise a fresh random one.
      const lockKey = held?.lockId ?? randomLockId();
      let lease: Lease | null;
      try {
        lease = await this.claim(session, request, held === undefined ? 'try' : 'held', lockKey);
      } catch (error) {
        await this.releaseTriedLock(session, election, lockKey);
        throw error;
      }
      if (lease === null) {
        await this.releaseTriedLock(session, election, lockKey);
        return this.refused(session, election);
      }
      session.locks.set(election, { lockId: lockKey, token: request.token });
      return { acquired: true, lease };
    });
  }

  renew(lease: Lease): Promise<RenewResult> {
    return guardedCall(this.guard, 'renew', async () => {
      const session = this.sessions.current;
      // The lock lived in a session that is gone: the server freed it, someone else may hold it.
      if (
        session === null ||
        !session.alive ||
        session.locks.get(lease.election)?.token !== lease.token
      ) {
        return { renewed: false };
      }
      try {
        const { rowCount } = await session.statements.query(renewSql(this.tables.leases), [
          lease.election,
          lease.token,
          lease.ttlMs,
        ]);
        return rowCount === 1 ? { renewed: true, ttlMs: lease.ttlMs } : { renewed: false };
      } catch (error) {
        // The server ended the session (idle past the TTL, terminated, shut down) and its
        // FATAL came back as this statement's answer (the session is marked ended by then,
        // see openSession): the lock went with it, so the lease is lost, not the store.
        if (!session.alive) return { renewed: false };
        throw error;
      }
    });
  }

  /** Many renewals in one UPDATE (LeaseStore.batch, docs/design.md §3.8). */
  readonly batch: BatchStore = {
    renewMany: (leases) => this.renewMany(leases),
    putMembers: (puts) => this.members.putMany(puts),
    readMany: (elections) => this.readMany(elections),
    beat: (request) => this.beat(request),
    claimMany: (requests) => this.claimMany(requests),
    // MAX_CLAIMS below: how long a batch holds its rows' locks, and the shared lock table.
    maxClaims: MAX_CLAIMS,
    maxReads: 1_000,
    // The statement passes arrays (8 parameters however long): the bound is its work. A
    // tick of 1,000 elections (2,000 items) runs in a few ms; 10,000 keeps one statement
    // well within the statement timeout on a loaded server.
    maxBeat: 10_000,
  };

  /**
   * One tick in ONE statement (beatSql): renewals as renewMany does them (a lease whose lock
   * this session does not hold is lost without asking), member records as putMany and
   * reads as readMany. Renewals ride only on the session that holds their locks: with none
   * alive, the three go their own ways (no renewal is sent). When the statement's answer is
   * the session's end, its renewals are lost, as renewMany answers them, and the records and
   * reads are sent again on a new session.
   */
  private async beat({ renewals, puts, reads }: BeatRequest): Promise<BeatAnswer> {
    const session = this.sessions.current;
    const alone = async (): Promise<BeatAnswer> => {
      const [renewed, members, records] = await Promise.all([
        this.renewMany(renewals),
        this.members.putMany(puts),
        this.readMany(reads),
      ]);
      return { renewals: renewed, members, reads: records };
    };
    if (renewals.length > 0 && (session === null || !session.alive)) return alone();
    const answer = await guardedCall(this.guard, 'renew', async () => {
      const on = renewals.length > 0 && session !== null ? session : await this.connect();
      const ours = (lease: Lease): boolean =>
        on.alive && on.locks.get(lease.election)?.token === lease.token;
      const asked = renewals.filter(ours);
      try {
        const { rows } = await on.statements.query<BeatRow>(beatSql(this.tables), [
          asked.map((l) => l.election),
          asked.map((l) => l.token),
          asked.map((l) => l.ttlMs),
          puts.map((p) => p.election),
          puts.map((p) => p.member.id),
          puts.map((p) => JSON.stringify(withOrderKey(p.member))),
          puts.map((p) => p.ttlMs),
          [...reads],
        ]);
        const row = rows[0];
        if (row === undefined)
          throw new StoreProtocolError('postgres: the heartbeat statement answered no row');
        const renewed = new Set(row.renewed);
        const live = new Map(row.reads.map((r) => [r.election, r]));
        return {
          renewals: renewals.map((lease): RenewResult =>
            ours(lease) && renewed.has(lease.election)
              ? { renewed: true, ttlMs: lease.ttlMs }
              : { renewed: false },
          ),
          members: puts.map(({ election }) =>
            row.members
              .filter((m) => m.election === election)
              .map((m) => withoutOrderKey(m.record)),
          ),
          reads: reads.map((election) => {
            const r = live.get(election);
            return r === undefined ? null : liveRecord(election, r);
          }),
        };
      } catch (error) {
        if (renewals.length === 0 || on.alive) throw error;
        return null;
      }
    });
    if (answer !== null) return answer;
    // The session ended under the statement: its locks, so its leases, are gone.
    const [members, records] = await Promise.all([
      this.members.putMany(puts),
      this.readMany(reads),
    ]);
    return { renewals: renewals.map(() => ({ renewed: false })), members, reads: records };
  }

  /**
   * Many claims (docs/design.md §3.8, "Claims in batches"), each judged and answered as
   * tryAcquire does it. A claim of an election whose lock this session already holds goes
   * alone through tryAcquire (it checks the live row first and claims with that lock); the
   * others in ONE statement (claimManySql). When any fails, every claim does: the ones
   * granted meanwhile are released first, as a late answer's would be.
   */
  private async claimMany(requests: readonly AcquireRequest[]): Promise<AcquireResult[]> {
    if (requests.length === 0) return [];
    const session = await guardedCall(this.guard, 'acquire', () => this.connect());
    // Partitioned once, before any claim below records the lock it takes.
    const alone = requests.filter((r) => session.locks.has(r.election));
    const fresh = requests.filter((r) => !session.locks.has(r.election));
    const settled = await Promise.allSettled([
      this.claimFresh(session, fresh),
      Promise.all(alone.map((r) => this.tryAcquire(r))),
    ]);
    const answers = new Map<string, AcquireResult>();
    const parts = [fresh, alone];
    settled.forEach((part, i) => {
      if (part.status !== 'fulfilled') return;
      parts[i]?.forEach((r, j) => answers.set(r.election, part.value[j] as AcquireResult));
    });
    const failed = settled.find((part) => part.status === 'rejected');
    if (failed !== undefined) {
      for (const answer of answers.values()) {
        if (answer.acquired) await this.release(answer.lease).catch(() => {});
      }
      throw failed.reason;
    }
    return requests.map((r) => answers.get(r.election) as AcquireResult);
  }

  /**
   * The claims of elections whose lock this session does not hold, in ONE statement, each
   * with a fresh random lock (claimRows); then, when some did not take their row, ONE more
   * that unlocks their locks and reads who kept them out (refusedMany), as tryAcquire's
   * releaseTriedLock and refused() do for one.
   */
  private claimFresh(session: Session, requests: readonly AcquireRequest[]) {
    return guardedCall(this.guard, 'acquire', async (): Promise<AcquireResult[]> => {
      if (requests.length === 0) return [];
      await this.sessions.setIdleTimeout(session, Math.min(...requests.map((r) => r.ttlMs)));
      const lockIds = requests.map(() => randomLockId());
      const rows = await this.claimRows(session, requests, lockIds);
      const results = rows.map((row, i): AcquireResult | null => {
        const request = requests[i] as AcquireRequest;
        if (row.term === null) return null;
        session.locks.set(request.election, { lockId: lockIds[i] as string, token: request.token });
        return { acquired: true, lease: claimedLease(request, row) };
      });
      const unclaimed = (_: unknown, i: number): boolean => results[i] === null;
      let refusals: Map<string, AcquireResult>;
      try {
        refusals = await this.refusedMany(
          session,
          requests.filter(unclaimed),
          lockIds.filter(unclaimed),
        );
      } catch (error) {
        // The batch fails: none of its claims may be known to hold.
        for (const r of results) if (r?.acquired) await this.release(r.lease).catch(() => {});
        throw error;
      }
      return results.map(
        (r, i) => r ?? (refusals.get(requests[i]?.election ?? '') as AcquireResult),
      );
    });
  }

  /**
   * claimManySql's rows, in the order of `requests`. When it failed, or did not take every
   * fresh lock (then it wrote no row), every lock it took is unlocked and the batch fails.
   */
  private async claimRows(
    session: Session,
    requests: readonly AcquireRequest[],
    lockIds: readonly string[],
  ): Promise<ClaimManyRow[]> {
    let rows: ClaimManyRow[];
    try {
      ({ rows } = await session.statements.query<ClaimManyRow>(claimManySql(this.tables.leases), [
        requests.map((r) => r.election),
        requests.map((r) => r.holder),
        requests.map((r) => r.token),
        requests.map((r) => JSON.stringify(r.metadata ?? {})),
        requests.map((r) => r.ttlMs),
        lockIds,
      ]));
    } catch (error) {
      // Its writes rolled back; session-level locks do not: unlock every one it drew.
      await this.unlockTried(session, requests, lockIds);
      throw error;
    }
    const byElection = new Map(rows.map((row) => [row.election, row]));
    const ordered = requests.map((r) => byElection.get(r.election));
    const missed = ordered.findIndex((row) => row?.locked !== true);
    if (missed < 0) return ordered as ClaimManyRow[];
    const locked = (_: unknown, i: number): boolean => ordered[i]?.locked === true;
    await this.unlockTried(session, requests.filter(locked), lockIds.filter(locked));
    const election = requests[missed]?.election ?? '?';
    if (ordered[missed] === undefined) {
      throw new StoreProtocolError(`postgres acquire: the claim of "${election}" returned no row`);
    }
    throw this.lockNotTaken(election, lockIds[missed] ?? '?');
  }

  /**
   * The claims that did not take their row: unlock their fresh locks and answer each as
   * refused() does, in ONE statement (refusedManySql). When it fails, the locks are
   * remembered as perhaps held, as releaseTriedLock does.
   */
  private async refusedMany(
    session: Session,
    requests: readonly AcquireRequest[],
    lockIds: readonly string[],
  ): Promise<Map<string, AcquireResult>> {
    if (requests.length === 0) return new Map();
    let rows: RefusedRow[];
    try {
      ({ rows } = await session.statements.query<RefusedRow>(refusedManySql(this.tables.leases), [
        requests.map((r) => r.election),
        lockIds,
      ]));
    } catch (error) {
      this.rememberTried(session, requests, lockIds);
      throw error;
    }
    return new Map(
      rows.flatMap(({ election, ...row }) =>
        election === null ? [] : [[election, refusedByRow(election, row)]],
      ),
    );
  }

  /** After a failed claim statement: unlock the locks it drew (refusedManySql, no elections). */
  private async unlockTried(
    session: Session,
    requests: readonly AcquireRequest[],
    lockIds: readonly string[],
  ): Promise<void> {
    try {
      await session.statements.query(refusedManySql(this.tables.leases), [[], lockIds]);
    } catch {
      this.rememberTried(session, requests, lockIds);
    }
  }

  /**
   * Fresh locks perhaps still held, as releaseTriedLock remembers one: the next claim of
   * each election claims with it ('held'). Never in place of a lock this session holds for
   * the election already (a single claim of it granted meanwhile): its lease keeps it. A
   * fresh lock a row never named that is forgotten so costs a lock table slot, nothing more.
   */
  private rememberTried(
    session: Session,
    requests: readonly AcquireRequest[],
    lockIds: readonly string[],
  ): void {
    requests.forEach((r, i) => {
      if (!session.locks.has(r.election)) {
        session.locks.set(r.election, { lockId: lockIds[i] as string, token: '' });
      }
    });
  }

  /**
   * `read` for many elections in ONE statement (the followers of a sidecar, §3.8): the live
   * rows of `election = ANY($1)`, each answered as `read` answers it.
   */
  private readMany(elections: readonly string[]): Promise<(LeaseRecord | null)[]> {
    return guardedCall(this.guard, 'read', async () => {
      if (elections.length === 0) return [];
      const session = await this.connect();
      const { rows } = await session.statements.query<LiveRow & { election: string }>(
        liveLeasesSql(this.tables.leases),
        [[...elections]],
      );
      const live = new Map(rows.map((row) => [row.election, row]));
      return elections.map((election) => {
        const row = live.get(election);
        return row === undefined ? null : liveRecord(election, row);
      });
    });
  }

  /**
   * `renew` for every lease in one statement. A lease whose lock this session does not
   * hold (the session that took it is gone) is lost without asking, as `renew` answers it.
   */
  private renewMany(leases: readonly Lease[]): Promise<RenewResult[]> {
    return guardedCall(this.guard, 'renew', async () => {
      const session = this.sessions.current;
      const ours = (lease: Lease): boolean =>
        session !== null &&
        session.alive &&
        session.locks.get(lease.election)?.token === lease.token;
      const asked = leases.filter(ours);
      if (session === null || asked.length === 0) return leases.map(() => ({ renewed: false }));
      let renewed: Set<string>;
      try {
        const { rows } = await session.statements.query<{ election: string }>(
          renewManySql(this.tables.leases),
          [asked.map((l) => l.election), asked.map((l) => l.token), asked.map((l) => l.ttlMs)],
        );
        renewed = new Set(rows.map((row) => row.election));
      } catch (error) {
        // As in renew: the session's end came back as this statement's answer.
        if (!session.alive) return leases.map(() => ({ renewed: false }));
        throw error;
      }
      return leases.map((lease) =>
        ours(lease) && renewed.has(lease.election)
          ? { renewed: true, ttlMs: lease.ttlMs }
          : { renewed: false },
      );
    });
  }

  /**
   * One statement: mark the row released, then (once the update holds that row) unlock,
   * and notify the first in line. A follower that claims before this commits waits in its
   * claim for the row and then finds it released; the notification goes out only at the
   * commit, on a channel and with a payload only holders of the key can read (see watch()).
   */
  release(lease: Lease): Promise<void> {
    return guardedCall(this.guard, 'release', async () => {
      const session = this.sessions.current;
      if (session === null || !session.alive) return;
      const key = await this.sessions.wakeUpKey(session);
      const held = session.locks.get(lease.election);
      const holdsLock = held !== undefined && held.token === lease.token;
      const params = [
        key.channel,
        lease.election,
        lease.holder,
        lease.token,
        wakeUpTag(key, 'election', lease.election),
      ];
      try {
        await session.statements.query(
          releaseSql(this.tables, holdsLock),
          holdsLock ? [...params, held.lockId] : params,
        );
      } catch (error) {
        // The session ended (idle a whole TTL, see above, or terminated): its lock went with
        // it, so the lease is anyone's to claim. Releasing a lease that is gone is not an
        // error (the contract); anything else still is.
        if (!endsSession(error)) throw error;
      }
      if (holdsLock) session.locks.delete(lease.election);
    });
  }

  read(election: string): Promise<LeaseRecord | null> {
    return guardedCall(this.guard, 'read', async () => {
      const session = await this.connect();
      return this.selectLive(session, election);
    });
  }

  /** Transfers (LeaseStore.transfer, docs/design.md §3.6). */
  readonly transfer: TransferStore = {
    handOver: (lease, successor, reservationMs) => this.handOver(lease, successor, reservationMs),
    reservation: (election) =>
      guardedCall(this.guard, 'read', async () =>
        this.selectReservation(await this.connect(), election),
      ),
  };

  /**
   * One statement, as release(): where this token still holds a live row, mark it released
   * (cleanly: the successor need not wait) and reserve it for `successor` until now() +
   * reservationMs by the database clock; then unlock and wake the successor. A session that
   * died lost its lock with it (see renew): no hand-over then, the row is not ours to give.
   */
  private handOver(lease: Lease, successor: string, reservationMs: number): Promise<boolean> {
    return guardedCall(this.guard, 'release', async () => {
      const session = this.sessions.current;
      const held = session?.locks.get(lease.election);
      if (session === null || !session.alive || held?.token !== lease.token) return false;
      const key = await this.sessions.wakeUpKey(session);
      const { rows } = await session.statements.query<{ handed: boolean }>(
        handOverSql(this.tables.leases),
        [
          key.channel,
          lease.election,
          successor,
          reservationMs,
          lease.token,
          held.lockId,
          // Only the successor (or the holder that handed over) may claim: wake it alone.
          `${wakeUpTag(key, 'election', lease.election)}\n${wakeUpTag(key, 'candidate', lease.election, successor)}`,
        ],
      );
      session.locks.delete(lease.election);
      return rows[0]?.handed === true;
    });
  }

  /** Member records (LeaseStore.members, members.ts), on this store's session. */
  readonly members: MemberRows = new MemberRows(
    () => this.tables.members,
    (work) =>
      guardedCall(this.guard, 'member', async () => work((await this.connect()).statements)),
  );

  /**
   * NOTIFY on release; one LISTEN connection per store serves every watched election. The
   * channel's name and the payload are keyed digests (see WakeUpKey): the election's tag,
   * then the tags of the first in line (one per line): only those watchers wake, the others
   * try at their poll. Without tags after the election's, everyone wakes.
   */
  watch(
    election: string,
    onChange: () => void,
    signal: AbortSignal,
    candidate?: string,
  ): Promise<void> {
    return this.wakeUps.watch(election, onChange, signal, candidate);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const listener = this.wakeUps.detach();
    const clients = [this.sessions.detach(), listener].filter(
      (c): c is pg.Client => c !== undefined,
    );
    // end() waits for the server to answer Terminate; on a stalled server it never does.
    await Promise.all(clients.map((client) => waitAtMost(client.end(), CLOSE_WAIT_MS)));
  }

  // ---------------------------------------------------------------- acquisition

  /** Claim the row in ONE statement (queries.ts's claimSql). Null when it was not free. */
  private async claim(
    session: Session,
    request: AcquireRequest,
    mode: 'try' | 'held',
    lockKey: string,
  ): Promise<Lease | null> {
    const { rows } = await session.statements.query<{
      locked: boolean;
      term: string | null;
      token: string | null;
      wait_ms: number | null;
    }>(claimSql(this.tables.leases, mode), [
      request.election,
      request.holder,
      request.token,
      JSON.stringify(request.metadata ?? {}),
      request.ttlMs,
      lockKey,
    ]);
    const row = rows[0];
    if (row === undefined) {
      throw new StoreProtocolError(
        `postgres acquire: the claim of "${request.election}" returned no row`,
      );
    }
    if (!row.locked && mode === 'try') throw this.lockNotTaken(request.election, lockKey);
    if (row.term === null) return null;
    return claimedLease(request, row);
  }

  /** Nobody can know a fresh random id in advance: loud, never a silent "no leader". */
  private lockNotTaken(election: string, lockKey: string): StoreUnavailableError {
    return new StoreUnavailableError(
      `postgres acquire at ${this.options.where}: another session holds the advisory lock this claim of "${election}" drew at random (${lockKey}); another database role may be taking advisory locks to stall elections (see pg_locks)`,
    );
  }

  /**
   * A claim did not take the row, or failed: whether it holds the lock is unknown, so unlock
   * (false when it was not ours). If even that fails, remember the lock as perhaps held: the
   * next claim checks pg_locks rather than taking another one.
   */
  private async releaseTriedLock(
    session: Session,
    election: string,
    lockKey: string,
  ): Promise<void> {
    try {
      await session.statements.query(UNLOCK_SQL, [lockKey]);
      session.locks.delete(election);
    } catch {
      session.locks.set(election, { lockId: lockKey, token: '' });
    }
  }

  /** Who holds the election; when nobody does, the transfer's reservation that kept us out. */
  private async refused(session: Session, election: string): Promise<AcquireResult> {
    const current = await this.selectLive(session, election);
    if (current !== null) return refusal(current, null);
    return refusal(null, await this.selectReservation(session, election));
  }

  private async selectReservation(session: Session, election: string): Promise<Reservation | null> {
    const { rows } = await session.statements.query<{
      successor: string;
      from: string;
      remaining_ms: number;
    }>(reservationSql(this.tables.leases), [election]);
    const row = rows[0];
    return row === undefined
      ? null
      : { successor: row.successor, from: row.from, remainingMs: Number(row.remaining_ms) };
  }

  private async liveHolder(session: Session, election: string): Promise<boolean> {
    return (await this.selectLive(session, election)) !== null;
  }

  private async selectLive(session: Session, election: string): Promise<LeaseRecord | null> {
    const { rows } = await session.statements.query<LiveRow>(liveLeaseSql(this.tables.leases), [
      election,
    ]);
    const row = rows[0];
    return row === undefined ? null : liveRecord(election, row);
  }

  // ---------------------------------------------------------------- the session

  private async connect(): Promise<Session> {
    if (this.closed) throw new StoreClosedError(this.backend);
    return this.sessions.connect();
  }
}

/** A live lease row's columns as `read` selects them (liveLeaseSql, liveLeasesSql). */
interface LiveRow {
  holder: string;
  term: string;
  metadata: LeaseMetadata | null;
  remaining_ms: number;
}

/** The lease the claim statement (claimSql) took: its row's term and wait. */
function claimedLease(
  request: AcquireRequest,
  row: { term: string | null; token: string | null; wait_ms: number | null },
): Lease {
  if (row.token !== request.token) {
    throw new StoreProtocolError(
      `postgres acquire: the claim of "${request.election}" did not write our lease row`,
    );
  }
  return {
    election: request.election,
    holder: request.holder,
    token: request.token,
    term: Number(row.term),
    ttlMs: request.ttlMs,
    // The row was claimable before its lease ran out: the last holder neither released
    // nor ran out, but its session broke (crash, freeze, pg_terminate_backend, restart)
    // while it may still believe it leads; its own deadline ends before this expiry. Or the
    // row was written on another WAL timeline: the server was promoted (a failover) or
    // restored since, and may have missed the last writes; any holder it forgot ends its
    // lease within one TTL.
    notBeforeMs: Math.max(0, Number(row.wait_ms)),
  };
}

/**
 * How many claims one claimManySql statement carries. Each takes a fresh advisory lock
 * first, a slot of the server's shared lock table (max_locks_per_transaction ×
 * (max_connections + max_prepared_transactions), 6,400 by default, for every session and
 * every kind of lock), held by those it claims; and the statement holds each row's lock
 * until it commits, so a live holder's renewal of that row waits for it (docs/design.md
 * §3.8 has the measurements and the lock table's budget per sidecar).
 */
const MAX_CLAIMS = 1_000;

/** claimManySql's row of one claim. */
interface ClaimManyRow {
  election: string;
  locked: boolean;
  term: string | null;
  token: string | null;
  wait_ms: number | null;
}

/** refusedManySql's row of one refused claim (election null: none was asked). */
interface RefusedRow {
  election: string | null;
  holder: string | null;
  term: string | null;
  metadata: LeaseMetadata | null;
  remaining_ms: number | null;
  successor: string | null;
  from: string | null;
  reserved_ms: number | null;
}

/** A refused claim's answer, from the live lease or, when none, the reservation. */
function refusal(current: LeaseRecord | null, reserved: Reservation | null): AcquireResult {
  if (current !== null) return { acquired: false, current, retryAfterMs: current.remainingMs };
  return reserved === null
    ? { acquired: false, current: null, retryAfterMs: null }
    : {
        acquired: false,
        current: null,
        retryAfterMs: reserved.remainingMs,
        reservedFor: reserved.successor,
      };
}

/** refusal() from refusedManySql's row, its columns read as refused()'s statements read them. */
function refusedByRow(election: string, row: Omit<RefusedRow, 'election'>): AcquireResult {
  const { holder, term, metadata, remaining_ms: remainingMs } = row;
  const current =
    holder === null
      ? null
      : liveRecord(election, {
          holder,
          term: term ?? '0',
          metadata,
          remaining_ms: Number(remainingMs),
        });
  const reserved =
    row.successor === null
      ? null
      : { successor: row.successor, from: row.from ?? '', remainingMs: Number(row.reserved_ms) };
  return refusal(current, reserved);
}

/** beatSql's one row, its JSON parsed by the driver. */
interface BeatRow {
  renewed: string[];
  members: { election: string; record: MemberRecord }[];
  reads: (LiveRow & { election: string })[];
}

function liveRecord(election: string, row: LiveRow): LeaseRecord {
  return {
    election,
    holder: row.holder,
    term: Number(row.term),
    metadata: row.metadata ?? {},
    remainingMs: Number(row.remaining_ms),
  };
}
