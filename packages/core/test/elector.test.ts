import type { LeaseholdConfigError } from '@leasehold/core';
import {
  Elector,
  type Clock,
  ElectorStateError,
  LeaseholdTimingError,
  type LeaseStore,
  type StoreHealth,
} from '@leasehold/core';
import { MemoryBackend, createMemoryStore, ManualClock } from '@leasehold/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cluster, variantOf, withNotBefore } from './harness.js';

describe('Elector timing validation', () => {
  const store = createMemoryStore();
  const base = { store, election: 'jobs', id: 'a' };

  it.each([
    [{ ttlMs: 999 }, 'ttlMs', 'between 1000 ms and'],
    [{ ttlMs: 1500.5 }, 'ttlMs', 'whole number'],
    [{ ttlMs: 10_000, renewIntervalMs: 5_000 }, 'renewIntervalMs', 'less than ttlMs / 2'],
    [{ renewIntervalMs: 5 }, 'renewIntervalMs', 'at least 10 ms'],
    [{ retryIntervalMs: 0 }, 'retryIntervalMs', 'at least 10 ms'],
    [{ ttlMs: 2_000, retryIntervalMs: 3_000 }, 'retryIntervalMs', 'at most ttlMs'],
    [{ maxClockDriftRatio: 0.5 }, 'maxClockDriftRatio', 'from 0 to 0.1'],
    [{ maxClockDriftRatio: Number.NaN }, 'maxClockDriftRatio', 'from 0 to 0.1'],
    [{ safetyMarginMs: -1 }, 'safetyMarginMs', '0 or more'],
    [{ ttlMs: 1_000, safetyMarginMs: 700 }, 'safetyMarginMs', 'must exceed renewIntervalMs'],
  ])('rejects %j naming %s', (options, field, rule) => {
    const attempt = () => new Elector({ ...base, ...options });
    expect(attempt).toThrow(LeaseholdTimingError);
    try {
      attempt();
    } catch (error) {
      const timingError = error as LeaseholdTimingError;
      expect(timingError.code).toBe('LEASEHOLD_E_TIMING');
      expect(timingError.field).toBe(field);
      expect(timingError.message).toContain(field);
      expect(timingError.message).toContain(rule);
    }
  });

  it('derives the renew interval from the TTL', () => {
    const elector = new Elector({ ...base, ttlMs: 9_000 });
    expect(elector.timing).toEqual({
      ttlMs: 9_000,
      renewIntervalMs: 3_000,
      retryIntervalMs: 1_000,
      maxClockDriftRatio: 0.01,
      safetyMarginMs: 20,
    });
  });

  it.each([
    [{ election: '' }, 'election'],
    [{ election: 'has space' }, 'election'],
    [{ election: 'x'.repeat(129) }, 'election'],
    [{ id: 'two words' }, 'id'],
    [{ id: '' }, 'id'],
  ])('rejects the name %j', (options, field) => {
    expect(() => new Elector({ ...base, ...options })).toThrow(
      expect.objectContaining({ code: 'LEASEHOLD_E_CONFIG', field }) as LeaseholdConfigError,
    );
  });

  // What a JavaScript caller (no type checker) can pass: refused when constructed, naming
  // the option, not taken as the string "undefined" or left to fail inside start().
  it.each([
    ['election: undefined', { election: undefined }, 'election'],
    ['id: undefined', { id: undefined }, 'id'],
    ['election: 42', { election: 42 }, 'election'],
    ['id: null', { id: null }, 'id'],
    ['store: undefined', { store: undefined }, 'store'],
    ['store: null', { store: null }, 'store'],
    ['a store without its calls', { store: { backend: 'half' } }, 'store'],
  ])('rejects %s from JavaScript naming %s', (_case, options, field) => {
    const fromJavaScript = { ...base, ...options } as unknown as ConstructorParameters<
      typeof Elector
    >[0];
    expect(() => new Elector(fromJavaScript)).toThrow(
      expect.objectContaining({ code: 'LEASEHOLD_E_CONFIG', field }) as LeaseholdConfigError,
    );
  });

  it('refuses to start twice', () => {
    const elector = new Elector({ ...base, clock: new ManualClock() });
    elector.start();
    expect(() => elector.start()).toThrow(ElectorStateError);
    void elector.stop();
  });
});

