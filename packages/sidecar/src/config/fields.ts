import { CANDIDATE_ID, ELECTION_NAME, TIMING_DEFAULTS } from '@leasehold/core';
import { PORTABLE_NAMESPACE, SUPPORTED_SCHEMES } from '@leasehold/adapters';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { secondsText } from './timing.js';
import type { ElectionSettings } from './elections.js';
import type { JobSettings } from './jobs.js';
import type { ShardSettings } from './shards.js';

/**
 * The sidecar's settings: one table of fields drives the flags, the LEASEHOLD_*
 * environment, the YAML file, the defaults, `--help`, `leasehold config` and the error line
 * a bad value gets (read by config.ts, worded by config-errors.ts).
 */

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface SidecarConfig {
  readonly store: string;
  /** True when no store was configured and the embedded SQLite default is in use. */
  readonly storeIsDefault: boolean;
  readonly election: string;
  readonly id: string;
  readonly ttlMs: number;
  readonly renewIntervalMs: number | undefined;
  readonly retryIntervalMs: number;
  readonly priority: number;
  readonly host: string;
  readonly port: number;
  readonly adminToken: string | undefined;
  readonly logLevel: LogLevel;
  readonly namespace: string;
  readonly storeCa: string | undefined;
  readonly storeCert: string | undefined;
  readonly storeKey: string | undefined;
  readonly storeKeyPassphrase: string | undefined;
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  readonly allowInsecureAdmin: boolean;
  readonly shutdownGraceMs: number;
  readonly commandGraceMs: number;
  /** leasehold run: variables the command sees although they are withheld (job-env.ts). */
  readonly passEnv: readonly string[];
  /** Start drained: never lead until `leasehold undrain` (docs/design.md §3.6). */
  readonly standby: boolean;
  /** The app's version, published in the member record; the newest leads first. */
  readonly appVersion: string | undefined;
  /** Health gating by HTTP GET of this URL (2xx healthy), or by the command below. */
  readonly appHealthUrl: string | undefined;
  /** Health gating by this shell command (exit 0 healthy). */
  readonly appHealthCommand: string | undefined;
  readonly appHealthIntervalMs: number;
  /** Undefined: the interval. */
  readonly appHealthTimeoutMs: number | undefined;
  readonly appHealthFailures: number;
  readonly appHealthSuccesses: number;
  /** Undefined: the TTL. */
  readonly minTenureMs: number | undefined;
  readonly configFile: string | undefined;
  /**
   * Every election, the first one `election` names: each with its own timing and priority
   * (config/elections.ts). The unprefixed routes and `leasehold run` serve the first.
   */
  readonly elections: readonly ElectionSettings[];
  /** `leasehold run`'s leader-only commands from `jobs:`, one per election at most (config/jobs.ts). */
  readonly jobs: readonly JobSettings[];
  /** Shard groups (`shards:` in the YAML file, config/shards.ts); none when absent. */
  readonly shards?: readonly ShardSettings[];
  /** Where each setting came from and the text given there, so messages name what was typed. */
  readonly sources: ConfigSources;
  /** One line each, no secret in them: how the configuration exposes a secret. */
  readonly warnings: readonly string[];
}

/** The settings FIELDS describe (everything but what loadConfig derives). */
export type SettingKey = Exclude<
  keyof SidecarConfig,
  'storeIsDefault' | 'configFile' | 'sources' | 'warnings' | 'elections' | 'jobs' | 'shards'
>;

export type ConfigSources = Readonly<Partial<Record<SettingKey, ConfigSource>>>;

export const DEFAULT_STORE = 'sqlite://.leasehold/leasehold.db';

/**
 * Where a value came from, with its text as given there. A secret read from a file
 * (`--admin-token-file`) has the file's path too, and its contents as `raw`.
 */
export type ConfigSource =
  | {
      readonly kind: 'flag' | 'env' | 'file';
      readonly name: string;
      readonly raw: string;
      readonly path?: string;
    }
  | { readonly kind: 'default' };

export interface FormerSpelling {
  readonly flag: string;
  readonly env: string;
  readonly yaml: string;
}

