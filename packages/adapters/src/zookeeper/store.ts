import {
  levelsAbove,
  LeaseholdConfigError,
  StoreUnavailableError,
  type AcquireRequest,
  type AcquireResult,
  type BatchStore,
  type Lease,
  type LeaseMetadata,
  type LeaseRecord,
  type LeaseStore,
  type MemberRecord,
  type MemberStore,
  type RenewResult,
  type Reservation,
  type TransferStore,
} from '@leasehold/core';
import { diagnoseFirstConnection, type Endpoint } from '../first-connection.js';
import zookeeper from 'node-zookeeper-client';
import { hasCode, translateError, ZooKeeperCode, type ErrorContext } from './errors.js';
import { guardedCall, type CallGuard } from '../guarded-call.js';
import { MemberRecords } from './members.js';
import {
  candidatesInOrder,
  decodeHolder,
  encodeHolder,
  newCandidateGuid,
  zxidNumber,
  ZnodePaths,
  type CandidateName,
} from './records.js';
import { ZooKeeperSession } from './session.js';
import { Transfers, type ReadReservation } from './transfers.js';
import { Turns } from './turns.js';
import type { ZooKeeperConfig } from './url.js';
import { WatchHub } from './watch-hub.js';
import { Znodes } from './znodes.js';
import { zooKeeperBatch } from './batch.js';
import { LeaderBarrier } from './barrier.js';

/** How often one acquire looks again when a reservation ahead went meanwhile. */
const RESERVATION_LOOKS = 3;
/** How long start-up waits for a first connection before carrying on without one. */
const CONNECT_WAIT_MS = 5_000;
/**
 * How long member heartbeats wait for a leader-ordered request to ride on (barrier.ts): the
 * renewals of the same tick go out within the shared heartbeat's gathering window (5 ms).
 */
const BARRIER_GATHER_MS = 10;
/** A queued candidacy that no acquire has asked about for this many session timeouts goes. */
const IDLE_TIMEOUTS = 2;

/** One candidate's place in one election's queue: its ephemeral sequential znode. */
interface Candidacy {
  readonly key: string;
  readonly election: string;
  readonly holder: string;
  readonly guid: string;
  /** The session it belongs to; its znode ends with that session. */
  readonly epoch: number;
  readonly metadata: LeaseMetadata;
  /** Whether a create was sent: its znode may exist even if the answer never came. */
  joined: boolean;
  /** The znode, once created (or found among the children after a lost answer). */
  path: string | null;
  /** The znode's czxid: the term it leads under. */
  term: number | null;
  /** The token of the lease granted on this znode. A znode leads once: one term, one lease. */
  grantedToken: string | null;
  /** Withdraws the candidacy: an unrenewed lease's TTL, or a queued one nobody asks about. */
  timer: NodeJS.Timeout | null;
}

interface ZooKeeperLeaseHandle {
  readonly path: string;
  readonly epoch: number;
}

/**
 * ZooKeeper's leader-election recipe behind the lease contract. Each candidate has one
 * ephemeral sequential znode under `<base>/elections/<election>/`; the lowest sequence leads;
 * each candidate watches only its predecessor. `tryAcquire` keeps the candidate's znode from
 * call to call (its place in the queue) and answers acquired once it is first. The term is
 * that znode's czxid: zxids only grow, across restarts too, as long as ZooKeeper keeps its
 * data directory. `renew` proves with one round trip through the ensemble's leader that the
 * znode (so the session) is still there and answers the session timeout as the TTL: the
 * leader expires the session no sooner than a timeout after it last heard from us, which is
 * after the renew was sent, so the elector's deadline (from the send) ends first.
 *
 * Where the contract expects what sessions do not do, the adapter does it: a lease that is
 * not renewed within its TTL ends (the conformance suite's expiry cases) although the
 * session would keep the znode alive, so the holder deletes its own znode when its TTL runs
 * out without a renew. A frozen or dead holder cannot, and then ZooKeeper's session expiry
 * deletes it: later than the holder's deadline in both cases.
 */
