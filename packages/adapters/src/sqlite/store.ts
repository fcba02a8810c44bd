import {
  type AcquireRequest,
  type AcquireResult,
  type BatchStore,
  type Lease,
  type LeaseRecord,
  type LeaseStore,
  type RenewResult,
  type Reservation,
  type TransferStore,
} from '@leasehold/core';
import Database from 'better-sqlite3';
import { hostNow, readBootId } from './boot-id.js';
import { CommitWatch } from './commit-watch.js';
import { guardedCall, type CallGuard } from '../guarded-call.js';
import { quoteIdentifier } from '../sql-identifier.js';
import { translateError } from './errors.js';
import { MemberRows } from './members.js';
import {
  addColumnSql,
  claimSql,
  createTablesSql,
  handOverSql,
  type LeaseRow,
  releaseSql,
  renewSql,
  RESERVATION_COLUMNS,
  selectLeaseSql,
  selectLeasesSql,
  tableInfoSql,
} from './queries.js';

/**
 * The single-host store: candidates on one machine share a SQLite file in WAL mode.
 *
 * Expiry runs on the host's CLOCK_MONOTONIC (`process.hrtime`), which every process on the
 * host shares and which wall-clock steps (NTP, a manual `date`) cannot move. A lease row
 * also records the boot it was written in: after a reboot the monotonic clock restarts
 * from zero, but every holder of the old boot is dead, so its leases count as expired.
 * It also records its TTL: a row with more time left than its TTL was written before the
 * clock restarted, which recognises an earlier boot where the host has no boot id.
 */

export interface SqliteStoreOptions {
  readonly path: string;
  /** Table name prefix; a SQL identifier. */
  readonly namespace: string;
  /** How long a write waits for another process's transaction. Blocks the event loop. */
  readonly busyTimeoutMs: number;
  /**
   * How often watchers check the file for another process's commit when the OS did not say
   * it changed (a missed or unsupported file notification).
   */
  readonly watchIntervalMs: number;
  /** This boot of the host (boot-id.ts); the same in every process on the host. */
  readonly bootId?: string;
}

let systemBootId: string | undefined;

export class SqliteStore implements LeaseStore {
  readonly backend = 'sqlite';
  private readonly db: Database.Database;
  private readonly leases: string;
  private readonly membersTable: string;
  private closed = false;
  /** Every store call goes through it (../guarded-call.ts); better-sqlite3 is synchronous. */
  private readonly guard: CallGuard = {
    backend: 'sqlite',
    isClosed: () => this.closed,
    failed: (error, op) => translateError(error, op, this.options),
  };
  /** Other processes' commits, as wake-ups of watchers (commit-watch.ts). */
  private readonly commits: CommitWatch;
  private readonly bootId: string;

  constructor(private readonly options: SqliteStoreOptions) {
    this.bootId = options.bootId ?? (systemBootId ??= readBootId());
    this.leases = quoteIdentifier(`${options.namespace}_leases`);
    this.membersTable = quoteIdentifier(`${options.namespace}_members`);
    this.db = startUp(options.path, () => {
      const db = new Database(options.path, { timeout: options.busyTimeoutMs });
      db.pragma('journal_mode = WAL');
      // FULL: a term written before a power cut must survive it, or a fencing token repeats.
      db.pragma('synchronous = FULL');
      return db;
    });
    startUp(options.path, () => this.db.exec(createTablesSql(this.leases, this.membersTable)));
    startUp(options.path, () => {
      this.addColumn(this.leases, 'ttl_ms INTEGER');
      this.addColumn(this.membersTable, 'ttl_ms INTEGER');
      for (const column of RESERVATION_COLUMNS) this.addColumn(this.leases, column);
    });
    this.commits = new CommitWatch({
      path: options.path,
      intervalMs: options.watchIntervalMs,
      dataVersion: () => this.db.pragma('data_version', { simple: true }) as number,
      leaseVersion: (election) => this.leaseVersion(election),
    });
  }

  tryAcquire(request: AcquireRequest): Promise<AcquireResult> {
    return guardedCall(this.guard, 'acquire', () =>
      this.db
        .transaction(() => this.acquireOne(request, hostNow()))
        // IMMEDIATE takes the write lock up front, so two candidates cannot both read "free".
        .immediate(),
    );
  }

  /**
   * One claim, judged and written in the caller's IMMEDIATE transaction at `now`, with
   * `statements` (claimMany prepares them once for all its claims).
   */
  private acquireOne(
    request: AcquireRequest,
    now: number,
    statements = this.claimStatements(),
  ): AcquireResult {
    const row = statements.select.get(request.election) as LeaseRow | undefined;
    const refused = row === undefined ? null : this.refusal(row, request.holder, now);
    return refused ?? this.claim(request, (row?.term ?? 0) + 1, now, statements.claim);
  }

  /** The statements a claim runs: its lease row's SELECT and the claim's upsert. */
  private claimStatements(): { select: Database.Statement; claim: Database.Statement } {
    return {
      select: this.db.prepare(selectLeaseSql(this.leases)),
      claim: this.db.prepare(claimSql(this.leases)),
    };
  }

