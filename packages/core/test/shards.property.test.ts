import { ShardGroup } from '@leasehold/core';
import {
  FreezableClock,
  ManualClock,
  MemoryBackend,
  seededRandom,
  type MemoryStore,
} from '@leasehold/core/testing';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { countedFault, lastingFault, propertyRunSettings } from './property-faults.js';
import type { CountedFault, LastingFault } from './property-faults.js';

/**
 * Shard groups under random faults, in simulated time (elector.property.test.ts's checkers,
 * per shard): at no instant two owners of a shard, frozen replicas included; each shard's
 * terms only rise; and once the faults stop, every shard is owned and balanced again.
 *
 * Runs: LEASEHOLD_SHARD_PROP_RUNS (default 40). Replay: LEASEHOLD_PROP_SEED=<seed>.
 */

const settings = propertyRunSettings('LEASEHOLD_SHARD_PROP_RUNS', 40);
const SHARDS = 8;

type Fault =
  | { kind: 'kill' }
  | LastingFault<'freeze'>
  | LastingFault<'partition'>
  | { kind: 'delay'; ms: number }
  | CountedFault<'fail'>
  | CountedFault<'drop'>
  | { kind: 'restart' }
  | { kind: 'join' }
  | { kind: 'drain' }
  | { kind: 'undrain' }
  | { kind: 'transfer'; shard: number; to: number };

interface Step {
  readonly atMs: number;
  readonly replica: number;
  readonly fault: Fault;
}

interface Scenario {
  readonly replicas: number;
  readonly ttlMs: number;
  readonly retryIntervalMs: number;
  readonly seed: number;
  readonly steps: Step[];
}

const fault = (ttlMs: number): fc.Arbitrary<Fault> =>
  fc.oneof(
    fc.constant({ kind: 'kill' as const }),
    lastingFault('freeze', 2 * ttlMs),
    lastingFault('partition', 2 * ttlMs),
    fc.record({ kind: fc.constant('delay' as const), ms: fc.integer({ min: 0, max: ttlMs }) }),
    countedFault('fail', 20),
    countedFault('drop', 5),
    fc.constant({ kind: 'restart' as const }),
    fc.constant({ kind: 'join' as const }),
    fc.constant({ kind: 'drain' as const }),
    fc.constant({ kind: 'undrain' as const }),
    fc.record({
      kind: fc.constant('transfer' as const),
      shard: fc.nat(SHARDS - 1),
      to: fc.nat(6),
    }),
  );

const scenario: fc.Arbitrary<Scenario> = fc
  .record({
    replicas: fc.integer({ min: 2, max: 4 }),
    ttlMs: fc.integer({ min: 1_000, max: 4_000 }),
    retryFraction: fc.double({ min: 0.1, max: 0.5, noNaN: true }),
    seed: fc.integer(),
  })
  .chain((base) =>
    fc.record({
      replicas: fc.constant(base.replicas),
      ttlMs: fc.constant(base.ttlMs),
      retryIntervalMs: fc.constant(Math.floor(base.ttlMs * base.retryFraction)),
      seed: fc.constant(base.seed),
      steps: fc.array(
        fc.record({
          atMs: fc.integer({ min: 0, max: 10 * base.ttlMs }),
          replica: fc.nat(6),
          fault: fault(base.ttlMs),
        }),
        { minLength: 3, maxLength: 20 },
      ),
    }),
  );

interface Replica {
  readonly id: string;
  readonly group: ShardGroup;
  readonly store: MemoryStore;
  readonly clock: FreezableClock;
  killed: boolean;
}

