import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkRound, type RoundVerdict, type Violation } from './checker.js';
import { writeHistory } from './history.js';
import { Lab } from './lab.js';
import { Round, type Timing } from './round.js';
import type { Scenario } from './scenarios/index.js';
import { type Backend } from '@leasehold/testkit';
import { StorePool } from './store-pool.js';
import { ANSWER_TIMEOUT_MS } from './recorder.js';
import { now } from '@leasehold/testkit';
import { describeStall, HostStallMeter, stalled, type HostStall } from './host-stall.js';

/**
 * Runs scenarios on backends, round after round: each round records, is checked, and its
 * raw history goes to a file of its own.
 */

export interface RunPlan {
  readonly scenarios: readonly Scenario[];
  readonly backends: readonly Backend[];
  /** Rounds per scenario and backend; ignored when `minutes` is set. */
  readonly rounds: number;
  /** Spread this much time evenly over every scenario and backend (at least one round each). */
  readonly minutes: number | null;
  /** Where the raw histories go. */
  readonly outDir: string;
  /** Names of the lab's namespaces, devices and tables start with it. */
  readonly labPrefix: string;
  /** Sidecars' store prefix (key prefix, schema, table prefix). */
  readonly namespace: string;
  readonly timing: Timing;
  /**
   * Run every sidecar as `leasehold run -- <job>` and check the job's stamps too; the
   * scenarios that need a job (`commandsOnly`) run only then.
   */
  readonly commands: boolean;
  /** Stop after the round in progress. */
  readonly signal: AbortSignal;
}

export interface RoundResult {
  readonly round: number;
  readonly file: string;
  /** The checker's verdict, less the violations a known defect explains. */
  readonly verdict: RoundVerdict;
  /** Violations a known defect of the scenario explains, each with the defect. */
  readonly known: readonly (Violation & { readonly defect: string })[];
}

export interface RunResult {
  readonly scenario: Scenario;
  readonly backend: Backend;
  readonly rounds: readonly RoundResult[];
  /**
   * Rounds whose violations came with this host stalled for longer than any timing
   * guarantee allows (host-stall.ts): they prove nothing either way and were run again.
   */
  readonly inconclusive: readonly (RoundResult & { readonly stall: HostStall })[];
}

/** How many rounds of a pair a stalled host may cost before a violation counts anyway. */
const MAX_STALLED_ROUNDS = 2;

/** Election timing of a run: short, so that a round takes seconds, not minutes. */
export const DEFAULT_TIMING: Timing = {
  ttlMs: 2_000,
  retryMs: 200,
  pollMs: 25,
  answerTimeoutMs: ANSWER_TIMEOUT_MS,
};

/**
 * How long a failover may take: the dead leader's lease runs out (one TTL), a follower
 * notices (a retry interval) and, where the store may have forgotten a lease, waits one
 * more TTL; plus two seconds for a busy two-core machine.
 */
export function failoverBoundMs(scenario: Scenario, timing: Timing): number {
  return 2 * timing.ttlMs + timing.retryMs + 2_000 + (scenario.extraFailoverMs?.(timing) ?? 0);
}

export async function runChaos(
  plan: RunPlan,
  progress: (line: string) => void,
): Promise<RunResult[]> {
  const scenarios = plan.scenarios.filter((s) => plan.commands || s.commandsOnly !== true);
  const pairs = scenarios.flatMap((scenario) =>
    plan.backends
      .filter((b) => scenario.backends.includes(b))
      .map((backend) => ({ scenario, backend })),
  );
  // One worker per backend, side by side: rounds mostly wait (for TTLs, for failovers), and
  // each backend's store is used by one round at a time, so a store restarted on purpose
  // never surprises another round. Heavy scenarios run afterwards, one at a time.
  const shared = plan.backends.map((backend) =>
    pairs.filter((p) => p.backend === backend && p.scenario.runsAlone !== true),
  );
  const alone = pairs.filter((p) => p.scenario.runsAlone === true);
  const slots = Math.max(0, ...shared.map((queue) => queue.length)) + alone.length;
  const budgetMs = plan.minutes === null ? null : (plan.minutes * 60_000) / Math.max(1, slots);
  const lab = new Lab(plan.labPrefix);
  const pool = new StorePool(lab);
  const host = new HostStallMeter();
  const results: RunResult[] = [];
  const runQueue = async (queue: readonly Pair[]): Promise<void> => {
    for (const pair of queue) {
      if (plan.signal.aborted) return;
      results.push(await runPair(plan, { lab, pool, host }, pair, budgetMs, progress));
    }
  };
  try {
    await Promise.all(shared.map(runQueue));
    await runQueue(alone);
  } finally {
    host.stop();
    await pool.close();
    lab.destroy();
  }
  // In the order asked for, whatever order they finished in.
  const rank = (r: RunResult): number =>
    pairs.findIndex((p) => p.scenario === r.scenario && p.backend === r.backend);
  return results.sort((a, b) => rank(a) - rank(b));
}

interface Pair {
  readonly scenario: Scenario;
  readonly backend: Backend;
}

/** What every round of a run shares. */
interface Fixtures {
  readonly lab: Lab;
  readonly pool: StorePool;
  readonly host: HostStallMeter;
}

