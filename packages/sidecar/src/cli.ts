import type { Elector } from '@leasehold/core';
import { Command, CommanderError, Option } from 'commander';
import {
  FIELDS,
  SECRET_FILE_OPTIONS,
  describeConfig,
  helpText,
  loadConfig,
  type SidecarConfig,
} from './config.js';
import type { Logger } from 'pino';
import { LeaderOnlyCommand, findExecutable } from './run.js';
import { createLogger, serve, type Attachment } from './serve.js';
import {
  EXIT_CONFIGURATION,
  EXIT_ENVIRONMENT,
  StartupFailure,
  exitOnStartupFailure,
} from './startup-failure.js';
import { commandGraceMs, commandGraceProblem } from './stop-plan.js';
import { onShutdownSignals } from './shutdown-signals.js';
import { statusUrl } from './status-target.js';
import { version } from './version.js';
import { yaml } from './yaml.js';

/**
 * `leasehold` — serve (default), `run`, `config`, `status`. Exit codes: 0 clean; a failure at
 * start-up is one line and 2 (a value to change) or 1 (the environment), see
 * startup-failure.ts; 1 when a shutdown outlasts its grace period.
 */

/** The configuration flags; `serve` leaves out those only `run` reads. */
function addConfigOptions(command: Command, forServe = false): Command {
  command.addOption(
    new Option('--config <file>', 'YAML configuration file').env('LEASEHOLD_CONFIG'),
  );
  for (const f of FIELDS) {
    if (forServe && 'runOnly' in f && f.runOnly) continue;
    command.addOption(new Option(`--${f.flag} <value>`, helpText(f)));
    const secretFile = SECRET_FILE_OPTIONS.find((o) => o.key === f.key);
    if (secretFile !== undefined) {
      command.addOption(
        new Option(`--${secretFile.flag} <file>`, `${secretFile.description} [${secretFile.env}]`),
      );
    }
  }
  return command;
}

function configFrom(options: Record<string, string | undefined>): SidecarConfig {
  const flags: Record<string, string | undefined> = {};
  for (const { flag } of [...FIELDS, ...SECRET_FILE_OPTIONS]) flags[flag] = options[camel(flag)];
  return loadConfig({ flags, env: process.env, configFile: options.config });
}

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_m, letter: string) => letter.toUpperCase());
}

function configOrExit(options: Record<string, string | undefined>): SidecarConfig {
  try {
    return configFrom(options);
  } catch (error) {
    exitOnStartupFailure(error);
  }
}

async function start(
  options: Record<string, string | undefined>,
  check: (config: SidecarConfig) => Error | null = () => null,
  attach?: Parameters<typeof serve>[2],
) {
  const config = configOrExit(options);
  const invalid = check(config);
  if (invalid !== null) exitOnStartupFailure(invalid, config);
  const logger = createLogger(config);
  for (const warning of config.warnings) logger.warn({ event: 'secret-exposed' }, warning);
  const running = serve(config, logger, attach);
  // Handled from now, not once serve() resolves: it logs the sidecar's address before it
  // returns, and a supervisor that stops the sidecar as soon as it reads that line must
  // reach the clean shutdown, not the default action of an unhandled SIGTERM.
  onShutdownSignals(config, logger, async (signal) => (await running).shutdown(signal));
  try {
    return { config, logger, running: await running };
  } catch (error) {
    logger.flush();
    exitOnStartupFailure(error, config);
  }
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('leasehold')
    .description('Leader election sidecar: tells your app over localhost HTTP whether it leads.')
    .version(version, '-v, --version')
    .addHelpText(
      'after',
      '\nEvery option, its LEASEHOLD_* variable and its default: leasehold serve --help ' +
        '(leasehold run --help adds the command\u2019s own)',
    );
  oneLineUsageErrors(program);
  addServeCommand(program);
  addRunCommand(program);
  addConfigCommand(program);
  addStatusCommand(program);
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError && error.exitCode === 0) process.exit(0);
    exitOnStartupFailure(
      error instanceof CommanderError
        ? new StartupFailure(
            `${error.message.replace(/^error: /, '')} (leasehold --help lists the options)`,
            EXIT_CONFIGURATION,
          )
        : error,
    );
  }
}

function addServeCommand(program: Command): void {
  addConfigOptions(
    program.command('serve', { isDefault: true }).description('run the sidecar (default)'),
    true,
  ).action(async (options: Record<string, string | undefined>) => {
    await start(options);
  });
}

