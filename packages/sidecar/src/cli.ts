import { Command, CommanderError, Option } from 'commander';
import { describeConfig, loadConfig } from './config/config.js';
import { FIELDS, SECRET_FILE_OPTIONS, helpText, type SidecarConfig } from './config/fields.js';
import { watchdogShellOrProblem } from './run/run.js';
import { attachJob, jobsToRun, runProblem } from './run/jobs.js';
import { createLogger, serve } from './sidecar.js';
import {
  EXIT_CONFIGURATION,
  EXIT_ENVIRONMENT,
  StartupFailure,
  exitOnStartupFailure,
} from './startup-failure.js';
import { onShutdownSignals } from './shutdown-signals.js';
import { statusUrl } from './status/status-target.js';
import { sidecarUrl, statusReport } from './status/status-command.js';
import {
  adminTokenOf,
  steer,
  steerAll,
  type SteerAction,
  type SteerResult,
} from './status/steer-command.js';
import { version } from './version.js';
import { yaml } from './config/yaml.js';
import { dropIpServernameWarning } from './config/ip-servername-warning.js';

/**
 * `leasehold` — serve (default), `run`, `config`, `status`. Exit codes: 0 clean; a failure at
 * start-up is one line and 2 (a value to change) or 1 (the environment), see
 * startup-failure.ts; 1 when a shutdown outlasts its grace period.
 */

/** The configuration flags; `serve` leaves out those only `run` reads. */
function addConfigOptions(command: Command, forServe = false): Command {
  command.addOption(
    new Option(
      '--config <file>',
      'YAML configuration file; elections: and shards: [{name, count}] (shard groups) are set there',
    ).env('LEASEHOLD_CONFIG'),
  );
  for (const f of FIELDS) {
    if (forServe && 'runOnly' in f && f.runOnly) continue;
    const value = 'bareFlag' in f && f.bareFlag ? '[value]' : '<value>';
    const option = new Option(`--${f.flag} ${value}`, helpText(f));
    // --election repeated names several elections, read as a comma-separated list.
    if (f.key === 'election') option.argParser(joinRepeated);
    command.addOption(option);
    // The former name still works, and is not offered: --help shows one name per setting.
    if (f.formerly !== undefined) {
      command.addOption(new Option(`--${f.formerly.flag} <value>`).hideHelp());
    }
    const secretFile = SECRET_FILE_OPTIONS.find((o) => o.key === f.key);
    if (secretFile !== undefined) {
      command.addOption(
        new Option(`--${secretFile.flag} <file>`, `${secretFile.description} [${secretFile.env}]`),
      );
    }
  }
  return command;
}

function joinRepeated(value: string, previous: string | undefined): string {
  return previous === undefined ? value : `${previous},${value}`;
}

/** Commander's values: a bare flag (`--standby`) is `true`, which the table reads as 'true'. */
type Options = Record<string, string | boolean | undefined>;

function configFrom(options: Options): SidecarConfig {
  const flags: Record<string, string | undefined> = {};
  const text = (value: string | boolean | undefined) =>
    value === true ? 'true' : value === false ? undefined : value;
  for (const { flag } of [...FIELDS, ...SECRET_FILE_OPTIONS])
    flags[flag] = text(options[camel(flag)]);
  for (const f of FIELDS) {
    if (f.formerly !== undefined) {
      flags[f.formerly.flag] = text(options[camel(f.formerly.flag)]);
    }
  }
  const configFile = options.config;
  return loadConfig({
    flags,
    env: process.env,
    configFile: typeof configFile === 'string' ? configFile : undefined,
  });
}

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_m, letter: string) => letter.toUpperCase());
}

function configOrExit(options: Options): SidecarConfig {
  try {
    return configFrom(options);
  } catch (error) {
    exitOnStartupFailure(error);
  }
}

async function start(
  options: Options,
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
  dropIpServernameWarning();
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
  addSteerCommands(program);
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError && error.exitCode === 0) process.exit(0);
    exitOnStartupFailure(
      error instanceof CommanderError
        ? new StartupFailure(
            `${error.message.replace(/^error: /, '')} (${helpHint(program, error, argv)})`,
            EXIT_CONFIGURATION,
          )
        : error,
    );
  }
}

/** Where the options are listed: each command's own help; the top level lists commands. */
function helpHint(program: Command, error: CommanderError, argv: readonly string[]): string {
  const names = new Set(program.commands.map((command) => command.name()));
  const command = argv.slice(2).find((arg) => names.has(arg));
  const unknownCommand =
    error.code === 'commander.unknownCommand' ||
    (command === undefined && error.code === 'commander.excessArguments');
  if (unknownCommand) return 'leasehold --help lists the commands';
  return `leasehold ${command ?? 'serve'} --help lists its options`;
}

function addServeCommand(program: Command): void {
  addConfigOptions(
    program.command('serve', { isDefault: true }).description('run the sidecar (default)'),
    true,
  ).action(async (options: Options) => {
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
          'it exits. Without -- <command...>, runs the jobs: of the config file, one per ' +
          'election. See docs/run.md',
      )
      .argument('[command...]', 'the command and its arguments, after --')
      .usage('[options] -- <command...>  |  leasehold run --config <file with jobs:>'),
  ).action(async (commandLine: string[], options: Options) => {
    const shell = watchdogShellOrProblem();
    if (shell instanceof Error) {
      exitOnStartupFailure(new StartupFailure(shell.message, EXIT_ENVIRONMENT));
    }
    // Attached before the elections start: an election won during start-up is not missed.
    // The shutdown stops every job before it releases leadership (see serve()).
    await start(
      options,
      (config) => runProblem(config, commandLine),
      (elector, log, config) => {
        const job = jobsToRun(config, commandLine).find((j) => j.election === elector.election);
        return job === undefined ? undefined : attachJob(job, elector, log, config);
      },
    );
  });
}