describe('Elector', () => {
  // Tests that need candidates replace it; stopping an empty cluster does nothing.
  let cluster = new Cluster();

  beforeEach(() => {
    cluster = new Cluster();
  });

  afterEach(async () => {
    await cluster.stopAll();
  });

  it('elects a lone candidate and keeps it leading by renewing', async () => {
    cluster = new Cluster();
    const a = cluster.add('a');
    cluster.start();
    expect(a.elector.status().state).toBe('following');
    await cluster.leader();
    expect(a.elected).toHaveLength(1);
    expect(a.elected[0]?.term).toBe(1);
    await cluster.clock.advance(10 * 3_000, () => expect(a.elector.isLeader()).toBe(true));
    expect(a.deposed).toEqual([]);
    const status = a.elector.status();
    expect(status).toMatchObject({
      state: 'leading',
      isLeader: true,
      leader: { id: 'a', term: 1, self: true },
      observed: true,
      store: { healthy: true, error: null },
    });
    expect(status.leaseRemainingMs).toBeGreaterThan(0);
    expect(status.leaseRemainingMs).toBeLessThanOrEqual(3_000);
  });

  it('elects exactly one of three and the others learn who leads', async () => {
    cluster = new Cluster();
    for (const id of ['a', 'b', 'c']) cluster.add(id);
    cluster.start();
    const leader = await cluster.leader();
    await cluster.clock.advance(2_000, () => expect(cluster.leaders()).toHaveLength(1));
    for (const candidate of cluster.candidates) {
      expect(candidate.elector.status().leader).toMatchObject({
        id: leader.id,
        self: candidate === leader,
      });
    }
  });

  it('rides out transient renew failures without stepping down', async () => {
    cluster = new Cluster();
    const a = cluster.add('a');
    cluster.start();
    await cluster.leader();
    a.store.faults.fail(3);
    await cluster.clock.advance(3 * 3_000, () => expect(a.elector.isLeader()).toBe(true));
    expect(a.deposed).toEqual([]);
  });

  it('steps down at its deadline when the store is unreachable, then recovers', async () => {
    cluster = new Cluster();
    const a = cluster.add('a');
    const health: StoreHealth[] = [];
    a.elector.on('store-health', (event) => health.push(event));
    cluster.start();
    await cluster.leader();
    const term = a.elector.currentTerm();
    a.store.faults.fail();
    await cluster.clock.advanceUntil(() => a.deposed.length > 0, 3_000);
    expect(a.deposed[0]).toMatchObject({ term, reason: 'lease-expired' });
    expect(a.elector.signal.aborted).toBe(true);
    expect(health[0]).toMatchObject({
      healthy: false,
      error: { code: 'LEASEHOLD_E_STORE_UNAVAILABLE' },
    });
    // Store down for a while: the elector keeps trying without crashing.
    await cluster.clock.advance(30_000, () => expect(a.elector.isLeader()).toBe(false));
    a.store.faults.clear();
    await cluster.leader(10_000);
    expect(a.elector.currentTerm()).toBeGreaterThan(term ?? 0);
    expect(health.at(-1)).toMatchObject({ healthy: true, error: null });
  });

  it('stops reporting leadership at the deadline even before any timer runs', async () => {
    cluster = new Cluster();
    const a = cluster.add('a');
    cluster.start();
    await cluster.leader();
    const deadline = cluster.clock.now() + a.elector.status().leaseRemainingMs;
    a.freeze();
    await cluster.clock.advance(deadline - cluster.clock.now() - 1);
    expect(a.elector.isLeader()).toBe(true);
    await cluster.clock.advance(1);
    // Frozen: no timer of a's has run, yet it answers "not leader".
    expect(a.elector.isLeader()).toBe(false);
    expect(a.elector.status().state).not.toBe('leading');
    expect(a.deposed).toEqual([]);
    a.resume();
    await cluster.clock.advance(0);
    expect(a.deposed).toMatchObject([{ reason: 'lease-expired' }]);
  });

  it('names no leader, not itself, once its own deadline has passed before any timer ran', async () => {
    // The sidecar's GET / (the leader-elector answer) and /v1/leader read status().leader:
    // a leader frozen past its deadline must not name itself when it wakes, whatever runs
    // first, the request or the deadline timer.
    cluster = new Cluster();
    const a = cluster.add('a');
    cluster.start();
    await cluster.leader();
    expect(a.elector.status().leader).toMatchObject({ id: 'a', self: true });
    const deadline = cluster.clock.now() + a.elector.status().leaseRemainingMs;
    a.freeze();
    await cluster.clock.advance(deadline - cluster.clock.now());
    expect(a.elector.status()).toMatchObject({ isLeader: false, leader: null, leaderSince: null });
    a.resume();
    await cluster.clock.advance(0);
    // Awake, it may win the lock again, but it names itself only while it leads.
    const status = a.elector.status();
    if (status.leader?.self === true) expect(status.isLeader).toBe(true);
  });

  it('hands over to a frozen leader\u2019s follower after the lease, with a higher term', async () => {
    cluster = new Cluster();
    const a = cluster.add('a');
    const b = cluster.add('b');
    a.elector.start();
    await cluster.leader();
    b.elector.start();
    a.freeze();
    await cluster.clock.advanceUntil(() => b.elector.isLeader(), 3_000 + 1_000);
    expect(a.elector.isLeader()).toBe(false);
    expect(b.elected[0]?.term).toBeGreaterThan(a.elected[0]?.term ?? Infinity);
    a.resume();
    await cluster.clock.advance(2_000, () => expect(cluster.leaders()).toEqual([b]));
    expect(a.deposed).toMatchObject([{ reason: 'lease-expired' }]);
  });

  it('takes over a crashed holder\u2019s lease within milliseconds of its expiry', async () => {
    // Without watch events (crash sends no release), the follower relies on retryAfterMs.
    cluster = new Cluster({ retryIntervalMs: 3_000 });
    const a = cluster.add('a');
    const b = cluster.add('b');
    a.elector.start();
    await cluster.leader();
    b.elector.start();
    await cluster.clock.advance(100);
    a.freeze();
    const record = cluster.backend.read('jobs');
    const expiresAt = cluster.clock.now() + (record?.remainingMs ?? 0);
    await cluster.clock.advanceUntil(() => b.elector.isLeader(), 5_000);
    expect(cluster.clock.now() - expiresAt).toBeLessThanOrEqual(5);
  });

  it('steps down at once when the store says the lease is lost', async () => {
    cluster = new Cluster();
    const a = cluster.add('a');
    cluster.start();
    await cluster.leader();
    const term = a.elector.currentTerm();
    const signal = a.elector.signal;
    cluster.backend.forget('jobs');
    await cluster.clock.advanceUntil(() => a.deposed.length > 0, 1_100);
    expect(a.deposed[0]).toEqual({ election: 'jobs', id: 'a', term, reason: 'lost' });
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe('lost');
    await cluster.leader(5_000);
    expect(a.elector.currentTerm()).toBeGreaterThan(term ?? 0);
  });

  it('releases on stop so a watching follower takes over without waiting a TTL', async () => {
    cluster = new Cluster({ ttlMs: 10_000, retryIntervalMs: 5_000 });
    const a = cluster.add('a');
    const b = cluster.add('b');
    cluster.start();
    const leader = await cluster.leader();
    const follower = leader === a ? b : a;
    const stopping = leader.elector.stop();
    expect(leader.elector.isLeader()).toBe(false);
    expect(leader.deposed).toMatchObject([{ reason: 'stopped' }]);
    const stoppedAt = cluster.clock.now();
    await cluster.clock.advanceUntil(() => follower.elector.isLeader(), 1_000);
    await stopping;
    expect(cluster.clock.now() - stoppedAt).toBeLessThan(50);
    expect(leader.elector.status().state).toBe('stopped');
    expect(follower.elected[0]?.term).toBeGreaterThan(leader.elected[0]?.term ?? Infinity);
  });

  it('resigns: another candidate leads and the resigner holds off', async () => {
    cluster = new Cluster();
    for (const id of ['a', 'b', 'c']) cluster.add(id);
    cluster.start();
    const first = await cluster.leader();
    expect(await first.elector.resign()).toBe(true);
    expect(first.deposed).toMatchObject([{ reason: 'resigned' }]);
    const second = await cluster.leader(2_000);
    expect(second).not.toBe(first);
    const others = cluster.candidates.filter((c) => c !== second);
    expect(await others[0]?.elector.resign()).toBe(false);
  });

  it('holds off for holdOffMs after resigning when that is longer than two retries', async () => {
    cluster = new Cluster({ retryIntervalMs: 100 });
    const a = cluster.add('a');
    cluster.start();
    await cluster.leader();
    const resignedAt = cluster.clock.now();
    expect(await a.elector.resign({ holdOffMs: 3_000 })).toBe(true);
    await cluster.clock.advanceUntil(() => a.elector.isLeader(), 5_000);
    expect(cluster.clock.now() - resignedAt).toBeGreaterThanOrEqual(3_000);
    expect(cluster.clock.now() - resignedAt).toBeLessThan(3_200);
  });

  it('waits out notBeforeMs before reporting leadership', async () => {
    const clock = new ManualClock();
    const memory = new MemoryBackend({ clock }).connect();
    const store = withNotBefore(memory, 4_000);
    const elector = new Elector({ store, clock, election: 'jobs', id: 'a', ttlMs: 3_000 });
    const elected: number[] = [];
    elector.on('elected', () => elected.push(clock.now()));
    elector.start();
    // Hold-off = 4000 × (1 + drift) + margin = 4060 ms; the lease is renewed meanwhile.
    await clock.advance(4_059, () => expect(elector.isLeader()).toBe(false));
    expect(elector.status().state).toBe('pending');
    await clock.advance(1);
    expect(elector.isLeader()).toBe(true);
    expect(elected).toEqual([4_060]);
    const stopping = elector.stop();
    await clock.advance(0);
    await stopping;
  });

  it('leaves no timer behind when stopped while waiting out notBeforeMs', async () => {
    // A timer left armed after stop() keeps a process that has shut down from exiting.
    const clock = new ManualClock();
    const memory = new MemoryBackend({ clock }).connect();
    const store = withNotBefore(memory, 4_000);
    const elector = new Elector({ store, clock, election: 'jobs', id: 'a', ttlMs: 3_000 });
    elector.start();
    await clock.advance(100);
    expect(elector.status().state).toBe('pending');
    const stopping = elector.stop();
    await clock.advance(0);
    await stopping;
    expect(clock.pendingTimers).toBe(0);
  });

  it('hands back an acquire whose answer came after the elector gave up on it', async () => {
    cluster = new Cluster({ ttlMs: 30_000, retryIntervalMs: 1_000 });
    const a = cluster.add('a');
    const b = cluster.add('b');
    // a's answers take 15 s, longer than its 10 s request timeout. a's store keeps no
    // member records here, so its very first call is the acquire.
    a.store.faults.delay(0, 15_000);
    Object.assign(a.store, { members: undefined });
    a.elector.start();
    await cluster.clock.advance(100);
    b.elector.start();
    await cluster.clock.advance(14_800);
    expect(cluster.backend.read('jobs')?.holder).toBe('a');
    a.store.faults.delay(0, 0);
    // The late answer arrives at 15 s and a releases it; b need not wait out a 30 s TTL.
    await cluster.clock.advanceUntil(() => b.elector.isLeader(), 3_000);
    expect(a.elected).toEqual([]);
  });

  it('survives stores that throw synchronously, reject with non-errors, and throwing listeners', async () => {
    const clock = new ManualClock();
    let calls = 0;
    const store: LeaseStore = {
      backend: 'broken',
      tryAcquire: (() => {
        calls += 1;
        if (calls % 2 === 0) throw new TypeError('driver bug');
        return Promise.reject('a string, not an Error');
      }) as LeaseStore['tryAcquire'],
      renew: () => Promise.reject(new Error('unused')),
      release: () => Promise.resolve(),
      read: () => Promise.resolve(null),
      close: () => Promise.resolve(),
    };
    const elector = new Elector({ store, clock, election: 'jobs', id: 'a', ttlMs: 2_000 });
    elector.on('store-health', () => {
      throw new Error('listener bug');
    });
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on('warning', onWarning);
    try {
      elector.start();
      await clock.advance(20_000);
      expect(calls).toBeGreaterThan(5);
      expect(elector.status().store).toMatchObject({ healthy: false });
      await elector.stop();
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.some((w) => w.includes('listener bug'))).toBe(true);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('falls back to polling when the store\u2019s watch throws or rejects', async () => {
    for (const broken of ['throws', 'rejects'] as const) {
      const clock = new ManualClock();
      const memory = new MemoryBackend({ clock }).connect();
      const store = variantOf(memory, {
        watch: () => {
          if (broken === 'throws') throw new Error('watch bug');
          return Promise.reject(new Error('watch bug'));
        },
      });
      const elector = new Elector({ store, clock, election: 'jobs', id: 'a', ttlMs: 2_000 });
      elector.start();
      await clock.advanceUntil(() => elector.isLeader(), 1_000);
      const stopping = elector.stop();
      await clock.advance(0);
      await stopping;
    }
  });

  it('hands a free lock to the highest-priority live candidate', async () => {
    cluster = new Cluster({ ttlMs: 3_000, retryIntervalMs: 500 });
    const low = cluster.add('low', { priority: 0 });
    const mid = cluster.add('mid', { priority: 5 });
    const high = cluster.add('high', { priority: 10 });
    low.elector.start();
    await cluster.leader();
    mid.elector.start();
    high.elector.start();
    await cluster.clock.advance(1_500);
    expect(cluster.leaders()).toEqual([low]);
    const stopping = low.elector.stop();
    await cluster.clock.advanceUntil(() => cluster.leaders().length === 1, 3_000);
    await stopping;
    expect(cluster.leaders()).toEqual([high]);
    const members = await high.elector.members();
    expect(members.map((m) => [m.id, m.priority, m.isLeader])).toEqual([
      ['high', 10, true],
      ['mid', 5, false],
    ]);
  });

  it('lets a lower-priority candidate take a free lock after waiting its turn', async () => {
    cluster = new Cluster({ ttlMs: 3_000, retryIntervalMs: 500 });
    const low = cluster.add('low', { priority: 0 });
    const high = cluster.add('high', { priority: 10 });
    high.elector.start();
    await cluster.leader();
    low.elector.start();
    await cluster.clock.advance(1_500);
    // high resigns and holds off for two retry intervals; low waits one level, then leads.
    await high.elector.resign();
    const resignedAt = cluster.clock.now();
    await cluster.clock.advanceUntil(() => low.elector.isLeader(), 2_000);
    expect(cluster.clock.now() - resignedAt).toBeGreaterThanOrEqual(500);
  });

  it('lists members with their heartbeat, and drops a stopped one', async () => {
    cluster = new Cluster();
    const a = cluster.add('a', { metadata: { url: 'http://a:8080' } });
    const b = cluster.add('b');
    cluster.start();
    const leader = await cluster.leader();
    await cluster.clock.advance(1_000);
    const members = await a.elector.members();
    expect(members.map((m) => m.id).sort()).toEqual(['a', 'b']);
    expect(members.find((m) => m.id === 'a')?.metadata).toEqual({ url: 'http://a:8080' });
    expect(members.filter((m) => m.isLeader).map((m) => m.id)).toEqual([leader.id]);
    const stopping = b.elector.stop();
    await cluster.clock.advance(0);
    await stopping;
    expect((await a.elector.members()).map((m) => m.id)).toEqual(['a']);
  });

  it('rejects a priority that is not a whole number', () => {
    expect(
      () => new Elector({ store: createMemoryStore(), election: 'jobs', id: 'a', priority: 1.5 }),
    ).toThrow(expect.objectContaining({ code: 'LEASEHOLD_E_CONFIG', field: 'priority' }) as Error);
  });

  it('is elected after notBefore and deposed at the deadline even when timers fire early', async () => {
    // Node's timers may fire a little before performance.now() reaches the due time.
    const clock = new ManualClock();
    const earlyClock: Clock = {
      now: () => clock.now(),
      // 1 ms early, but like Node never sooner than 1 ms after being set.
      setTimer: (delayMs, callback) => clock.setTimer(delayMs >= 2 ? delayMs - 1 : 1, callback),
    };
    const memory = new MemoryBackend({ clock }).connect();
    const store = withNotBefore(memory, 500);
    const elector = new Elector({
      store,
      clock: earlyClock,
      election: 'jobs',
      id: 'a',
      ttlMs: 2_000,
    });
    const events: string[] = [];
    elector.on('elected', () => events.push(`elected@${clock.now()}`));
    elector.on('deposed', ({ reason }) => events.push(`${reason}@${clock.now()}`));
    elector.start();
    await clock.advance(1_000);
    expect(events).toEqual(['elected@525']);
    memory.faults.fail();
    await clock.advance(5_000);
    expect(events[1]).toMatch(/^lease-expired@/);
    expect(elector.isLeader()).toBe(false);
    memory.faults.clear();
    const stopping = elector.stop();
    await clock.advance(0);
    await stopping;
  });

  it('stops within a second when the store has stopped answering', async () => {
    // Without the bound, stop() would wait for the acquire in flight to time out
    // (renewIntervalMs, 3.3 s here) and then for the member removal to time out.
    const clock = new ManualClock();
    const store = new MemoryBackend({ clock }).connect();
    store.faults.freeze();
    const elector = new Elector({ store, clock, election: 'jobs', id: 'a', ttlMs: 10_000 });
    elector.start();
    await clock.advance(100);
    let stopped = false;
    void elector.stop().then(() => (stopped = true));
    await clock.advance(999);
    expect(stopped).toBe(false);
    await clock.advance(1);
    expect(stopped).toBe(true);
    expect(elector.isLeader()).toBe(false);
    store.faults.thaw();
  });

  it('gives an aborted signal to code asking while not leading', async () => {
    cluster = new Cluster();
    const a = cluster.add('a');
    expect(a.elector.signal.aborted).toBe(true);
    cluster.start();
    const leader = await cluster.leader();
    const signal = leader.elector.signal;
    expect(signal.aborted).toBe(false);
    expect(leader.elected[0]?.signal).toBe(signal);
  });

  it('reports its own deadline when it acquires and each time a renewal extends it', async () => {
    cluster = new Cluster();
    const a = cluster.add('a');
    const seen: string[] = [];
    const deadlines: number[] = [];
    a.elector.on('elected', () => seen.push('elected'));
    a.elector.on('lease', ({ term, validUntil }) => {
      seen.push(`lease ${term}`);
      deadlines.push(validUntil);
      // The deadline it reports is the one it answers by.
      expect(validUntil - cluster.clock.now()).toBeLessThanOrEqual(3_000);
    });
    cluster.start();
    await cluster.leader();
    // Before `elected`: a listener knows the deadline by the time leadership starts.
    expect(seen).toEqual(['lease 1', 'elected']);
    await cluster.clock.advance(3 * 1_000 + 10);
    expect(deadlines.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < deadlines.length; i++) {
      expect(deadlines[i]).toBeGreaterThanOrEqual(deadlines[i - 1] ?? Infinity);
    }
    const last = deadlines.at(-1) ?? 0;
    expect(last).toBeGreaterThanOrEqual((deadlines[0] ?? 0) + 3_000);
    expect(a.elector.status().leaseRemainingMs).toBe(last - cluster.clock.now());
  });

  it('steps down exactly at its last deadline, however many renewals moved it (one deadline timer per lease)', async () => {
    cluster = new Cluster();
    const a = cluster.add('a');
    const deadlines: number[] = [];
    a.elector.on('lease', ({ validUntil }) => deadlines.push(validUntil));
    let deposedAt: number | null = null;
    a.elector.on('deposed', () => (deposedAt ??= cluster.clock.now()));
    cluster.start();
    await cluster.leader();
    // Several renewals, each moving the deadline past where the first timer was armed.
    await cluster.clock.advance(7_000);
    expect(deadlines.length).toBeGreaterThanOrEqual(7);
    a.store.faults.fail();
    const last = (): number => deadlines.at(-1) ?? 0;
    await cluster.clock.advanceUntil(() => deposedAt !== null, 5_000);
    expect({ deposedAt, reason: a.deposed[0]?.reason }).toEqual({
      deposedAt: last(),
      reason: 'lease-expired',
    });
    a.store.faults.clear();
  });
});