async function simulate(plan: Scenario): Promise<void> {
  const clock = new ManualClock(1_000_000);
  const backend = new MemoryBackend({ clock });
  const random = seededRandom(plan.seed);
  const replicas: Replica[] = [];
  const violations: string[] = [];
  const highestTerm = new Map<number, number>();

  function add(id: string): Replica {
    const store = backend.connect();
    const own = new FreezableClock(clock);
    const group = new ShardGroup({
      name: 'p',
      count: SHARDS,
      id,
      store,
      clock: own,
      ttlMs: plan.ttlMs,
      retryIntervalMs: plan.retryIntervalMs,
      random,
    });
    group.on('elected', ({ shard, term }) => {
      const highest = highestTerm.get(shard) ?? 0;
      if (term <= highest)
        violations.push(`${id} led shard ${shard} with term ${term} after ${highest}`);
      highestTerm.set(shard, Math.max(highest, term));
    });
    const replica = { id, group, store, clock: own, killed: false };
    replicas.push(replica);
    group.start();
    return replica;
  }

  function check(now: number): void {
    for (let shard = 0; shard < SHARDS; shard++) {
      const owners = replicas.filter((r) => r.group.electors[shard]?.isLeader() === true);
      if (owners.length > 1) {
        violations.push(`at ${now}: shard ${shard} owned by ${owners.map((r) => r.id).join(', ')}`);
      }
    }
  }

  function apply(step: Step): void {
    const replica = replicas[step.replica % replicas.length];
    if (replica === undefined || replica.killed) return;
    const f = step.fault;
    const faults = replica.store.faults;
    switch (f.kind) {
      case 'kill':
        if (replicas.filter((r) => !r.killed).length <= 1) return;
        replica.killed = true;
        replica.clock.freeze();
        faults.freeze();
        return;
      case 'freeze':
        replica.clock.freeze();
        clock.setTimer(f.forMs, () => !replica.killed && replica.clock.resume());
        return;
      case 'partition':
        faults.freeze();
        clock.setTimer(f.forMs, () => !replica.killed && faults.thaw());
        return;
      case 'delay':
        faults.delay(f.ms, f.ms);
        return;
      case 'fail':
        faults.fail(f.count);
        return;
      case 'drop':
        faults.drop('response', f.count);
        return;
      case 'restart':
        // Graceful: stop (every shard released), then a new process with the same id. A
        // frozen or cut-off process is woken first: its stop would otherwise wait on a clock
        // that never moves, the new process would never come, and with the others killed
        // nobody would be left to own the shards (seed -147458678 found it).
        replica.killed = true;
        replica.clock.resume();
        faults.thaw();
        void replica.group.stop().then(() => add(replica.id));
        return;
      case 'join':
        if (replicas.length < 7) add(`n${replicas.length}`);
        return;
      case 'drain':
        replica.group.drain();
        return;
      case 'undrain':
        replica.group.undrain();
        return;
      case 'transfer': {
        const to = replicas[f.to % replicas.length]?.id ?? 'nobody';
        replica.group.electors[f.shard]?.transfer(to).catch(() => {});
        return;
      }
    }
  }

  for (let i = 0; i < plan.replicas; i++) add(`r${i}`);
  for (const step of plan.steps) clock.setTimer(step.atMs, () => apply(step));
  await clock.advance(11 * plan.ttlMs, check);

  // Liveness: faults gone, everyone undrained; every shard owned by a live replica, balanced.
  for (const r of replicas.filter((x) => !x.killed)) {
    r.store.faults.clear();
    if (r.clock.isFrozen) r.clock.resume();
    r.group.undrain();
  }
  const recoverMs = 8 * plan.ttlMs;
  const live = (): Replica[] => replicas.filter((r) => !r.killed);
  const settled = (): boolean => {
    const counts = live().map((r) => r.group.owned().length);
    const [floor, ceil] = [Math.floor(SHARDS / counts.length), Math.ceil(SHARDS / counts.length)];
    const owned = counts.reduce((a, b) => a + b, 0) === SHARDS;
    return owned && counts.every((n) => n >= floor && n <= ceil);
  };
  let recovered = false;
  await clock.advance(recoverMs, (now) => {
    check(now);
    recovered ||= settled();
  });
  if (!recovered) {
    violations.push(
      `not owned and balanced within ${recoverMs} ms after faults cleared: ${live()
        .map((r) => `${r.id}=${r.group.owned().length}`)
        .join(' ')}`,
    );
  }

  for (const r of replicas) {
    r.store.faults.thaw();
    r.clock.resume();
  }
  let done = false;
  void Promise.all(replicas.map((r) => r.group.stop())).then(() => (done = true));
  await clock.advanceUntil(() => done, 60_000);
  if (violations.length > 0) throw new Error(violations.slice(0, 5).join('\n'));
}

describe('ShardGroup properties (simulated time, random faults)', () => {
  it(
    `never two owners of a shard, terms rise, owned and balanced again (${settings.numRuns} runs)`,
    { timeout: Math.max(120_000, settings.numRuns * 3_000) },
    async () => {
      await fc.assert(
        fc.asyncProperty(scenario, (plan) => simulate(plan)),
        settings,
      );
    },
  );
});