interface Field<K extends SettingKey> {
  readonly key: K;
  readonly flag: string;
  readonly env: string;
  /** Key in the YAML file. */
  readonly yaml: string;
  /** The setting's former spelling, still accepted as flag, variable and YAML key. */
  readonly formerly?: FormerSpelling;
  readonly description: string;
  readonly accepted: string;
  readonly secret?: boolean;
  /** Read by `leasehold run` only: `leasehold serve` does not offer the flag. */
  readonly runOnly?: boolean;
  /** A true-or-false setting whose flag alone means true (`--standby`). */
  readonly bareFlag?: boolean;
  /** The default as `--help` and docs/configuration.md show it. */
  readonly defaultText: string;
  readonly defaultValue: () => SidecarConfig[K];
  readonly parse: (raw: string) => SidecarConfig[K] | Error;
}

const LOG_LEVELS: readonly LogLevel[] = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
];

/** `10s`, `500ms`, `2m`, `1h` or plain milliseconds. */
export function parseDuration(raw: string): number | Error {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(raw);
  if (match?.[1] === undefined) return new Error('not a duration');
  const factor = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[
    (match[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h'
  ];
  const ms = Number(match[1]) * factor;
  return Number.isSafeInteger(Math.round(ms)) ? Math.round(ms) : new Error('too large');
}

const duration = (raw: string): number | Error => parseDuration(raw);
const integer =
  (min: number, max: number) =>
  (raw: string): number | Error => {
    const value = Number(raw);
    return /^-?\d+$/.test(raw.trim()) && value >= min && value <= max
      ? value
      : new Error('out of range');
  };
const text =
  (pattern: RegExp) =>
  (raw: string): string | Error =>
    pattern.test(raw) ? raw : new Error('bad text');
const optionalText = (raw: string): string | undefined => (raw === '' ? undefined : raw);
const boolean = (raw: string): boolean | Error =>
  raw === 'true' ? true : raw === 'false' ? false : new Error('not a boolean');

/** Comma-separated election names, each valid: the first (config/elections.ts reads them all). */
function electionNames(raw: string): string | Error {
  const names = raw.split(',');
  return names.every((name) => ELECTION_NAME.pattern.test(name))
    ? (names[0] ?? raw)
    : new Error('name');
}

function defaultId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** Drain, version and health gating (docs/design.md §3.6, docs/operations.md). */
const STEERING_FIELDS = [
  field({
    key: 'standby',
    flag: 'standby',
    env: 'LEASEHOLD_STANDBY',
    yaml: 'standby',
    description:
      'Start drained: a candidate that never leads until `leasehold undrain` (a DR standby)',
    accepted: 'true or false (the flag alone means true)',
    bareFlag: true,
    defaultText: 'false',
    defaultValue: () => false,
    parse: boolean,
  }),
  field({
    key: 'appVersion',
    flag: 'app-version',
    env: 'LEASEHOLD_APP_VERSION',
    yaml: 'appVersion',
    description:
      'The app\u2019s version, in the member record: the highest (semver when it parses) leads first',
    accepted: '1 to 128 printable ASCII characters, such as 1.4.2',
    defaultText: 'none',
    defaultValue: () => undefined,
    parse: text(/^[\x21-\x7e]{1,128}$/),
  }),
  field({
    key: 'appHealthUrl',
    flag: 'app-health',
    env: 'LEASEHOLD_APP_HEALTH',
    yaml: 'appHealth',
    description:
      'Lead only while the app is healthy: HTTP GET of this URL every interval, 2xx healthy',
    accepted: 'an http:// or https:// URL',
    defaultText: 'none',
    defaultValue: () => undefined,
    parse: (raw) => (/^https?:\/\/[^\s]+$/.test(raw) ? raw : new Error('url')),
  }),
  field({
    key: 'appHealthCommand',
    flag: 'app-health-command',
    env: 'LEASEHOLD_APP_HEALTH_COMMAND',
    yaml: 'appHealthCommand',
    description:
      'Lead only while the app is healthy: this shell command every interval, exit 0 healthy',
    accepted: 'a shell command line (run with /bin/sh -c)',
    defaultText: 'none',
    defaultValue: () => undefined,
    parse: (raw) => (raw.trim() === '' ? new Error('empty') : raw),
  }),
  field({
    key: 'appHealthIntervalMs',
    flag: 'app-health-interval',
    env: 'LEASEHOLD_APP_HEALTH_INTERVAL',
    yaml: 'appHealthInterval',
    description: 'How often the app\u2019s health is checked',
    accepted: 'a duration such as 2s (at least 100ms)',
    defaultText: '2s',
    defaultValue: () => 2_000,
    parse: (raw) => {
      const ms = parseDuration(raw);
      return ms instanceof Error || ms >= 100 ? ms : new Error('short');
    },
  }),
  field({
    key: 'appHealthTimeoutMs',
    flag: 'app-health-timeout',
    env: 'LEASEHOLD_APP_HEALTH_TIMEOUT',
    yaml: 'appHealthTimeout',
    description: 'A health check not answered within this long fails',
    accepted: 'a duration such as 1s, at most the health interval',
    defaultText: 'the interval',
    defaultValue: () => undefined,
    parse: duration,
  }),
  field({
    key: 'appHealthFailures',
    flag: 'app-health-failures',
    env: 'LEASEHOLD_APP_HEALTH_FAILURES',
    yaml: 'appHealthFailures',
    description: 'Failed health checks in a row that make the app unhealthy',
    accepted: 'a whole number from 1 to 100',
    defaultText: '3',
    defaultValue: () => 3,
    parse: integer(1, 100),
  }),
  field({
    key: 'appHealthSuccesses',
    flag: 'app-health-successes',
    env: 'LEASEHOLD_APP_HEALTH_SUCCESSES',
    yaml: 'appHealthSuccesses',
    description: 'Passed health checks in a row that make the app healthy',
    accepted: 'a whole number from 1 to 100',
    defaultText: '1',
    defaultValue: () => 1,
    parse: integer(1, 100),
  }),
  field({
    key: 'minTenureMs',
    flag: 'min-tenure',
    env: 'LEASEHOLD_MIN_TENURE',
    yaml: 'minTenure',
    description:
      'An unhealthy leader leads at least this long before it hands over (against flapping)',
    accepted: 'a duration such as 30s',
    defaultText: 'the ttl',
    defaultValue: () => undefined,
    parse: duration,
  }),
] as const;

export const FIELDS = [
  field({
    key: 'store',
    flag: 'store',
    env: 'LEASEHOLD_STORE',
    yaml: 'store',
    description: `Store URL: ${SUPPORTED_SCHEMES.filter((s) => s !== 'postgresql')
      .map((s) => `${s}://`)
      .join(', ')}`,
    accepted: `a URL with scheme ${SUPPORTED_SCHEMES.slice(0, -1).join(', ')} or ${SUPPORTED_SCHEMES.at(-1) ?? ''}`,
    secret: true,
    defaultText: 'sqlite://.leasehold/leasehold.db',
    defaultValue: () => DEFAULT_STORE,
    parse: (raw) =>
      (SUPPORTED_SCHEMES as readonly string[]).includes(/^([a-z]+):\/\//.exec(raw)?.[1] ?? '')
        ? raw
        : new Error('scheme'),
  }),
  field({
    key: 'election',
    flag: 'election',
    env: 'LEASEHOLD_ELECTION',
    yaml: 'election',
    description:
      'Name of the election (one leader per name); repeat it, or separate names with commas, to take part in several (the first is the one the unprefixed routes and run serve)',
    accepted: `${ELECTION_NAME.accepted}; several elections: repeat --election, or separate the names with commas`,
    defaultText: 'default',
    defaultValue: () => 'default',
    parse: electionNames,
  }),
  field({
    key: 'id',
    flag: 'id',
    env: 'LEASEHOLD_ID',
    yaml: 'id',
    description: 'This candidate\u2019s id, unique among candidates',
    accepted: CANDIDATE_ID.accepted,
    defaultText: 'hostname-pid-random',
    defaultValue: defaultId,
    parse: text(CANDIDATE_ID.pattern),
  }),
  field({
    key: 'ttlMs',
    flag: 'ttl',
    env: 'LEASEHOLD_TTL',
    yaml: 'ttl',
    description: 'Lease time to live; a dead leader is replaced within about this long',
    accepted: 'a duration such as 10s or 500ms (at least 1s)',
    defaultText: secondsText(TIMING_DEFAULTS.ttlMs),
    defaultValue: () => TIMING_DEFAULTS.ttlMs,
    parse: duration,
  }),
  field({
    key: 'renewIntervalMs',
    flag: 'renew-interval',
    env: 'LEASEHOLD_RENEW_INTERVAL',
    yaml: 'renewInterval',
    description: 'How often the leader renews',
    accepted: 'a duration such as 3s, below ttl / 2',
    defaultText: 'ttl / 3',
    defaultValue: () => undefined,
    parse: duration,
  }),
  field({
    key: 'retryIntervalMs',
    flag: 'retry-interval',
    env: 'LEASEHOLD_RETRY_INTERVAL',
    yaml: 'retryInterval',
    description: 'How often followers try when the store cannot tell them sooner',
    accepted: 'a duration such as 1s, at most the ttl',
    defaultText: secondsText(TIMING_DEFAULTS.retryIntervalMs),
    defaultValue: () => TIMING_DEFAULTS.retryIntervalMs,
    parse: duration,
  }),
  field({
    key: 'priority',
    flag: 'priority',
    env: 'LEASEHOLD_PRIORITY',
    yaml: 'priority',
    description: 'Higher wins when the lock is free',
    accepted: 'a whole number from -1000000 to 1000000',
    defaultText: '0',
    defaultValue: () => 0,
    parse: integer(-1_000_000, 1_000_000),
  }),
  field({
    key: 'host',
    flag: 'host',
    env: 'LEASEHOLD_HOST',
    yaml: 'host',
    description: 'Address the HTTP API binds to (loopback by default)',
    accepted: 'an IP address or host name',
    defaultText: '127.0.0.1',
    defaultValue: () => '127.0.0.1',
    parse: text(/^[A-Za-z0-9.:[\]-]{1,253}$/),
  }),
  field({
    key: 'port',
    flag: 'port',
    env: 'LEASEHOLD_PORT',
    yaml: 'port',
    description: 'Port of the HTTP API (0 picks a free one)',
    accepted: 'a port number from 0 to 65535',
    defaultText: '4040',
    defaultValue: () => 4040,
    parse: integer(0, 65_535),
  }),
  field({
    key: 'adminToken',
    flag: 'admin-token',
    env: 'LEASEHOLD_ADMIN_TOKEN',
    yaml: 'adminToken',
    description:
      'Bearer token for the admin routes: POST /v1/resign, /v1/transfer, /v1/drain, /v1/undrain (disabled without one)',
    accepted: 'at least 16 characters',
    secret: true,
    defaultText: 'none',
    defaultValue: () => undefined,
    parse: (raw) => (raw.length >= 16 ? raw : new Error('short')),
  }),
  field({
    key: 'logLevel',
    flag: 'log-level',
    env: 'LEASEHOLD_LOG_LEVEL',
    yaml: 'logLevel',
    description: 'Log level',
    accepted: `one of ${LOG_LEVELS.join(', ')}`,
    defaultText: 'info',
    defaultValue: () => 'info',
    parse: (raw) =>
      (LOG_LEVELS as readonly string[]).includes(raw) ? (raw as LogLevel) : new Error('level'),
  }),
  field({
    key: 'namespace',
    flag: 'namespace',
    env: 'LEASEHOLD_NAMESPACE',
    yaml: 'namespace',
    // Its name until issue 29: the store adapters, the logs and the docs call it namespace.
    formerly: { flag: 'store-prefix', env: 'LEASEHOLD_STORE_PREFIX', yaml: 'storePrefix' },
    description:
      'Key prefix (Redis, etcd), schema (PostgreSQL), table prefix (SQLite) or top znode (ZooKeeper)',
    accepted: PORTABLE_NAMESPACE.accepted,
    defaultText: 'leasehold',
    defaultValue: () => 'leasehold',
    parse: text(PORTABLE_NAMESPACE.pattern),
  }),
  field({
    key: 'storeCa',
    flag: 'store-ca',
    env: 'LEASEHOLD_STORE_CA',
    yaml: 'storeCa',
    description: 'PEM file with the CA that signed the store\u2019s certificate',
    accepted: 'a readable file path',
    defaultText: 'none',
    defaultValue: () => undefined,
    parse: optionalText,
  }),
  field({
    key: 'storeCert',
    flag: 'store-cert',
    env: 'LEASEHOLD_STORE_CERT',
    yaml: 'storeCert',
    description: 'PEM file with the client certificate for the store',
    accepted: 'a readable file path',
    defaultText: 'none',
    defaultValue: () => undefined,
    parse: optionalText,
  }),
  field({
    key: 'storeKey',
    flag: 'store-key',
    env: 'LEASEHOLD_STORE_KEY',
    yaml: 'storeKey',
    description: 'PEM file with the client certificate\u2019s key',
    accepted: 'a readable file path',
    defaultText: 'none',
    defaultValue: () => undefined,
    parse: optionalText,
  }),
  field({
    key: 'storeKeyPassphrase',
    flag: 'store-key-passphrase',
    env: 'LEASEHOLD_STORE_KEY_PASSPHRASE',
    yaml: 'storeKeyPassphrase',
    description: 'Passphrase of an encrypted --store-key',
    accepted: 'the passphrase the key was encrypted with',
    secret: true,
    defaultText: 'none',
    defaultValue: () => undefined,
    parse: optionalText,
  }),
  field({
    key: 'tlsCert',
    flag: 'tls-cert',
    env: 'LEASEHOLD_TLS_CERT',
    yaml: 'tlsCert',
    description: 'PEM file with the HTTP API\u2019s own certificate: serves HTTPS (with --tls-key)',
    accepted: 'a readable file path',
    defaultText: 'none',
    defaultValue: () => undefined,
    parse: optionalText,
  }),
  field({
    key: 'tlsKey',
    flag: 'tls-key',
    env: 'LEASEHOLD_TLS_KEY',
    yaml: 'tlsKey',
    description: 'PEM file with the key of --tls-cert',
    accepted: 'a readable file path',
    defaultText: 'none',
    defaultValue: () => undefined,
    parse: optionalText,
  }),
  field({
    key: 'allowInsecureAdmin',
    flag: 'allow-insecure-admin',
    env: 'LEASEHOLD_ALLOW_INSECURE_ADMIN',
    yaml: 'allowInsecureAdmin',
    description:
      'Accept the admin token on a non-loopback --host without TLS, where it crosses the network in clear',
    accepted: 'true or false',
    bareFlag: true,
    defaultText: 'false',
    defaultValue: () => false,
    parse: boolean,
  }),
  field({
    key: 'shutdownGraceMs',
    flag: 'shutdown-grace',
    env: 'LEASEHOLD_SHUTDOWN_GRACE',
    yaml: 'shutdownGrace',
    description: 'How long a shutdown may take before the process exits anyway',
    accepted: 'a duration such as 10s',
    defaultText: '10s',
    defaultValue: () => 10_000,
    parse: duration,
  }),
  field({
    key: 'commandGraceMs',
    flag: 'command-grace',
    env: 'LEASEHOLD_COMMAND_GRACE',
    yaml: 'commandGrace',
    description:
      'leasehold run: how long the command has after SIGTERM to exit before it is killed; must fit in the lease (docs/run.md); when not set, 5s or the most that fits',
    accepted: 'a duration such as 5s, below the shutdown grace',
    runOnly: true,
    defaultText: '5s',
    defaultValue: () => 5_000,
    parse: duration,
  }),
  field({
    key: 'passEnv',
    flag: 'pass-env',
    env: 'LEASEHOLD_PASS_ENV',
    yaml: 'passEnv',
    description: 'leasehold run: withheld variables the command sees anyway (docs/run.md)',
    accepted: 'variable names separated by commas, such as PGHOST,PGUSER',
    runOnly: true,
    defaultText: 'none',
    defaultValue: () => [],
    parse: (raw) => {
      const names = raw.split(',').map((name) => name.trim());
      return names.every((name) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
        ? names
        : new Error('names');
    },
  }),
  ...STEERING_FIELDS,
] as const;

function field<K extends SettingKey>(definition: Field<K>): Field<K> {
  return definition;
}

export type AnyField = (typeof FIELDS)[number];

/**
 * Every secret setting can be read from a file instead (the convention of Docker and
 * Kubernetes secrets), so it stays out of `ps`, /proc/<pid>/cmdline and the YAML file:
 * `--admin-token-file`, `LEASEHOLD_ADMIN_TOKEN_FILE`, `adminTokenFile`.
 */
export interface SecretFileOption {
  readonly key: SettingKey;
  readonly flag: string;
  readonly env: string;
  readonly yaml: string;
  readonly description: string;
}

export function isSecret(f: AnyField): boolean {
  return 'secret' in f && f.secret === true;
}

export const SECRET_FILE_OPTIONS: readonly SecretFileOption[] = FIELDS.filter(isSecret).map(
  (f) => ({
    key: f.key,
    flag: `${f.flag}-file`,
    env: `${f.env}_FILE`,
    yaml: `${f.yaml}File`,
    description: `File holding the ${f.flag} setting (one trailing newline ignored), instead of --${f.flag}`,
  }),
);

export function fieldOf(key: SettingKey): AnyField {
  const found = FIELDS.find((f) => f.key === key);
  if (found === undefined) throw new Error(`no configuration field ${key}`);
  return found;
}
/** One option's text in `--help`: what it does, its variable and its default. */
export function helpText(f: AnyField): string {
  return `${f.description} [${f.env}]${f.defaultText === 'none' ? '' : ` (default: ${f.defaultText})`}`;
}