function addRunCommand(program: Command): void {
  addConfigOptions(
    program
      .command('run')
      .description(
        'run a command only while this instance leads: started when elected (LEASEHOLD_TERM ' +
          'in its environment), stopped (SIGTERM, then SIGKILL) before the lease can pass to ' +
          'another instance, by a watchdog process if the sidecar freezes or dies; resign when ' +
          'it exits. See docs/run.md',
      )
      .argument('<command...>', 'the command and its arguments, after --')
      .usage('[options] -- <command...>'),
  ).action(async (commandLine: string[], options: Record<string, string | undefined>) => {
    const [command = '', ...args] = commandLine;
    if (findExecutable(command) === null) {
      exitOnStartupFailure(
        new StartupFailure(
          `invalid command: ${JSON.stringify(command)}; an executable file, by path or on PATH`,
          EXIT_CONFIGURATION,
        ),
      );
    }
    // Attached before the election starts: an election won during start-up is not missed.
    const attach = (elector: Elector, log: Logger, config: SidecarConfig): Attachment => {
      const graceMs = commandGraceMs(config);
      if (config.sources.commandGraceMs === undefined) {
        log.info(
          { event: 'command-grace', commandGraceMs: graceMs },
          `command grace ${graceMs} ms: --command-grace not set, the most that fits the lease (at most 5 s)`,
        );
      }
      const leaderOnly = new LeaderOnlyCommand({
        command,
        args,
        elector,
        graceMs,
        passEnv: config.passEnv,
        logger: log,
      });
      return {
        stop: () => leaderOnly.stop(),
        resign: () => leaderOnly.resign(),
        status: () => leaderOnly.status(),
      };
    };
    // The shutdown stops the command before it releases leadership (see serve()).
    await start(options, commandGraceProblem, attach);
  });
}

function addConfigCommand(program: Command): void {
  addConfigOptions(
    program.command('config').description('print the effective configuration (secrets masked)'),
  ).action((options: Record<string, string | undefined>) => {
    const config = configOrExit(options);
    for (const warning of config.warnings) process.stderr.write(`leasehold: warning: ${warning}\n`);
    process.stdout.write(yaml().stringify(describeConfig(config)));
  });
}

function addStatusCommand(program: Command): void {
  program
    .command('status')
    .description('ask a running sidecar and print a summary')
    .option('--url <url>', 'the sidecar to ask [LEASEHOLD_URL] (default: from --host and --port)')
    .option(
      '--host <host>',
      'the host the sidecar listens on [LEASEHOLD_HOST] (default: 127.0.0.1)',
    )
    .option('--port <port>', 'the port the sidecar listens on [LEASEHOLD_PORT] (default: 4040)')
    .action(async (flags: { url?: string; host?: string; port?: string }) => {
      let url: string;
      try {
        url = statusUrl({ flags, env: process.env });
      } catch (error) {
        exitOnStartupFailure(error);
      }
      let body: Record<string, unknown>;
      try {
        const response = await fetch(new URL('/v1/leader', url), {
          signal: AbortSignal.timeout(5_000),
        });
        body = (await response.json()) as Record<string, unknown>;
      } catch (error) {
        exitOnStartupFailure(
          new StartupFailure(
            `no sidecar answered at ${url} (${(error as Error).message}); start one, or give --port / LEASEHOLD_PORT or --url / LEASEHOLD_URL`,
            EXIT_ENVIRONMENT,
          ),
        );
      }
      const command = await commandStatus(url);
      process.stdout.write(`${[...statusLines(body), ...commandLines(command)].join('\n')}\n`);
    });
}

interface CommandAnswer {
  readonly command: string | null;
  readonly running: boolean;
  readonly restarts: number;
  readonly backoffMs: number;
  readonly backoffUntil: string | null;
}

/** GET /v1/command: `command` is null from a plain sidecar; null if it cannot be read. */
async function commandStatus(url: string): Promise<CommandAnswer | null> {
  try {
    const response = await fetch(new URL('/v1/command', url), {
      signal: AbortSignal.timeout(5_000),
    });
    return response.ok ? ((await response.json()) as CommandAnswer) : null;
  } catch {
    return null;
  }
}

/** `leasehold status`: the command of `leasehold run`, when there is one. */
function commandLines(command: CommandAnswer | null): string[] {
  if (command?.command == null) return [];
  const waitMs = command.backoffUntil === null ? 0 : Date.parse(command.backoffUntil) - Date.now();
  const state = command.running
    ? 'running here'
    : waitMs > 0
      ? `backing off: competes again in ${(waitMs / 1000).toFixed(1)} s (wait ${command.backoffMs / 1000} s)`
      : 'not running here';
  return [`command    ${command.command}: ${state}; ended by itself ${command.restarts} times`];
}

/** `leasehold status`: a /v1/leader answer for a person. */
function statusLines(body: Record<string, unknown>): string[] {
  const store = body.store as { healthy: boolean; error: { message: string } | null };
  return [
    `election   ${String(body.election)} (${String(body.backend)})`,
    `leader     ${body.leader === null ? '(none known)' : String(body.leader)}${body.isLeader === true ? '  ← this instance' : ''}`,
    `term       ${body.term === null ? '-' : String(body.term)}`,
    `since      ${body.since === null ? '-' : String(body.since)}`,
    `this       ${String(body.self)}${body.isLeader === true ? `, leads for ${String(body.leaseRemainingMs)} ms more unless renewed` : ', follower'}`,
    `store      ${store.healthy ? 'healthy' : `UNAVAILABLE: ${store.error?.message ?? ''}`}`,
  ];
}

/**
 * A mistyped flag or command: one line and exit code 2, like any other bad value, instead
 * of commander's message followed by the whole help text. --help and --version still print.
 * Subcommands inherit both settings when they are added, so this comes first.
 */
function oneLineUsageErrors(program: Command): void {
  program.exitOverride();
  program.configureOutput({ outputError: () => {} });
}
