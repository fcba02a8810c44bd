import { maskUrl, urlSecrets } from '@leasehold/adapters';
import { isConfigurationFault, LeaseholdConfigError, LeaseholdError } from '@leasehold/core';
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { ConfigFileError } from './config/config-file.js';
import { ConfigValueError, describeSource, invalidSetting } from './config/config-errors.js';
import { type SettingKey, type SidecarConfig } from './config/fields.js';

/**
 * Every failure before the sidecar is up, for every command, becomes one line on stderr and
 * an exit code: 2 when a value must change (a flag, a variable, a YAML key, a file it names),
 * 1 when the environment is at fault (the port is taken, the store refused us). Never a stack
 * trace, never a secret. docs/errors.md lists the lines under "Start-up failures".
 */

export const EXIT_CONFIGURATION = 2;
export const EXIT_ENVIRONMENT = 1;
export type StartupExitCode = typeof EXIT_CONFIGURATION | typeof EXIT_ENVIRONMENT;

/** A start-up failure the sidecar has already put into words. */
export class StartupFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: StartupExitCode,
  ) {
    super(message);
    this.name = 'StartupFailure';
  }
}

export interface DescribedFailure {
  readonly line: string;
  readonly exitCode: StartupExitCode;
}

/** The line and exit code for an error thrown before the sidecar was up. */
export function describeStartupFailure(error: unknown, config?: SidecarConfig): DescribedFailure {
  const { message, exitCode } = classify(error, config);
  const oneLine = message.replace(/\s*\n\s*/g, ' ').trim();
  return { line: `leasehold: ${redact(oneLine, config)}`, exitCode };
}

/** Print the line and exit. For every command, before it is up. */
export function exitOnStartupFailure(error: unknown, config?: SidecarConfig): never {
  const { line, exitCode } = describeStartupFailure(error, config);
  process.stderr.write(`${line}\n`);
  process.exit(exitCode);
}

function classify(
  error: unknown,
  config: SidecarConfig | undefined,
): { message: string; exitCode: StartupExitCode } {
  if (error instanceof StartupFailure) return error;
  if (error instanceof ConfigFileError || error instanceof ConfigValueError) {
    return { message: error.message, exitCode: EXIT_CONFIGURATION };
  }
  if (error instanceof LeaseholdConfigError && config !== undefined) {
    return { message: inUserWords(error, config), exitCode: EXIT_CONFIGURATION };
  }
  if (error instanceof LeaseholdError) {
    const exitCode = isConfigurationFault(error.code) ? EXIT_CONFIGURATION : EXIT_ENVIRONMENT;
    return { message: error.message, exitCode };
  }
  const listen = listenFailure(error);
  if (listen !== null) return { message: listen, exitCode: EXIT_ENVIRONMENT };
  const text = error instanceof Error ? error.message : String(error);
  return {
    message: `unexpected failure at start-up: ${text.split('\n')[0] ?? ''}`,
    exitCode: EXIT_ENVIRONMENT,
  };
}

/**
 * The adapters' option names (`StoreOptions`) for values the user gave as a setting: a
 * refusal names the flag, variable or YAML key and the value as written (`--ttl 11m`, not
 * `ttl: 660000`; `--store-ca`, not `tls.ca`).
 */
const ADAPTER_OPTION_SETTINGS: Readonly<Record<string, SettingKey>> = {
  namespace: 'namespace',
  ttl: 'ttlMs',
  'tls.ca': 'storeCa',
  'tls.cert': 'storeCert',
  'tls.key': 'storeKey',
};

/**
 * A store adapter or the elector refused a value: say which setting it came from. Adapters
 * name parts of the store URL ("store parameter bogus", "store host"), or an option of
 * theirs (ADAPTER_OPTION_SETTINGS).
 */
function inUserWords(error: LeaseholdConfigError, config: SidecarConfig): string {
  const setting = ADAPTER_OPTION_SETTINGS[error.field];
  if (setting !== undefined) {
    const accepted = error.accepted.replace(/\btls\.(ca|cert|key)\b/g, '--store-$1');
    return invalidSetting(config, setting, accepted).message;
  }
  if (!error.field.startsWith('store')) return error.message;
  const where = describeSource(config.sources.store ?? { kind: 'default' });
  const value = typeof error.value === 'string' ? JSON.stringify(error.value) : String(error.value);
  return `invalid ${error.field} (${where}): ${value}; ${error.accepted}`;
}

type ListenError = NodeJS.ErrnoException & { address?: string; port?: number };

/** The HTTP port could not be bound: say which address, why, and what to change. */
function listenFailure(error: unknown): string | null {
  const failure = error as ListenError | null;
  if (failure === null || typeof failure !== 'object' || failure.syscall !== 'listen') {
    return null;
  }
  const host = failure.address ?? '';
  const where = `${host.includes(':') ? `[${host}]` : host}${failure.port === undefined ? '' : `:${failure.port}`}`;
  switch (failure.code) {
    case 'EADDRINUSE':
      return `cannot listen on ${where}: the address is already in use (another leasehold, or your app, on that port?); choose a free port with --port or LEASEHOLD_PORT, or --port 0 for any free port`;
    case 'EACCES': {
      const lowest = unprivilegedPortStart();
      return `cannot listen on ${where}: permission denied; ports below ${lowest} need root or CAP_NET_BIND_SERVICE and this runs as ${userName()}; choose a port from ${lowest} up with --port or LEASEHOLD_PORT`;
    }
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${where}: ${host} is not an address of this host; set --host or LEASEHOLD_HOST to one of its addresses (127.0.0.1 by default)`;
    default:
      return `cannot listen on ${where}: ${failure.code ?? failure.message}`;
  }
}

function unprivilegedPortStart(): number {
  try {
    const value = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
    return Number.isInteger(value) ? value : 1024;
  } catch {
    return 1024;
  }
}

function userName(): string {
  try {
    return `user ${userInfo().username}`;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}

/** Whatever a driver put into a message, the configured secrets never reach the terminal. */
function redact(line: string, config: SidecarConfig | undefined): string {
  if (config === undefined) return line;
  const secrets = [config.adminToken, ...urlSecrets(config.store)].filter(
    (secret): secret is string => secret !== undefined && secret.length >= 3,
  );
  return secrets.reduce(
    (text, secret) => text.replaceAll(secret, '***'),
    line.replaceAll(config.store, maskUrl(config.store)),
  );
}