  /**
   * Why `holder` may not claim now: a live lease, or a transfer's reservation for someone
   * else (checked in the claim's transaction, so nobody slips in between). Null: it may.
   */
  private refusal(row: LeaseRow, holder: string, now: number): AcquireResult | null {
    if (isLive(row, now, this.bootId)) {
      return {
        acquired: false,
        current: toRecord(row.election, row, now),
        retryAfterMs: row.expires_at - now,
      };
    }
    const reserved = liveReservation(row, now, this.bootId);
    if (reserved === null || reserved.successor === holder || reserved.from === holder) {
      return null;
    }
    return {
      acquired: false,
      current: null,
      retryAfterMs: reserved.remainingMs,
      reservedFor: reserved.successor,
    };
  }

  /** Write the lease (an ordinary claim: it consumes any reservation). */
  private claim(
    request: AcquireRequest,
    term: number,
    now: number,
    statement: Database.Statement,
  ): AcquireResult {
    statement.run(
      request.election,
      request.holder,
      request.token,
      term,
      JSON.stringify(request.metadata ?? {}),
      now + request.ttlMs,
      this.bootId,
      request.ttlMs,
    );
    const { election, holder, token, ttlMs } = request;
    // The file and the clock are the host's: a lock is free only once its lease expired or
    // was released, never because the store forgot it.
    return { acquired: true, lease: { election, holder, token, term, ttlMs, notBeforeMs: 0 } };
  }

  renew(lease: Lease): Promise<RenewResult> {
    return guardedCall(this.guard, 'renew', () => {
      const now = hostNow();
      const { changes } = this.db
        .prepare(renewSql(this.leases))
        .run(now + lease.ttlMs, lease.ttlMs, lease.election, lease.token, now, this.bootId);
      return changes === 1 ? { renewed: true, ttlMs: lease.ttlMs } : { renewed: false };
    });
  }

  /**
   * Many renewals in ONE transaction (LeaseStore.batch, docs/design.md §3.8): one write
   * lock and one commit (one fsync) for all, each lease renewed as renew() renews it.
   */
  readonly batch: BatchStore = {
    renewMany: (leases) =>
      guardedCall(this.guard, 'renew', () =>
        this.db.transaction(() => this.renewEach(leases)).immediate(),
      ),
    putMembers: (puts) => this.members.putMany(puts),
    // The followers of a sidecar (§3.8): ONE SELECT, so one read transaction, for all.
    readMany: (elections) => guardedCall(this.guard, 'read', () => this.readEach(elections)),
    // A tick of the shared heartbeat (§3.8): the three above in ONE transaction, one write
    // lock and one commit. The reads' elections go as one JSON parameter and the others one
    // statement per row, so SQLite's 32,766 variables bound nothing; the bound is how long
    // the write lock is held (a tick of 1,000 elections: a few ms).
    beat: ({ renewals, puts, reads }) =>
      guardedCall(this.guard, 'renew', () =>
        this.db
          .transaction(() => ({
            renewals: this.renewEach(renewals),
            members: this.members.putEach(puts),
            reads: this.readEach(reads),
          }))
          .immediate(),
      ),
    // Claims of many elections (§3.8, "Claims in batches"): ONE IMMEDIATE transaction, one
    // write lock and one commit, each claim judged and written exactly as tryAcquire's own
    // transaction does it, in the order given. The write lock is held while they run (1,000
    // claims: a few ms), so the bound is the beat's.
    claimMany: (requests) =>
      guardedCall(this.guard, 'acquire', () =>
        this.db
          .transaction(() => {
            const now = hostNow();
            const statements = this.claimStatements();
            return requests.map((request) => this.acquireOne(request, now, statements));
          })
          .immediate(),
      ),
    maxClaims: 1_000,
    maxReads: 1_000,
    maxBeat: 10_000,
  };

  /** renewMany's work, each lease as renew() renews it, in the caller's transaction. */
  private renewEach(leases: readonly Lease[]): RenewResult[] {
    const now = hostNow();
    const renew = this.db.prepare(renewSql(this.leases));
    return leases.map((lease): RenewResult => {
      const { election, token, ttlMs } = lease;
      const { changes } = renew.run(now + ttlMs, ttlMs, election, token, now, this.bootId);
      return changes === 1 ? { renewed: true, ttlMs } : { renewed: false };
    });
  }

  /** readMany's work: ONE SELECT for every election, each answered as read() answers it. */
  private readEach(elections: readonly string[]): (LeaseRecord | null)[] {
    if (elections.length === 0) return [];
    const now = hostNow();
    const rows = this.db
      .prepare(selectLeasesSql(this.leases))
      .all(JSON.stringify(elections)) as LeaseRow[];
    const byElection = new Map(rows.map((row) => [row.election, row]));
    return elections.map((election) => {
      const row = byElection.get(election);
      return row !== undefined && isLive(row, now, this.bootId)
        ? toRecord(election, row, now)
        : null;
    });
  }

