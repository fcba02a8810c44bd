import { seededRandom } from '@leasehold/core/testing';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { Cluster, type Candidate } from './harness.js';
import { countedFault, lastingFault, propertyRunSettings } from './property-faults.js';
import type { CountedFault, LastingFault } from './property-faults.js';

/**
 * The elector's safety properties under random faults, in simulated time:
 *   1. at no instant do two candidates report leadership (frozen ones included: a frozen
 *      process answers as soon as it wakes, so it must answer "no");
 *   2. every election's term is greater than every earlier one;
 *   3. once the faults stop, someone leads again within a few leases (liveness).
 *
 * Runs: LEASEHOLD_PROP_RUNS (default 500). Replay a failure with the seed it prints:
 *   LEASEHOLD_PROP_SEED=<seed> pnpm exec vitest run packages/core/test/elector.property.test.ts
 */

const settings = propertyRunSettings('LEASEHOLD_PROP_RUNS', 500);

type Fault =
  | { kind: 'delay'; requestMs: number; responseMs: number }
  | { kind: 'jitter'; maxMs: number }
  | CountedFault<'fail'>
  | { kind: 'drop'; mode: 'request' | 'response'; count: number }
  | LastingFault<'partition'>
  | LastingFault<'freeze'>
  | { kind: 'restart'; downMs: number }
  | { kind: 'resign' }
  | { kind: 'clear' }
  // Operator controls (docs/design.md §3.6): to a candidate by index, possibly a bad target.
  | { kind: 'transfer'; to: number }
  | { kind: 'drain'; force: boolean }
  | { kind: 'undrain' }
  | { kind: 'health'; healthy: boolean };

interface Step {
  readonly atMs: number;
  /** Index of the candidate to hit, or 'leader': whoever leads when the step runs. */
  readonly candidate: number | 'leader';
  readonly fault: Fault;
}

interface Scenario {
  readonly candidates: number;
  readonly ttlMs: number;
  readonly renewDivisor: number;
  readonly retryIntervalMs: number;
  readonly useWatch: boolean;
  /** Per candidate; mixed priorities exercise the priority hold-off. */
  readonly priorities: number[];
  readonly seed: number;
  readonly steps: Step[];
}

const fault = (ttlMs: number): fc.Arbitrary<Fault> =>
  fc.oneof(
    fc.record({
      kind: fc.constant('delay' as const),
      requestMs: fc.integer({ min: 0, max: Math.floor(ttlMs * 0.8) }),
      responseMs: fc.integer({ min: 0, max: Math.floor(ttlMs * 0.8) }),
    }),
    fc.record({ kind: fc.constant('jitter' as const), maxMs: fc.integer({ min: 1, max: ttlMs }) }),
    countedFault('fail', 20),
    fc.record({
      kind: fc.constant('drop' as const),
      mode: fc.constantFrom('request' as const, 'response' as const),
      count: fc.integer({ min: 1, max: 5 }),
    }),
    lastingFault('partition', 3 * ttlMs),
    lastingFault('freeze', 3 * ttlMs),
    fc.record({
      kind: fc.constant('restart' as const),
      downMs: fc.integer({ min: 0, max: 2 * ttlMs }),
    }),
    fc.constant({ kind: 'resign' as const }),
    fc.constant({ kind: 'clear' as const }),
    fc.record({ kind: fc.constant('transfer' as const), to: fc.integer({ min: 0, max: 4 }) }),
    fc.record({ kind: fc.constant('drain' as const), force: fc.boolean() }),
    fc.constant({ kind: 'undrain' as const }),
    fc.record({ kind: fc.constant('health' as const), healthy: fc.boolean() }),
  );

const scenario: fc.Arbitrary<Scenario> = fc
  .record({
    candidates: fc.integer({ min: 3, max: 5 }),
    ttlMs: fc.integer({ min: 1_000, max: 5_000 }),
    renewDivisor: fc.integer({ min: 3, max: 6 }),
    retryFraction: fc.double({ min: 0.05, max: 1, noNaN: true }),
    useWatch: fc.boolean(),
    priorities: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 5, maxLength: 5 }),
    seed: fc.integer(),
  })
  .chain((base) =>
    fc.record({
      candidates: fc.constant(base.candidates),
      ttlMs: fc.constant(base.ttlMs),
      renewDivisor: fc.constant(base.renewDivisor),
      retryIntervalMs: fc.constant(Math.max(10, Math.floor(base.ttlMs * base.retryFraction))),
      useWatch: fc.constant(base.useWatch),
      priorities: fc.constant(base.priorities),
      seed: fc.constant(base.seed),
      steps: fc.array(
        fc.record({
          atMs: fc.integer({ min: 0, max: 15 * base.ttlMs }),
          candidate: fc.oneof(
            { arbitrary: fc.constant('leader' as const), weight: 3 },
            { arbitrary: fc.integer({ min: 0, max: base.candidates - 1 }), weight: 2 },
          ),
          fault: fault(base.ttlMs),
        }),
        { minLength: 5, maxLength: 40 },
      ),
    }),
  );

