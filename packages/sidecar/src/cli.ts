import { LeaseholdConfigError } from '@leasehold/core';
import { Command, Option } from 'commander';
import {
  ConfigValueError,
  FIELDS,
  describeConfig,
  loadConfig,
  type SidecarConfig,
} from './config.js';
import type { Logger } from 'pino';
import { LeaderOnlyCommand, findExecutable } from './run.js';
import { createLogger, isFatalStartupError, serve } from './serve.js';
import { version } from './version.js';
import { yaml } from './yaml.js';

/**
 * `leasehold` — serve (default), `run`, `config`, `status`. Exit codes: 0 clean, 1 failure at run
 * time, 2 bad configuration (one line naming the field, the value and what is accepted).
 */

function addConfigOptions(command: Command): Command {
  command.addOption(
    new Option('--config <file>', 'YAML configuration file').env('LEASEHOLD_CONFIG'),
  );
  for (const f of FIELDS)
    command.addOption(new Option(`--${f.flag} <value>`, `${f.description} [${f.env}]`));
  return command;
}

function configFrom(options: Record<string, string | undefined>): SidecarConfig {
  const flags: Record<string, string | undefined> = {};
  for (const f of FIELDS) flags[f.flag] = options[camel(f.flag)];
  return loadConfig({ flags, env: process.env, configFile: options.config });
}

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_m, letter: string) => letter.toUpperCase());
}

function failConfig(error: unknown): never {
  if (error instanceof ConfigValueError || isFatalStartupError(error)) {
    process.stderr.write(`leasehold: ${(error as Error).message}\n`);
    process.exit(2);
  }
  throw error;
}

async function start(
  options: Record<string, string | undefined>,
  check: (config: SidecarConfig) => LeaseholdConfigError | null = () => null,
) {
  let config: SidecarConfig;
  try {
    config = configFrom(options);
  } catch (error) {
    failConfig(error);
  }
  const invalid = check(config);
  if (invalid !== null) failConfig(invalid);
  const logger = createLogger(config);
  try {
    return { config, logger, running: await serve(config, logger) };
  } catch (error) {
    logger.flush();
    failConfig(error);
  }
}

/**
 * SIGTERM / SIGINT: shut down cleanly and exit 0, or 1 when that outlasts the grace period;
 * a second signal exits at once.
 */
function onShutdownSignals(
  config: SidecarConfig,
  logger: Logger,
  shutdown: (signal: NodeJS.Signals) => Promise<void>,
): void {
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting at once');
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    const grace = setTimeout(() => {
      logger.error(
        { graceMs: config.shutdownGraceMs },
        'shutdown took longer than the grace period; exiting',
      );
      process.exit(1);
    }, config.shutdownGraceMs);
    grace.unref();
    shutdown(signal).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('leasehold')
    .description('Leader election sidecar: tells your app over localhost HTTP whether it leads.')
    .version(version, '-v, --version')
    .showHelpAfterError();

  addConfigOptions(
    program.command('serve', { isDefault: true }).description('run the sidecar (default)'),
  ).action(async (options: Record<string, string | undefined>) => {
    const { config, logger, running } = await start(options);
    onShutdownSignals(config, logger, (signal) => running.shutdown(signal));
  });

  addConfigOptions(
    program
      .command('run')
      .description(
        'run a command only while this instance leads: started when elected (LEASEHOLD_TERM ' +
          'in its environment), SIGTERM then SIGKILL when leadership ends; resign when it exits',
      )
      .argument('<command...>', 'the command and its arguments, after --')
      .usage('[options] -- <command...>'),
  ).action(async (commandLine: string[], options: Record<string, string | undefined>) => {
    const [command = '', ...args] = commandLine;
    if (findExecutable(command) === null) {
      process.stderr.write(
        `leasehold: invalid command: ${JSON.stringify(command)}; an executable file, by path or on PATH\n`,
      );
      process.exit(2);
    }
    const { config, logger, running } = await start(options, (checked) =>
      // The command must be gone before the sidecar gives up on its own shutdown.
      checked.commandGraceMs < checked.shutdownGraceMs
        ? null
        : new LeaseholdConfigError(
            'commandGraceMs',
            checked.commandGraceMs,
            `less than shutdownGraceMs (${checked.shutdownGraceMs})`,
          ),
    );
    const leaderOnly = new LeaderOnlyCommand({
      command,
      args,
      elector: running.elector,
      graceMs: config.commandGraceMs,
      logger: running.logger,
    });
    // The command stops before leadership is released: never two running at once.
    onShutdownSignals(config, logger, async (signal) => {
      await leaderOnly.stop();
      await running.shutdown(signal);
    });
  });

  addConfigOptions(
    program.command('config').description('print the effective configuration (secrets masked)'),
  ).action((options: Record<string, string | undefined>) => {
    let config: SidecarConfig;
    try {
      config = configFrom(options);
    } catch (error) {
      failConfig(error);
    }
    process.stdout.write(yaml().stringify(describeConfig(config)));
  });

  program
    .command('status')
    .description('ask a running sidecar and print a summary')
    .option(
      '--url <url>',
      'the sidecar to ask',
      process.env.LEASEHOLD_URL ?? 'http://127.0.0.1:4040',
    )
    .action(async (options: { url: string }) => {
      let body: Record<string, unknown>;
      try {
        const response = await fetch(new URL('/v1/leader', options.url), {
          signal: AbortSignal.timeout(5_000),
        });
        body = (await response.json()) as Record<string, unknown>;
      } catch (error) {
        process.stderr.write(
          `leasehold: no sidecar answered at ${options.url} (${(error as Error).message})\n`,
        );
        process.exit(1);
      }
      const store = body.store as { healthy: boolean; error: { message: string } | null };
      const lines = [
        `election   ${String(body.election)} (${String(body.backend)})`,
        `leader     ${body.leader === null ? '(none known)' : String(body.leader)}${body.isLeader === true ? '  ← this instance' : ''}`,
        `term       ${body.term === null ? '-' : String(body.term)}`,
        `since      ${body.since === null ? '-' : String(body.since)}`,
        `this       ${String(body.self)}${body.isLeader === true ? `, leads for ${String(body.leaseRemainingMs)} ms more unless renewed` : ', follower'}`,
        `store      ${store.healthy ? 'healthy' : `UNAVAILABLE: ${store.error?.message ?? ''}`}`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });

  await program.parseAsync(argv);
}