  release(lease: Lease): Promise<void> {
    return guardedCall(this.guard, 'release', () => {
      this.db.prepare(releaseSql(this.leases)).run(lease.election, lease.token);
    });
  }

  /** Transfers (LeaseStore.transfer), on the lease row. */
  readonly transfer: TransferStore = {
    handOver: (lease, successor, reservationMs) => this.handOver(lease, successor, reservationMs),
    reservation: (election) => this.reservation(election),
  };

  /**
   * One statement, so one transaction: if the token still holds a live lease, release it
   * as release() does (a clean release) and reserve the election for `successor` until
   * `reservationMs` from now on the host's monotonic clock. SQLite wakes every watcher of
   * the election (the row changed), the successor among them.
   */
  private handOver(lease: Lease, successor: string, reservationMs: number): Promise<boolean> {
    return guardedCall(this.guard, 'release', () => {
      const now = hostNow();
      const ms = Math.max(1, Math.ceil(reservationMs));
      const { changes } = this.db
        .prepare(handOverSql(this.leases))
        .run(
          successor,
          lease.holder,
          now + ms,
          ms,
          this.bootId,
          lease.election,
          lease.token,
          now,
          this.bootId,
        );
      return changes === 1;
    });
  }

  private reservation(election: string): Promise<Reservation | null> {
    return guardedCall(this.guard, 'read', () => {
      const row = this.selectLease(election);
      return row === undefined ? null : liveReservation(row, hostNow(), this.bootId);
    });
  }

  read(election: string): Promise<LeaseRecord | null> {
    return guardedCall(this.guard, 'read', () => {
      const now = hostNow();
      const row = this.selectLease(election);
      return row !== undefined && isLive(row, now, this.bootId)
        ? toRecord(election, row, now)
        : null;
    });
  }

  /** Member records (LeaseStore.members, members.ts), through this store's call guard. */
  readonly members: MemberRows = new MemberRows(
    () => ({ db: this.db, table: this.membersTable, bootId: this.bootId }),
    (work) => guardedCall(this.guard, 'member', work),
  );

  /** Wakes `onChange` when another process changes the election's lease (commit-watch.ts). */
  watch(election: string, onChange: () => void, signal: AbortSignal): Promise<void> {
    if (!this.closed) this.commits.add(election, onChange, signal);
    return Promise.resolve();
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.commits.close();
      this.db.close();
    }
    return Promise.resolve();
  }

  private selectLease(election: string): LeaseRow | undefined {
    return this.db.prepare(selectLeaseSql(this.leases)).get(election) as LeaseRow | undefined;
  }

  /** Tables created by an older version lack a column: add it (another process may race). */
  private addColumn(table: string, column: string): void {
    const name = column.split(' ')[0] ?? '';
    const columns = this.db.prepare(tableInfoSql(table)).all() as { name: string }[];
    if (columns.some((c) => c.name === name)) return;
    try {
      this.db.exec(addColumnSql(table, column));
    } catch (error) {
      if (!/duplicate column/i.test(String(error))) throw error;
    }
  }

  private leaseVersion(election: string): string {
    try {
      const row = this.selectLease(election);
      return row === undefined ? '' : `${row.term}:${row.token ?? ''}`;
    } catch {
      return '';
    }
  }
}

/**
 * Live: not released, written in this boot, not expired, and not with more time left than
 * its TTL, which only a row from before the monotonic clock restarted (an earlier boot) can
 * have: that recognises an earlier boot where the host offers no boot id.
 */
function isLive(row: LeaseRow, now: number, bootId: string): boolean {
  const remaining = row.expires_at - now;
  return (
    row.token !== null &&
    row.boot === bootId &&
    remaining > 0 &&
    (row.ttl_ms === null || remaining <= row.ttl_ms)
  );
}

/**
 * The row's reservation while it holds: written in this boot, not lapsed, and with no more
 * time left than it was given (as isLive, against a clock that restarted). Null otherwise.
 */
function liveReservation(row: LeaseRow, now: number, bootId: string): Reservation | null {
  const { reserved_for: successor, reserved_from: from, reserved_until: until } = row;
  if (successor === null || from === null || until === null) return null;
  const remainingMs = until - now;
  const live =
    row.reserved_boot === bootId &&
    remainingMs > 0 &&
    (row.reserved_ms === null || remainingMs <= row.reserved_ms);
  return live ? { successor, from, remainingMs } : null;
}

function toRecord(election: string, row: LeaseRow, now: number): LeaseRecord {
  return {
    election,
    holder: row.holder ?? '',
    term: row.term,
    metadata: JSON.parse(row.metadata) as Record<string, string>,
    remainingMs: row.expires_at - now,
  };
}

/** Start-up work (opening the file, its tables), synchronous, its failure translated. */
function startUp<T>(path: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw translateError(error, 'connect', { path });
  }
}