/** Rounds of one scenario on one backend: `plan.rounds` of them, or for `budgetMs`. */
async function runPair(
  plan: RunPlan,
  { lab, pool, host }: Fixtures,
  { scenario, backend }: Pair,
  budgetMs: number | null,
  progress: (line: string) => void,
): Promise<RunResult> {
  const rounds: RoundResult[] = [];
  const inconclusive: RunResult['inconclusive'][number][] = [];
  const startedAt = now();
  const more = (): boolean =>
    !plan.signal.aborted &&
    (budgetMs === null
      ? rounds.length < plan.rounds
      : rounds.length === 0 || now() - startedAt < budgetMs);
  while (more()) {
    const roundStart = now();
    const number = rounds.length + inconclusive.length + 1;
    const result = await runRound(plan, lab, pool, scenario, backend, number);
    const stall = host.between(roundStart, now());
    const setAside =
      result.verdict.violations.length > 0 &&
      stalled(stall) &&
      inconclusive.length < MAX_STALLED_ROUNDS;
    if (setAside) {
      inconclusive.push({ ...result, stall });
      progress(
        `${describeRound(scenario, backend, result)}; INCONCLUSIVE, ${describeStall(stall)}: running it again`,
      );
      continue;
    }
    rounds.push(result);
    progress(describeRound(scenario, backend, result));
  }
  return { scenario, backend, rounds, inconclusive };
}

async function runRound(
  plan: RunPlan,
  lab: Lab,
  pool: StorePool,
  scenario: Scenario,
  backend: Backend,
  number: number,
): Promise<RoundResult> {
  const timing = {
    ...plan.timing,
    ttlMs: scenario.ttlMs ?? plan.timing.ttlMs,
    pollMs: scenario.pollMs ?? plan.timing.pollMs,
    answerTimeoutMs: scenario.answerTimeoutMs ?? plan.timing.answerTimeoutMs,
  };
  const election = `${plan.labPrefix}-${scenario.name}-${backend}-${number}-${randomBytes(2).toString('hex')}`;
  let error: unknown = null;
  let round: Round | null = null;
  try {
    const store = await pool.plain(backend);
    round = new Round(
      scenario.name,
      backend,
      number,
      election,
      plan.namespace,
      store,
      lab,
      timing,
      failoverBoundMs(scenario, timing),
      plan.commands,
      scenario.elections,
    );
    await scenario.run(round);
  } catch (caught) {
    error = caught;
  }
  const history =
    round === null
      ? unstartedRound(scenario, backend, number, election, timing, error)
      : await round.finish(error);
  const file = join(
    plan.outDir,
    `${scenario.name}-${backend}-${String(number).padStart(3, '0')}.json`,
  );
  writeHistory(file, history);
  // What the sidecars logged, for a failure's story (`leasehold run` logs its command too).
  if (round !== null) writeFileSync(file.replace(/\.json$/, '.log'), round.logs());
  return { round: number, file, ...sortOut(checkRound(history), scenario) };
}

/** Set apart the violations a known defect of the scenario explains. */
function sortOut(verdict: RoundVerdict, scenario: Scenario): Omit<RoundResult, 'round' | 'file'> {
  const known: RoundResult['known'][number][] = [];
  const violations = verdict.violations.filter((violation) => {
    const defect = scenario.knownDefects?.find((d) => d.kind === violation.kind);
    if (defect !== undefined) known.push({ ...violation, defect: defect.defect });
    return defect === undefined;
  });
  return { verdict: { ...verdict, violations }, known };
}

/** The history of a round whose store never came up. */
function unstartedRound(
  scenario: Scenario,
  backend: Backend,
  number: number,
  election: string,
  timing: Timing,
  error: unknown,
) {
  return {
    scenario: scenario.name,
    backend,
    round: number,
    election,
    ttlMs: timing.ttlMs,
    failoverBoundMs: failoverBoundMs(scenario, timing),
    startedAt: 0,
    endedAt: 0,
    answers: [],
    changes: [],
    marks: [],
    checks: [],
    jobs: null,
    error: `the store did not start: ${error instanceof Error ? error.message : String(error)}`,
  };
}

function describeRound(scenario: Scenario, backend: Backend, result: RoundResult): string {
  const { verdict } = result;
  const failover =
    verdict.maxFailoverMs === null ? '-' : `${(verdict.maxFailoverMs / 1000).toFixed(2)} s`;
  const known =
    result.known.length === 0 ? '' : `, ${result.known.length} explained by a known defect`;
  const status =
    verdict.violations.length === 0
      ? `ok${known}`
      : `${verdict.violations.length} VIOLATION(S): ${verdict.violations.map((v) => v.kind).join(', ')}${known}`;
  return `${scenario.name} on ${backend}, round ${result.round}: ${status} (max failover ${failover}, ${verdict.terms} terms, ${verdict.answers} answers${jobs(verdict)})`;
}

function jobs(verdict: RoundVerdict): string {
  if (verdict.jobStamps === 0) return '';
  const gap = verdict.maxJobGapMs === null ? '-' : `${(verdict.maxJobGapMs / 1000).toFixed(2)} s`;
  return `, ${verdict.jobStamps} job stamps, max job gap ${gap}`;
}