async function simulate(plan: Scenario): Promise<void> {
  const random = seededRandom(plan.seed);
  const cluster = new Cluster({
    ttlMs: plan.ttlMs,
    renewIntervalMs: Math.floor(plan.ttlMs / plan.renewDivisor),
    retryIntervalMs: plan.retryIntervalMs,
    random,
  });
  const ids = Array.from({ length: plan.candidates }, (_, i) => `c${i}`);
  // Slots hold the live process per id; a restart replaces it with a fresh elector.
  const slots: Candidate[] = ids.map((id, i) => addCandidate(id, plan.priorities[i] ?? 0));
  const violations: string[] = [];
  let highestTerm = 0;

  function addCandidate(id: string, priority: number): Candidate {
    // Health gating on every candidate, starting healthy; versions differ by index.
    const candidate = cluster.add(id, {
      priority,
      steering: { version: `1.${ids.indexOf(id) % 2}.0`, health: { failureThreshold: 1 } },
    });
    candidate.elector.setAppHealth(true);
    if (!plan.useWatch) (candidate.store as { watch?: unknown }).watch = undefined;
    candidate.elector.on('elected', ({ term }) => {
      if (term <= highestTerm) {
        violations.push(`${id} elected with term ${term} after term ${highestTerm}`);
      }
      highestTerm = Math.max(highestTerm, term);
    });
    return candidate;
  }

  function checkOneLeader(now: number): void {
    const leaders = cluster.leaders();
    if (leaders.length > 1) {
      violations.push(
        `at ${now}: ${leaders.map((c) => `${c.id}(term ${c.elector.status().leader?.term})`).join(' and ')} both lead`,
      );
    }
  }

  const start = cluster.clock.now();
  for (const candidate of slots) candidate.elector.start();
  for (const step of plan.steps) {
    cluster.clock.setTimer(step.atMs, () => applyFault(step));
  }

  function applyFault(step: Step): void {
    const index =
      step.candidate === 'leader'
        ? slots.findIndex((c) => c.elector.status().state !== 'following')
        : step.candidate;
    const candidate = slots[index];
    if (candidate === undefined) return;
    const faults = candidate.store.faults;
    const f = step.fault;
    switch (f.kind) {
      case 'delay':
        faults.delay(f.requestMs, f.responseMs);
        break;
      case 'jitter':
        faults.delay(
          () => Math.floor(random() * f.maxMs),
          () => Math.floor(random() * f.maxMs),
        );
        break;
      case 'fail':
        faults.fail(f.count);
        break;
      case 'drop':
        faults.drop(f.mode, f.count);
        break;
      case 'partition':
        faults.freeze();
        cluster.clock.setTimer(f.forMs, () => faults.thaw());
        break;
      case 'freeze':
        candidate.freeze();
        cluster.clock.setTimer(f.forMs, () => candidate.resume());
        break;
      case 'restart': {
        // Graceful restart: stop (release), then a new process with the same id.
        void candidate.elector.stop();
        cluster.clock.setTimer(f.downMs, () => {
          if (slots[index] !== candidate) return;
          const next = addCandidate(candidate.id, candidate.elector.priority);
          slots[index] = next;
          next.elector.start();
        });
        break;
      }
      case 'resign':
        void candidate.elector.resign();
        break;
      case 'clear':
        faults.clear();
        break;
      case 'transfer':
        candidate.elector.transfer(ids[f.to] ?? 'nobody').catch(() => {});
        break;
      case 'drain':
        candidate.elector.drain({ force: f.force }).catch(() => {});
        break;
      case 'undrain':
        candidate.elector.undrain();
        break;
      case 'health':
        candidate.elector.setAppHealth(f.healthy);
        break;
    }
  }

  await cluster.clock.advance(16 * plan.ttlMs, checkOneLeader);

  // Liveness: with every fault gone, someone must lead again soon.
  for (const candidate of cluster.candidates) {
    candidate.store.faults.clear();
    if (candidate.clock.isFrozen) candidate.resume();
    candidate.elector.undrain();
    candidate.elector.setAppHealth(true);
  }
  // Two priority levels above the lowest cost up to two extra retry intervals.
  const recoverWithinMs = 3 * plan.ttlMs + 4 * plan.retryIntervalMs + 1_000;
  let leaderSeen = false;
  await cluster.clock.advance(recoverWithinMs + 2_000, (now) => {
    checkOneLeader(now);
    if (
      now - start <= 16 * plan.ttlMs + recoverWithinMs &&
      slots.some((c) => c.elector.isLeader())
    ) {
      leaderSeen = true;
    }
  });
  if (!leaderSeen) violations.push(`no leader within ${recoverWithinMs} ms after faults cleared`);

  await cluster.stopAll();
  if (violations.length > 0) throw new Error(violations.slice(0, 5).join('\n'));
}

describe('Elector properties (simulated time, random faults)', () => {
  it(
    `never has two leaders, terms only rise, and recovers (${settings.numRuns} runs)`,
    { timeout: Math.max(60_000, settings.numRuns * 500) },
    async () => {
      await fc.assert(
        fc.asyncProperty(scenario, (plan) => simulate(plan)),
        settings,
      );
    },
  );
});
