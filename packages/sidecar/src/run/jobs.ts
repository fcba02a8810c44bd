import type { Elector } from '@leasehold/core';
import type { Logger } from 'pino';
import { asFirstElection } from '../config/elections.js';
import type { SidecarConfig } from '../config/fields.js';
import { asJob, type JobSettings } from '../config/jobs.js';
import type { Attachment } from '../sidecar.js';
import { EXIT_CONFIGURATION, StartupFailure } from '../startup-failure.js';
import { LeaderOnlyCommand, findExecutable } from './run.js';
import { commandGraceMs, commandGraceProblem } from './stop-plan.js';

/**
 * The leader-only commands of one `leasehold run` (docs/run.md): the one command after
 * `--`, under the first election, or the config file's `jobs:`, each under its own
 * election; checked at start-up, and each attached to its election's elector.
 */

/**
 * What `leasehold run` runs: the one command after `--`, under the first election, or the
 * config file's jobs, each under its own election.
 */
export function jobsToRun(
  config: SidecarConfig,
  commandLine: readonly string[],
): readonly JobSettings[] {
  const [command, ...args] = commandLine;
  if (command === undefined) return config.jobs;
  return [
    { election: config.election, command, args, commandGrace: undefined, passEnv: config.passEnv },
  ];
}

/** Why `leasehold run` cannot start with this configuration (exit 2, one line), or null. */
export function runProblem(config: SidecarConfig, commandLine: readonly string[]): Error | null {
  if (commandLine.length > 0 && config.jobs.length > 0) {
    return new StartupFailure(
      `invalid jobs (config file key jobs): both a command after -- and jobs: in ${config.configFile ?? 'the config file'} are given; keep one`,
      EXIT_CONFIGURATION,
    );
  }
  const jobs = jobsToRun(config, commandLine);
  if (jobs.length === 0) {
    return new StartupFailure(
      'invalid command: none given; leasehold run -- <command...>, or jobs: in the config file (docs/run.md)',
      EXIT_CONFIGURATION,
    );
  }
  for (const job of jobs) {
    if (findExecutable(job.command) === null) {
      return new StartupFailure(
        `invalid command${commandLine.length > 0 ? '' : ` (config file key jobs[${config.jobs.indexOf(job)}].command)`}: ${JSON.stringify(job.command)}; an executable file, by path or on PATH`,
        EXIT_CONFIGURATION,
      );
    }
    // Each job runs under its election: its grace must fit that election's lease.
    const problem = commandGraceProblem(jobConfig(config, job));
    if (problem !== null) return problem;
  }
  return null;
}

/** The configuration a job runs with: the one command's is the first election's. */
function jobConfig(config: SidecarConfig, job: JobSettings): SidecarConfig {
  return config.jobs.includes(job) ? asJob(config, job) : asFirstElection(config);
}

/** One job on its election's elector: its own watchdog, backoff, resign and hand-over. */
export function attachJob(
  job: JobSettings,
  elector: Elector,
  log: Logger,
  config: SidecarConfig,
): Attachment {
  const settings = jobConfig(config, job);
  const graceMs = commandGraceMs(settings);
  if (settings.sources.commandGraceMs === undefined) {
    log.info(
      { event: 'command-grace', commandGraceMs: graceMs },
      `command grace ${graceMs} ms: --command-grace not set, the most that fits the lease (at most 5 s)`,
    );
  }
  const leaderOnly = new LeaderOnlyCommand({
    command: job.command,
    args: job.args,
    elector,
    graceMs,
    passEnv: settings.passEnv,
    logger: log,
  });
  return {
    stop: () => leaderOnly.stop(),
    resign: () => leaderOnly.resign(),
    beforeHandOver: () => leaderOnly.beforeHandOver(),
    status: () => leaderOnly.status(),
  };
}