export class ZooKeeperStore implements LeaseStore {
  readonly backend = 'zookeeper';
  private closed = false;
  private readonly session: ZooKeeperSession;
  private readonly znodes: Znodes;
  private readonly paths: ZnodePaths;
  private readonly memberRecords: MemberRecords;
  /** Member lists wait for it (barrier.ts); it rides on the renewals' multi. */
  private readonly barrier: LeaderBarrier;
  private readonly watches: WatchHub;
  private readonly transfers: Transfers;
  private readonly candidacies = new Map<string, Candidacy>();
  /** A candidate's acquires, releases and hand-overs, one at a time (turns.ts). */
  private readonly turns = new Turns();
  /** Candidacies whose znodes a failed delete left behind: guid → election. */
  private readonly leftovers = new Map<string, string>();
  private readonly context: ErrorContext;
  /** Every store call goes through it (../guarded-call.ts). */
  private readonly guard: CallGuard = {
    backend: 'zookeeper',
    isClosed: () => this.closed,
    failed: (error, op) => translateError(error, op, this.context),
  };
  private fitting: Promise<void> = Promise.resolve();

  constructor(
    private readonly config: ZooKeeperConfig,
    /** Whether the caller named the TTL (then a shorter granted timeout fails start-up). */
    private readonly ttlGiven: boolean,
  ) {
    this.paths = new ZnodePaths(`${config.chroot}/${config.namespace}`);
    this.context = {
      hosts: config.connectionString,
      username: config.auth?.username ?? null,
      base: this.paths.base,
    };
    this.session = new ZooKeeperSession(config, config.connectionString);
    this.znodes = new Znodes(this.session, config.auth !== null);
    this.barrier = new LeaderBarrier(
      () => this.znodes.checkOnLeader(this.paths.membersRoot),
      BARRIER_GATHER_MS,
    );
    this.memberRecords = new MemberRecords(this.znodes, this.paths, this.barrier);
    this.transfers = new Transfers(this.znodes, this.paths);
    this.watches = new WatchHub(this.znodes, this.paths, (election) => this.ownGuids(election));
    this.session.on('session', () => this.onNewSession());
    this.session.on('connected', () => this.onConnected());
  }

  /**
   * At start-up: credentials ZooKeeper refuses (a wrong password meets the creator-only ACL
   * of znodes made with the right one) and a TTL longer than the session timeout ZooKeeper
   * grants fail `createStore` with a fatal error. An unreachable ZooKeeper does not.
   */
  async start(): Promise<void> {
    this.session.start();
    const waitMs = Math.min(CONNECT_WAIT_MS, Math.max(1_000, this.config.sessionTimeoutMs));
    if (!(await this.session.waitConnected(waitMs))) {
      // Not merely down if DNS does not know a host or something else answers there.
      const hopeless = await diagnoseFirstConnection('zookeeper', this.endpoints());
      if (hopeless !== null) throw hopeless;
      return;
    }
    try {
      await this.znodes.ensurePath(this.paths.electionsRoot);
      await this.znodes.ensurePath(this.paths.membersRoot);
      await this.znodes.children(this.paths.base);
    } catch (error) {
      const translated = translateError(error, 'connect', this.context);
      if (!translated.transient) throw translated;
    }
    if (this.ttlGiven) this.requireTimeout(this.config.sessionTimeoutMs);
  }

  private endpoints(): Endpoint[] {
    return this.config.connectionString.split(',').map((hostPort) => {
      const colon = hostPort.lastIndexOf(':');
      return { host: hostPort.slice(0, colon), port: Number(hostPort.slice(colon + 1)) };
    });
  }

  tryAcquire(request: AcquireRequest): Promise<AcquireResult> {
    const key = candidacyKey(request.election, request.holder);
    return guardedCall(this.guard, 'acquire', () =>
      this.turns.run(key, () => this.acquire(request)),
    );
  }

  private async acquire(request: AcquireRequest): Promise<AcquireResult> {
    await this.fitSession(request.ttlMs);
    for (let look = 1; ; look += 1) {
      const candidacy = await this.candidacyFor(request);
      const queue = await this.queueWith(candidacy);
      this.watches.follow(request.election, queue);
      const head = queue[0];
      if (head?.reserved === true && look <= RESERVATION_LOOKS) {
        const answer = await this.behindReservation(candidacy, request, head);
        if (answer !== null) return answer;
        continue; // the reservation went meanwhile (claimed, or removed as lapsed)
      }
      if (head?.guid === candidacy.guid) {
        if (!(await this.belowFloor(candidacy))) return this.grant(candidacy, request);
        // Queued before a claimed reservation: its term would be a step back. Queue again.
        await this.withdraw(candidacy);
        if (look <= RESERVATION_LOOKS) continue;
      }
      this.withdrawAfter(candidacy, IDLE_TIMEOUTS * this.session.timeoutMs);
      const current =
        head === undefined || head.reserved ? null : await this.describe(request.election, head);
      return { acquired: false, current, retryAfterMs: null };
    }
  }