function addConfigCommand(program: Command): void {
  addConfigOptions(
    program.command('config').description('print the effective configuration (secrets masked)'),
  ).action((options: Options) => {
    const config = configOrExit(options);
    for (const warning of config.warnings) process.stderr.write(`leasehold: warning: ${warning}\n`);
    process.stdout.write(yaml().stringify(describeConfig(config)));
  });
}

/** Where `status`, `transfer`, `drain` and `undrain` find the sidecar to ask. */
interface TargetFlags {
  url?: string;
  host?: string;
  port?: string;
}

function addTargetOptions(command: Command): Command {
  return command
    .option('--url <url>', 'the sidecar to ask [LEASEHOLD_URL] (default: from --host and --port)')
    .option(
      '--host <host>',
      'the host the sidecar listens on [LEASEHOLD_HOST] (default: 127.0.0.1)',
    )
    .option('--port <port>', 'the port the sidecar listens on [LEASEHOLD_PORT] (default: 4040)');
}

function targetOf(flags: TargetFlags): URL {
  const url = statusUrl({ flags, env: process.env });
  const givenAs =
    flags.url !== undefined
      ? 'flag --url'
      : url === process.env.LEASEHOLD_URL
        ? 'environment LEASEHOLD_URL'
        : 'from --host and --port';
  return sidecarUrl(url, givenAs);
}

function addStatusCommand(program: Command): void {
  addTargetOptions(
    program.command('status').description('ask a running sidecar and print a summary'),
  )
    .option(
      '--election <name>',
      'summarise this election of a sidecar of several (default: its first)',
    )
    .action(async (flags: TargetFlags & { election?: string }) => {
      try {
        process.stdout.write(await statusReport(targetOf(flags), flags.election));
      } catch (error) {
        exitOnStartupFailure(error);
      }
    });
}

/** `transfer`, `drain`, `undrain`: an admin route of the local sidecar (docs/operations.md). */
function addSteerCommands(program: Command): void {
  const steerCommand = (name: string, description: string) =>
    addTargetOptions(program.command(name).description(description))
      .option(
        '--admin-token-file <file>',
        'file holding the sidecar\u2019s admin token [LEASEHOLD_ADMIN_TOKEN_FILE]',
      )
      .option(
        '--admin-token <token>',
        'the sidecar\u2019s admin token [LEASEHOLD_ADMIN_TOKEN] (prefer the file: a flag shows in ps)',
      )
      .option(
        '--election <name>',
        'the election to steer, of a sidecar of several (default: its first)',
      );
  steerCommand(
    'transfer',
    'hand leadership to the live candidate <id>: exit 0 once it leads, 1 with the reason if not',
  )
    .argument('<id>', 'the candidate to lead next')
    .action((to: string, flags: SteerFlags) => runSteer(flags, { kind: 'transfer', to }));
  steerCommand(
    'drain',
    'stop this candidate campaigning; if it leads, hand over to the first eligible candidate in line (exit 1 if it still leads)',
  )
    .option(
      '--force',
      'with nobody eligible to hand over to, resign anyway (nobody may lead for a while)',
    )
    .option(ALL_ELECTIONS, 'drain every election this sidecar serves (maintenance of the host)')
    .action((flags: SteerFlags & { force?: boolean }) =>
      runSteer(flags, { kind: 'drain', force: flags.force === true }),
    );
  steerCommand('undrain', 'let this candidate campaign again after drain or --standby')
    .option(ALL_ELECTIONS, 'undrain every election this sidecar serves')
    .action((flags: SteerFlags) => runSteer(flags, { kind: 'undrain' }));
}

const ALL_ELECTIONS = '--all-elections';

type SteerFlags = TargetFlags & {
  adminToken?: string;
  adminTokenFile?: string;
  election?: string;
  allElections?: boolean;
};

async function runSteer(flags: SteerFlags, action: SteerAction): Promise<void> {
  try {
    const token = adminTokenOf({ flags, env: process.env });
    const result = await steerTarget(flags, token, action);
    if (result.exitCode === 0) {
      process.stdout.write(`${result.line}\n`);
      return;
    }
    process.stderr.write(`leasehold: ${result.line}\n`);
    process.exitCode = 1;
  } catch (error) {
    exitOnStartupFailure(error);
  }
}

/** One election (`--election`, by default the first), or every one (`--all-elections`). */
function steerTarget(flags: SteerFlags, token: string, action: SteerAction): Promise<SteerResult> {
  if (flags.allElections !== true) return steer(targetOf(flags), token, action, flags.election);
  if (flags.election !== undefined) {
    throw new StartupFailure(
      `invalid election (flag --election): ${JSON.stringify(flags.election)}; give --election or ${ALL_ELECTIONS}, not both`,
      EXIT_CONFIGURATION,
    );
  }
  return steerAll(targetOf(flags), token, action);
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
