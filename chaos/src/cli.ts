import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { killEveryJob } from './commands.js';
import { labInUse } from './lab.js';
import { killEveryGroup } from '@leasehold/testkit';
import {
  formatKnownDefects,
  formatTable,
  formatViolations,
  summaryJson,
  violationCount,
} from './report.js';
import { DEFAULT_TIMING, runChaos, type RunPlan } from './runner.js';
import { SCENARIOS, type Scenario } from './scenarios/index.js';
import { BACKENDS } from '@leasehold/testkit';

/**
 * `pnpm chaos [--backend B] [--scenario NAME] [--minutes N] [--rounds N] [--out DIR] [--commands]`:
 * real sidecars, real private stores, real faults; exit 0 when every round held, 1 on any
 * violation, 2 on a bad argument.
 */

const USAGE = `usage: pnpm chaos [--backend redis|redis-cluster|postgres|pgbouncer|etcd|zookeeper|sqlite|all]
                  [--scenario NAME[,NAME…]] [--minutes N | --rounds N] [--out DIR]
                  [--commands] [--lab-prefix lhch] [--list]

Runs real leasehold sidecars against private stores under faults, records every answer of
GET /v1/leader, and checks that no two sidecars led at once, that no sidecar saw a term go
backwards, and that every failover stayed within its bound. Backend pgbouncer: PostgreSQL
behind PgBouncer in session pooling; redis-cluster: three masters with a replica each. With --commands every sidecar runs as
\`leasehold run -- <job>\`, the job stamps its term and time while it runs, and no two jobs
may run at once nor a job run on after a newer term was granted; the scenarios that fault
the job and its watchdogs run only then. Needs root (network namespaces).`;

class UsageError extends Error {}

interface Options {
  readonly plan: Omit<RunPlan, 'signal'>;
  readonly list: boolean;
}

function parse(argv: readonly string[]): Options {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        backend: { type: 'string', default: 'all' },
        scenario: { type: 'string', default: 'all' },
        minutes: { type: 'string' },
        rounds: { type: 'string', default: '1' },
        out: { type: 'string' },
        'lab-prefix': { type: 'string', default: 'lhch' },
        commands: { type: 'boolean', default: false },
        list: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const backends = pick('--backend', values.backend, BACKENDS, (b) => b);
  const scenarios = pick('--scenario', values.scenario, SCENARIOS, (s) => s.name);
  const minutes = values.minutes === undefined ? null : positive('--minutes', values.minutes);
  const rounds = positive('--rounds', values.rounds);
  const labPrefix = values['lab-prefix'];
  if (!/^[a-z][a-z0-9]{1,5}$/.test(labPrefix)) {
    throw new UsageError(
      `invalid --lab-prefix: ${JSON.stringify(labPrefix)}; 2-6 lower-case letters or digits, starting with a letter`,
    );
  }
  const needsCommands = scenarios.filter((s) => s.commandsOnly === true);
  if (values.scenario !== 'all' && !values.commands && needsCommands.length > 0) {
    throw new UsageError(
      `invalid --scenario: ${needsCommands.map((s) => s.name).join(',')} needs --commands (a job to fault)`,
    );
  }
  if (!scenarios.some((s) => backends.some((b) => s.backends.includes(b)))) {
    throw new UsageError(
      `invalid --scenario: ${JSON.stringify(values.scenario)} runs on none of ${backends.join(', ')}`,
    );
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return {
    list: values.list,
    plan: {
      scenarios,
      backends,
      rounds: Math.ceil(rounds),
      minutes,
      outDir: values.out ?? join('chaos-results', stamp),
      labPrefix,
      namespace: 'lhch',
      timing: DEFAULT_TIMING,
      commands: values.commands,
    },
  };
}

/** Comma-separated names out of `all`, each one of them; the error names the flag. */
function pick<T>(flag: string, raw: string, all: readonly T[], name: (item: T) => string): T[] {
  if (raw === 'all') return [...all];
  const wanted = raw.split(',').map((part) => part.trim());
  const unknown = wanted.find((w) => !all.some((item) => name(item) === w));
  if (unknown !== undefined || wanted.length === 0) {
    throw new UsageError(
      `invalid ${flag}: ${JSON.stringify(raw)}; one or more of ${all.map(name).join(', ')} (comma-separated), or all`,
    );
  }
  return all.filter((item) => wanted.includes(name(item)));
}

function positive(flag: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new UsageError(`invalid ${flag}: ${JSON.stringify(raw)}; a number above 0`);
  }
  return value;
}

function listScenarios(): string {
  const width = Math.max(...SCENARIOS.map((s) => s.name.length));
  const backendsWidth = Math.max(...SCENARIOS.map((s) => s.backends.join(',').length));
  return SCENARIOS.map(
    (s: Scenario) =>
      `${s.name.padEnd(width)}  ${s.backends.join(',').padEnd(backendsWidth)}  ${s.summary}`,
  ).join('\n');
}

function preflight(labPrefix: string): void {
  if (process.getuid?.() !== 0) {
    throw new UsageError('needs root: the faults use network namespaces, nftables and tc');
  }
  const owner = labInUse(labPrefix);
  if (owner !== null) {
    throw new UsageError(
      `another chaos run (pid ${owner}) uses the lab prefix ${labPrefix}: wait for it, or pass --lab-prefix`,
    );
  }
  const cli = new URL('../../packages/sidecar/dist/cli.js', import.meta.url);
  if (!existsSync(cli)) throw new UsageError('the sidecar is not built: run `pnpm build` first');
}

async function main(argv: readonly string[]): Promise<number> {
  let options: Options;
  try {
    options = parse(argv);
    if (options.list) {
      process.stdout.write(`${listScenarios()}\n`);
      return 0;
    }
    preflight(options.plan.labPrefix);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`chaos: ${error.message}\n`);
    return 2;
  }
  const abort = new AbortController();
  const onSignal = (): void => {
    if (abort.signal.aborted) {
      killEveryGroup();
      killEveryJob();
      process.stderr.write('chaos: interrupted twice: killed everything it started\n');
      process.exit(130);
    }
    process.stderr.write('chaos: interrupted: stopping after this round (again to stop now)\n');
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const plan: RunPlan = { ...options.plan, signal: abort.signal };
  mkdirSync(plan.outDir, { recursive: true });
  process.stderr.write(`chaos: raw histories in ${plan.outDir}\n`);
  const results = await runChaos(plan, (line) => process.stderr.write(`chaos: ${line}\n`));
  const table = formatTable(results);
  const violations = formatViolations(results);
  const known = formatKnownDefects(results);
  const summary = [
    table,
    ...(violations === '' ? [] : [`Violations:\n${violations}`]),
    ...(known === '' ? [] : [`Known defects (reported, not counted as failures):\n${known}`]),
  ].join('\n\n');
  writeFileSync(join(plan.outDir, 'summary.md'), `${summary}\n`);
  writeFileSync(join(plan.outDir, 'summary.json'), summaryJson(results));
  process.stdout.write(`${summary}\n`);
  const count = violationCount(results);
  if (count > 0) {
    process.stdout.write(`\n${count} violation(s); raw histories in ${plan.outDir}\n`);
    return 1;
  }
  return abort.signal.aborted ? 130 : 0;
}

process.exitCode = await main(process.argv.slice(2));