  /**
   * A reservation is first in line (transfers.ts): the successor or the holder that handed
   * over claims its place; anyone else is refused until it lapses, and whoever finds it
   * lapsed removes it. null: it went meanwhile, look again.
   */
  private async behindReservation(
    candidacy: Candidacy,
    request: AcquireRequest,
    head: CandidateName,
  ): Promise<AcquireResult | null> {
    const reservation = await this.transfers.read(request.election, head);
    if (reservation === null) return null;
    if (reservation.remainingMs <= 0) {
      await this.transfers.removeLapsed(reservation);
      return null;
    }
    if (request.holder !== reservation.successor && request.holder !== reservation.from) {
      this.withdrawAfter(candidacy, IDLE_TIMEOUTS * this.session.timeoutMs);
      const { successor: reservedFor, remainingMs: retryAfterMs } = reservation;
      return { acquired: false, current: null, retryAfterMs, reservedFor };
    }
    return this.claimReservation(candidacy, request, reservation);
  }

  private async claimReservation(
    candidacy: Candidacy,
    request: AcquireRequest,
    reservation: ReadReservation,
  ): Promise<AcquireResult | null> {
    const data = encodeHolder(candidacy.holder, request.metadata ?? {});
    this.requireCurrent(candidacy);
    const path = await this.transfers.claim(reservation, request.election, {
      guid: candidacy.guid,
      data,
      queuedPath: candidacy.path,
    });
    if (path === null) return null;
    await this.disownIfStale(candidacy, path);
    candidacy.path = path;
    candidacy.term = null;
    return this.grant(candidacy, request);
  }

  renew(lease: Lease): Promise<RenewResult> {
    return guardedCall(this.guard, 'renew', async () => {
      const candidacy = this.holding(lease);
      if (candidacy === null || candidacy.path === null) return { renewed: false };
      const ttlMs = this.session.timeoutMs;
      let held: boolean;
      try {
        held = await this.znodes.checkOnLeader(candidacy.path);
      } catch (error) {
        // The session ended, and the znode with it.
        if (!hasCode(error, ZooKeeperCode.SESSION_EXPIRED)) throw error;
        held = false;
      }
      if (!held || this.holding(lease) !== candidacy) {
        this.forget(candidacy);
        return { renewed: false };
      }
      this.withdrawAfter(candidacy, ttlMs);
      return { renewed: true, ttlMs };
    });
  }

  /** Many renewals: one check-only multi for all (batch.ts). */
  readonly batch: BatchStore = zooKeeperBatch({
    held: (lease) => {
      const candidacy = this.holding(lease);
      if (candidacy === null || candidacy.path === null) return null;
      const confirm = (): RenewResult => {
        if (this.holding(lease) !== candidacy) {
          this.forget(candidacy);
          return { renewed: false };
        }
        const ttlMs = this.session.timeoutMs;
        this.withdrawAfter(candidacy, ttlMs);
        return { renewed: true, ttlMs };
      };
      return { path: candidacy.path, confirm };
    },
    checkAll: (paths) =>
      guardedCall(this.guard, 'renew', () =>
        this.barrier
          .ride(() => this.znodes.checkAllOnLeader(paths))
          .catch((error: unknown) => {
            // The session ended, and every znode with it: each lease is asked alone.
            if (hasCode(error, ZooKeeperCode.SESSION_EXPIRED)) return false;
            throw error;
          }),
      ),
    renew: (lease) => this.renew(lease),
    putMembers: (puts) => guardedCall(this.guard, 'member', () => this.memberRecords.putMany(puts)),
  });

  release(lease: Lease): Promise<void> {
    return guardedCall(this.guard, 'release', () =>
      this.turns.run(candidacyKey(lease.election, lease.holder), async () => {
        const candidacy = this.holding(lease);
        if (candidacy !== null) await this.withdraw(candidacy);
      }),
    );
  }

  read(election: string): Promise<LeaseRecord | null> {
    return guardedCall(this.guard, 'read', async () => {
      await this.leaveIfOutranked(election);
      // The leader may leave between the listing and the read of its znode: look again.
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const queue = await this.listQueue(election);
        this.watches.follow(election, queue);
        const head = queue[0];
        // Our own candidate first in line but not granted yet: nobody leads until it asks.
        // A reservation first in line: a transfer under way, nobody leads.
        if (head === undefined || head.reserved || this.isOwnUngranted(election, head)) {
          return null;
        }
        const record = await this.describe(election, head);
        if (record !== null) return record;
      }
      return null;
    });
  }

  /**
   * The predecessor's departure wakes a queued candidate (watch-hub.ts); a hand-over naming
   * `candidate` wakes it too, wherever it is in the queue (transfers.ts).
   */
  async watch(
    election: string,
    onChange: () => void,
    signal: AbortSignal,
    candidate?: string,
  ): Promise<void> {
    if (this.closed) return;
    await Promise.all([
      this.watches.watch(election, onChange, signal),
      candidate === undefined
        ? undefined
        : this.transfers.watchWake(election, candidate, onChange, signal),
    ]);
  }

  /**
   * Whether the queue's watch stands in for this follower's polls (LeaseStore.watching,
   * docs/design.md §3.8): its candidate is queued, not first, and the watch is set on the
   * znode just ahead of it, whose departure is the one change that moves it up; a hand-over
   * naming it wakes it through its wake watch, set too. The elector still claims once a TTL,
   * which also keeps the candidacy from its IDLE_TIMEOUTS withdrawal.
   */
  watching(election: string, candidate: string): boolean {
    if (this.closed || !this.session.connected) return false;
    const candidacy = this.candidacies.get(candidacyKey(election, candidate));
    return (
      candidacy !== undefined &&
      candidacy.grantedToken === null &&
      candidacy.epoch === this.session.epoch &&
      this.watches.watchingBehind(election, candidacy.guid) &&
      this.transfers.wakeWatched(election, candidate)
    );
  }

  /** Transfers (LeaseStore.transfer, transfers.ts). */
  readonly transfer: TransferStore = {
    handOver: (lease, successor, reservationMs) => this.handOver(lease, successor, reservationMs),
    reservation: (election) => this.reservation(election),
  };

  private handOver(lease: Lease, successor: string, reservationMs: number): Promise<boolean> {
    return guardedCall(this.guard, 'release', () =>
      this.turns.run(candidacyKey(lease.election, lease.holder), async () => {
        const candidacy = this.holding(lease);
        if (candidacy === null || candidacy.path === null) return false;
        const handed = await this.transfers.handOver(candidacy.path, lease.election, {
          successor,
          from: lease.holder,
          reservationMs,
        });
        // Handed over, or the znode was gone: either way the lease has ended.
        this.forget(candidacy);
        return handed;
      }),
    );
  }

  private reservation(election: string): Promise<Reservation | null> {
    return guardedCall(this.guard, 'read', async () =>
      this.transfers.live(election, (await this.listQueue(election))[0]),
    );
  }

  /** Member records (LeaseStore.members). */
  readonly members: MemberStore = {
    put: (election, member, ttlMs) => this.putMember(election, member, ttlMs),
    list: (election) => this.listMembers(election),
    remove: (election, id) => this.removeMember(election, id),
  };

  private putMember(election: string, member: MemberRecord, ttlMs: number): Promise<void> {
    return guardedCall(this.guard, 'member', () => this.memberRecords.put(election, member, ttlMs));
  }

  private listMembers(election: string): Promise<MemberRecord[]> {
    return guardedCall(this.guard, 'member', () => this.memberRecords.list(election));
  }

  /** A candidate leaving: its record goes, and so does its place in the queue if it has one. */
  private removeMember(election: string, id: string): Promise<void> {
    const key = candidacyKey(election, id);
    return guardedCall(this.guard, 'member', async () => {
      await this.turns.run(key, async () => {
        const queued = this.candidacies.get(key);
        if (queued !== undefined && queued.grantedToken === null) await this.withdraw(queued);
      });
      await this.memberRecords.remove(election, id);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const candidacy of this.candidacies.values()) this.stopTimer(candidacy);
    this.candidacies.clear();
    this.leftovers.clear();
    this.memberRecords.forgetAll();
    this.watches.close();
    this.transfers.close();
    // Ending the session deletes every ephemeral znode of ours at once.
    await this.session.close();
  }

  // ---------------------------------------------------------------- the queue

  /**
   * The queue decides who leads next, so the candidate order (core's candidateOrderKey:
   * eligibility, priority, version) acts on it here. A queued candidate outranked by a live
   * member leaves the queue when its elector reads, as it does while it defers to that
   * member (the priority wait: a read, no acquire, while someone leads). A rolling update's
   * new version then follows the old leader directly instead of every older replica queued
   * ahead of it. The outranked one queues again (at the back) when its elector acquires,
   * once the lock has been free for its priority wait: it still leads if nobody better does.
   * The order comes from the members' last listing (every heartbeat lists them).
   */
  private async leaveIfOutranked(election: string): Promise<void> {
    const members = this.memberRecords.recent(election, this.session.timeoutMs);
    if (members === null) return;
    for (const candidacy of [...this.candidacies.values()]) {
      if (candidacy.election !== election || !outranked(candidacy.holder, members)) continue;
      await this.turns.run(candidacy.key, async () => {
        const queued = this.candidacies.get(candidacy.key) === candidacy;
        if (queued && candidacy.grantedToken === null) await this.withdraw(candidacy);
      });
    }
  }

  /** This holder's candidacy, a new one if its last lease ended without a release. */
  private async candidacyFor(request: AcquireRequest): Promise<Candidacy> {
    const key = candidacyKey(request.election, request.holder);
    const existing = this.candidacies.get(key);
    if (existing !== undefined) {
      const current = existing.epoch === this.session.epoch;
      if (current && (existing.grantedToken ?? request.token) === request.token) return existing;
      // A znode leads once (its czxid is the term): after a lease that ended unreleased, the
      // candidate queues again from the back.
      await this.withdraw(existing);
    }
    const candidacy: Candidacy = {
      key,
      election: request.election,
      holder: request.holder,
      guid: newCandidateGuid(),
      epoch: this.session.epoch,
      metadata: request.metadata ?? {},
      joined: false,
      path: null,
      term: null,
      grantedToken: null,
      timer: null,
    };
    this.candidacies.set(key, candidacy);
    return candidacy;
  }

  /**
   * The election's queue with our candidate in it. A new candidate creates its znode first
   * and lists after: a listing taken before the create could miss a candidate that queued
   * ahead of it meanwhile.
   */
  private async queueWith(candidacy: Candidacy): Promise<CandidateName[]> {
    if (candidacy.joined) {
      const queue = await this.listQueue(candidacy.election);
      if (this.findOwn(candidacy, queue)) return queue;
    }
    await this.join(candidacy);
    const queue = await this.listQueue(candidacy.election);
    if (!this.findOwn(candidacy, queue)) {
      throw new StoreUnavailableError(
        `the candidate znode ${candidacy.path ?? ''} vanished at once (is the session ending?)`,
      );
    }
    return queue;
  }

  private async join(candidacy: Candidacy): Promise<void> {
    // A candidacy forgotten (its session ended) must not queue again: nothing would own it.
    this.requireCurrent(candidacy);
    candidacy.joined = true;
    const path = await this.znodes.create(
      this.paths.candidatePrefix(candidacy.election, candidacy.guid),
      encodeHolder(candidacy.holder, candidacy.metadata),
      zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL,
    );
    await this.disownIfStale(candidacy, path);
    candidacy.path = path;
    candidacy.term = await this.termOf(path);
  }

  private isCurrent(candidacy: Candidacy): boolean {
    return (
      candidacy.epoch === this.session.epoch && this.candidacies.get(candidacy.key) === candidacy
    );
  }

  private requireCurrent(candidacy: Candidacy): void {
    if (!this.isCurrent(candidacy)) {
      throw new StoreUnavailableError('the ZooKeeper session changed during the acquire');
    }
  }

  /**
   * A znode just created for a candidacy that was forgotten meanwhile (a new session began
   * while the create ran) has no owner to lead with it or delete it: delete it now.
   */
  private async disownIfStale(candidacy: Candidacy, path: string): Promise<void> {
    if (this.isCurrent(candidacy)) return;
    await this.znodes.remove(path).catch(() => {
      // In an ended session the znode ended with it.
    });
    this.requireCurrent(candidacy);
  }

  /**
   * Whether our znode is in the queue; adopts it when an earlier create's answer was lost, and
   * deletes duplicates such a create may have left.
   */
  private findOwn(candidacy: Candidacy, queue: readonly CandidateName[]): boolean {
    const [own, ...duplicates] = queue.filter((entry) => entry.guid === candidacy.guid);
    for (const duplicate of duplicates) {
      this.znodes.remove(this.paths.candidate(candidacy.election, duplicate.name)).catch(() => {});
    }
    if (own === undefined) return false;
    const path = this.paths.candidate(candidacy.election, own.name);
    if (candidacy.path !== path) {
      candidacy.path = path;
      candidacy.term = null;
    }
    return true;
  }

  private async grant(candidacy: Candidacy, request: AcquireRequest): Promise<AcquireResult> {
    const { token } = request;
    const path = candidacy.path;
    if (path === null) throw new StoreUnavailableError('the candidate znode is unknown');
    const term = candidacy.term ?? (await this.termOf(path));
    candidacy.term = term;
    // The znode was written when the candidate queued; the lease's metadata is that of the
    // acquire granted (the elector writes its tenure start there), as on the other stores.
    await this.znodes.setData(path, encodeHolder(candidacy.holder, request.metadata ?? {}));
    this.requireCurrent(candidacy);
    candidacy.grantedToken = token;
    const ttlMs = this.session.timeoutMs;
    this.withdrawAfter(candidacy, ttlMs);
    const handle: ZooKeeperLeaseHandle = { path, epoch: candidacy.epoch };
    const lease: Lease = {
      election: candidacy.election,
      holder: candidacy.holder,
      token,
      term,
      ttlMs,
      // The previous holder's znode went only after its deadline (its release, its own TTL
      // timer, or ZooKeeper expiring its session), so there is nothing to wait out.
      notBeforeMs: 0,
      handle,
    };
    return { acquired: true, lease };
  }

  /** Whether the candidate's znode is older than the last claimed reservation (transfers.ts). */
  private async belowFloor(candidacy: Candidacy): Promise<boolean> {
    if (candidacy.path === null) return false;
    const term = candidacy.term ?? (await this.termOf(candidacy.path));
    candidacy.term = term;
    return term < (await this.transfers.floor(candidacy.election));
  }

  /** The candidacy still holding `lease`, or null. */
  private holding(lease: Lease): Candidacy | null {
    const handle = leaseHandle(lease);
    const candidacy = this.candidacies.get(candidacyKey(lease.election, lease.holder));
    return handle !== null &&
      candidacy !== undefined &&
      candidacy.grantedToken === lease.token &&
      candidacy.path === handle.path &&
      candidacy.epoch === handle.epoch &&
      candidacy.epoch === this.session.epoch
      ? candidacy
      : null;
  }

  /** Leave the queue: forget the candidacy and delete its znode (later, if not now). */
  private async withdraw(candidacy: Candidacy): Promise<void> {
    this.forget(candidacy);
    if (!candidacy.joined || candidacy.epoch !== this.session.epoch) return;
    try {
      await this.removeCandidate(candidacy.election, candidacy.guid, candidacy.path);
    } catch (error) {
      this.leftovers.set(candidacy.guid, candidacy.election);
      throw error;
    }
  }

  private async removeCandidate(election: string, guid: string, path: string | null) {
    if (path !== null) {
      await this.znodes.remove(path);
      return;
    }
    const queue = await this.listQueue(election);
    await Promise.all(
      queue
        .filter((entry) => entry.guid === guid)
        .map((entry) => this.znodes.remove(this.paths.candidate(election, entry.name))),
    );
  }

  /** The withdrawal waits its turn (turns.ts); a call that kept the candidacy meanwhile won. */
  private withdrawAfter(candidacy: Candidacy, ms: number): void {
    this.stopTimer(candidacy);
    const timer = setTimeout(() => {
      this.turns
        .run(candidacy.key, async () => {
          if (candidacy.timer !== timer) return; // kept, with a timer of its own, or gone
          candidacy.timer = null;
          await this.withdraw(candidacy);
        })
        .catch(() => {
          // Left for the next connection (see onConnected), or gone with the session.
        });
    }, ms);
    timer.unref();
    candidacy.timer = timer;
  }

  private forget(candidacy: Candidacy): void {
    this.stopTimer(candidacy);
    if (this.candidacies.get(candidacy.key) === candidacy) this.candidacies.delete(candidacy.key);
  }

  private stopTimer(candidacy: Candidacy): void {
    if (candidacy.timer !== null) clearTimeout(candidacy.timer);
    candidacy.timer = null;
  }

  private async listQueue(election: string): Promise<CandidateName[]> {
    return candidatesInOrder((await this.znodes.children(this.paths.election(election))) ?? []);
  }

  /** Who a candidate znode belongs to, or null if it is gone. */
  private async describe(election: string, head: CandidateName): Promise<LeaseRecord | null> {
    const path = this.paths.candidate(election, head.name);
    const found = await this.znodes.data(path);
    if (found === null) return null;
    const { holder, metadata } = decodeHolder(path, found.data);
    const term = zxidNumber(found.stat.czxid, `the czxid of ${path}`);
    // Queued before a claimed reservation: it queues again when it asks, it never leads so.
    if (term < (await this.transfers.floor(election))) return null;
    return { election, holder, term, metadata, remainingMs: null };
  }

  private async termOf(path: string): Promise<number> {
    const stat = await this.znodes.exists(path);
    if (stat === null) throw new StoreUnavailableError(`the candidate znode ${path} vanished`);
    return zxidNumber(stat.czxid, `the czxid of ${path}`);
  }

  private ownGuids(election: string): ReadonlySet<string> {
    const guids = new Set<string>();
    for (const candidacy of this.candidacies.values()) {
      if (candidacy.election === election) guids.add(candidacy.guid);
    }
    return guids;
  }

  private isOwnUngranted(election: string, head: CandidateName): boolean {
    for (const candidacy of this.candidacies.values()) {
      if (candidacy.election === election && candidacy.guid === head.guid) {
        return candidacy.grantedToken === null;
      }
    }
    return false;
  }

  // ---------------------------------------------------------------- the session

  /**
   * The session timeout follows the TTL the elector asks for. It is fixed when a session
   * opens, so a store that holds no candidacy yet opens a new session for a TTL other than
   * the one it asked for; otherwise it grants the session's timeout when that is at least the
   * TTL, and refuses a longer TTL.
   */
  private fitSession(ttlMs: number): Promise<void> {
    const fit = this.fitting.then(async () => {
      const idle = this.candidacies.size === 0 && this.leftovers.size === 0;
      if (ttlMs !== this.session.requestedTimeoutMs && idle) {
        await this.session.reopen(ttlMs);
        await this.session.waitConnected(Math.min(CONNECT_WAIT_MS, ttlMs));
      }
      this.requireTimeout(ttlMs);
    });
    this.fitting = fit.catch(() => {});
    return fit;
  }

  private requireTimeout(ttlMs: number): void {
    const granted = this.session.grantedTimeoutMs;
    if (granted === null || granted >= ttlMs) return;
    throw new LeaseholdConfigError(
      'ttl',
      ttlMs,
      `the ZooKeeper session at ${this.context.hosts} has a timeout of ${granted} ms (ZooKeeper grants what was asked for within its minSessionTimeout and maxSessionTimeout, and one store has one session); use a TTL of at most ${granted} ms or raise maxSessionTimeout`,
    );
  }

  /** Ephemeral znodes end with their session: so does what we knew of them. */
  private onNewSession(): void {
    for (const candidacy of this.candidacies.values()) this.stopTimer(candidacy);
    this.candidacies.clear();
    this.leftovers.clear();
    this.memberRecords.forgetAll();
  }

  private onConnected(): void {
    if (this.closed) return;
    this.watches.rearmAll();
    this.transfers.rearmAll();
    for (const [guid, election] of [...this.leftovers]) {
      this.removeCandidate(election, guid, null).then(
        () => this.leftovers.delete(guid),
        () => {},
      );
    }
  }
}

/** Whether a live member ranks above `holder` (eligibility, priority, version). */
function outranked(holder: string, members: readonly MemberRecord[]): boolean {
  const self = members.find((member) => member.id === holder);
  const others = members.filter((member) => member.id !== holder);
  return self !== undefined && levelsAbove(self, others) > 0;
}

function candidacyKey(election: string, holder: string): string {
  return `${election}\n${holder}`;
}

function leaseHandle(lease: Lease): ZooKeeperLeaseHandle | null {
  const handle = lease.handle;
  return typeof handle === 'object' &&
    handle !== null &&
    'path' in handle &&
    typeof handle.path === 'string' &&
    'epoch' in handle &&
    typeof handle.epoch === 'number'
    ? { path: handle.path, epoch: handle.epoch }
    : null;
}
