import {
  CANDIDATE_ID,
  ELECTION_NAME,
  LeaseholdConfigError,
  LeaseholdTimingError,
  TIMING_DEFAULTS,
} from '@leasehold/core';
import { maskUrl, PORTABLE_NAMESPACE, SUPPORTED_SCHEMES, urlSecrets } from '@leasehold/adapters';
import { readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { readConfigFile, type FileValue } from './config-file.js';
import { electionTimingOf, secondsText } from './timing.js';

/**
 * The sidecar's configuration: one table of fields drives the flags, the LEASEHOLD_*
 * environment, the YAML file, the defaults, `leasehold config` and the error line a bad
 * value gets. Precedence: flag > environment > YAML file > default.
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
  readonly configFile: string | undefined;
  /** Where each setting came from and the text given there, so messages name what was typed. */
  readonly sources: ConfigSources;
  /** One line each, no secret in them: how the configuration exposes a secret. */
  readonly warnings: readonly string[];
}

/** The settings FIELDS describe (everything but what loadConfig derives). */
export type SettingKey = Exclude<
  keyof SidecarConfig,
  'storeIsDefault' | 'configFile' | 'sources' | 'warnings'
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

function defaultId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

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
    description: 'Name of the election (one leader per name)',
    accepted: ELECTION_NAME.accepted,
    defaultText: 'default',
    defaultValue: () => 'default',
    parse: text(ELECTION_NAME.pattern),
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
    description: 'Bearer token for POST /v1/resign (resign is disabled without one)',
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
    defaultText: 'false',
    defaultValue: () => false,
    parse: (raw) => (raw === 'true' ? true : raw === 'false' ? false : new Error('not a boolean')),
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
] as const;

function field<K extends SettingKey>(definition: Field<K>): Field<K> {
  return definition;
}

type AnyField = (typeof FIELDS)[number];

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

function isSecret(f: AnyField): boolean {
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

/** A bad value: exit code 2 and this one line, naming the setting as the user gave it. */
export class ConfigValueError extends LeaseholdConfigError {
  constructor(
    fieldName: string,
    source: ConfigSource,
    value: string,
    accepted: string,
    line = `invalid ${fieldName} (${describeSource(source)}): ${JSON.stringify(value)}; ${accepted}`,
  ) {
    super(fieldName, value, accepted);
    this.message = line;
  }
}

export function describeSource(source: ConfigSource): string {
  const path = source.kind !== 'default' && source.path !== undefined ? ` ${source.path}` : '';
  switch (source.kind) {
    case 'flag':
      return `flag --${source.name}${path}`;
    case 'env':
      return `environment ${source.name}${path}`;
    case 'file':
      return `config file key ${source.name}${path}`;
    default:
      return 'default';
  }
}

/** The value as a message may show it: store passwords and secrets masked. */
function shown(f: AnyField, raw: string): string {
  if (f.key === 'store') return maskUrl(raw);
  return isSecret(f) ? '***' : raw;
}

function fieldOf(key: SettingKey): AnyField {
  const found = FIELDS.find((f) => f.key === key);
  if (found === undefined) throw new Error(`no configuration field ${key}`);
  return found;
}

/**
 * A value that parsed but breaks a rule found later (a timing rule, an unreadable TLS file):
 * the same one line as a value that does not parse, naming the flag, variable or YAML key.
 */
export function invalidSetting(
  config: Pick<SidecarConfig, 'sources'> & Partial<SidecarConfig>,
  key: SettingKey,
  accepted: string,
): ConfigValueError {
  const f = fieldOf(key);
  const source = config.sources[key] ?? { kind: 'default' };
  const raw = source.kind === 'default' ? String(config[key] ?? f.defaultText) : source.raw;
  return new ConfigValueError(f.flag, source, shown(f, raw), accepted);
}

/**
 * A value as the user wrote it (`--ttl 10s`, `LEASEHOLD_TTL=10s`, `ttl: 10s`), or as the flag
 * with its default (`--ttl 10s (default)`), secrets masked: for messages about a combination
 * of values, which name each as it was given.
 */
export function asWritten(config: Pick<SidecarConfig, 'sources'>, key: SettingKey): string {
  const f = fieldOf(key);
  const source = config.sources[key] ?? { kind: 'default' };
  const value = (raw: string) =>
    source.kind !== 'default' && source.path !== undefined ? source.path : shown(f, raw);
  switch (source.kind) {
    case 'flag':
      return `--${source.name} ${value(source.raw)}`;
    case 'env':
      return `${source.name}=${value(source.raw)}`;
    case 'file':
      return `${source.name}: ${value(source.raw)}`;
    default:
      return `--${f.flag} ${f.defaultText} (default)`;
  }
}

export interface ConfigInput {
  /** Flag values by flag name (without dashes), as strings. */
  readonly flags: Readonly<Record<string, string | undefined>>;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Path of the YAML file, from --config or LEASEHOLD_CONFIG. */
  readonly configFile?: string | undefined;
}

export function loadConfig(input: ConfigInput): SidecarConfig {
  const configFile = input.configFile ?? input.env.LEASEHOLD_CONFIG;
  const fromFile: ReadonlyMap<string, FileValue> =
    configFile === undefined || configFile === ''
      ? new Map()
      : readConfigFile(configFile, [...FIELDS, ...SECRET_FILE_OPTIONS]);
  const values: Record<string, unknown> = {};
  const sources: Partial<Record<SettingKey, ConfigSource>> = {};
  for (const f of FIELDS) {
    const source = chooseSource(f, input, fromFile);
    if (source === null) {
      values[f.key] = f.defaultValue();
      continue;
    }
    const parsed = f.parse(source.raw);
    if (parsed instanceof Error) {
      throw new ConfigValueError(f.flag, source, shown(f, source.raw), f.accepted);
    }
    values[f.key] = parsed;
    sources[f.key] = source;
  }
  const config: SidecarConfig = {
    ...(values as Omit<SidecarConfig, 'storeIsDefault' | 'configFile' | 'sources' | 'warnings'>),
    storeIsDefault: sources.store === undefined,
    configFile: configFile === '' ? undefined : configFile,
    sources,
    warnings: [...commandLineSecrets(sources), ...readableConfigFile(configFile, fromFile)],
  };
  checkTiming(config);
  return config;
}

type GivenSource = Exclude<ConfigSource, { kind: 'default' }>;

/**
 * The first source that gives the setting: flag, then environment, then YAML file. At each,
 * a secret may come as a value or as a file holding it; both at once is refused.
 */
function chooseSource(
  f: AnyField,
  input: ConfigInput,
  fromFile: ReadonlyMap<string, FileValue>,
): GivenSource | null {
  const secretFile = SECRET_FILE_OPTIONS.find((o) => o.key === f.key);
  const former = f.formerly;
  const levels: { kind: GivenSource['kind']; direct: Given; viaFile: Given }[] = [
    {
      kind: 'flag',
      direct: givenOnce(
        f,
        given(`--${f.flag}`, f.flag, input.flags[f.flag]),
        former && given(`--${former.flag}`, former.flag, input.flags[former.flag]),
      ),
      viaFile:
        secretFile && given(`--${secretFile.flag}`, secretFile.flag, input.flags[secretFile.flag]),
    },
    {
      kind: 'env',
      direct: givenOnce(
        f,
        given(f.env, f.env, input.env[f.env]),
        former && given(former.env, former.env, input.env[former.env]),
      ),
      viaFile: secretFile && given(secretFile.env, secretFile.env, input.env[secretFile.env]),
    },
    {
      kind: 'file',
      direct: fileGiven(fromFile.get(f.yaml), f.yaml),
      viaFile: secretFile && fileGiven(fromFile.get(secretFile.yaml), secretFile.yaml),
    },
  ];
  for (const { kind, direct, viaFile } of levels) {
    if (direct !== undefined && viaFile !== undefined) {
      throw new ConfigValueError(
        f.flag,
        { kind: 'default' },
        '',
        '',
        `invalid ${f.flag}: both ${direct.shownName} and ${viaFile.shownName} are given; keep one`,
      );
    }
    if (direct !== undefined) return { kind, name: direct.name, raw: direct.raw };
    if (viaFile !== undefined && secretFile !== undefined) {
      const source = { kind, name: viaFile.name, raw: '', path: viaFile.raw };
      return { ...source, raw: readSecretFile(f, secretFile, source) };
    }
  }
  return null;
}

type Given =
  { readonly name: string; readonly shownName: string; readonly raw: string } | undefined;

/** The setting given under its name or its former one; both at once is refused. */
function givenOnce(f: AnyField, current: Given, former: Given): Given {
  if (current !== undefined && former !== undefined) {
    throw new ConfigValueError(
      f.flag,
      { kind: 'default' },
      '',
      '',
      `invalid ${f.flag}: both ${current.shownName} and ${former.shownName} (its former name) are given; keep ${current.shownName}`,
    );
  }
  return current ?? former;
}

function given(shownName: string, name: string, raw: string | undefined): Given {
  return raw === undefined || raw === '' ? undefined : { name, shownName, raw };
}

function fileGiven(value: FileValue | undefined, yamlKey: string): Given {
  if (value === undefined || value.value === undefined || value.value === null) return undefined;
  return given(`${yamlKey} (config file)`, value.key, String(value.value));
}

/** The file's contents without one trailing newline; its path, never its text, in errors. */
function readSecretFile(f: AnyField, option: SecretFileOption, source: GivenSource): string {
  const path = source.path ?? '';
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigValueError(
      option.flag,
      { kind: source.kind, name: source.name, raw: path },
      path,
      `a readable file holding the ${f.flag} setting (${reason})`,
    );
  }
}

/** A secret typed on the command line: every local user sees it in `ps`. */
function commandLineSecrets(sources: Partial<Record<SettingKey, ConfigSource>>): string[] {
  return SECRET_FILE_OPTIONS.flatMap((option) => {
    const source = sources[option.key];
    if (source?.kind !== 'flag' || source.path !== undefined) return [];
    if (option.key === 'store' && urlSecrets(source.raw).length === 0) return [];
    return [
      `--${source.name} puts a secret on the command line, where every local user can read it (ps, /proc); use --${option.flag} or ${option.env}`,
    ];
  });
}

/** A YAML file with a secret in it that its group or others can read. */
function readableConfigFile(
  path: string | undefined,
  fromFile: ReadonlyMap<string, FileValue>,
): string[] {
  if (path === undefined || path === '') return [];
  const held = SECRET_FILE_OPTIONS.map((o) => fieldOf(o.key)).filter((f) => {
    const value = fromFile.get(f.yaml)?.value;
    if (value === undefined || value === null || value === '') return false;
    return f.key !== 'store' || urlSecrets(String(value)).length > 0;
  });
  if (held.length === 0) return [];
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {
    return [];
  }
  if ((mode & 0o044) === 0) return [];
  const who =
    (mode & 0o040) !== 0 ? ((mode & 0o004) !== 0 ? 'its group and others' : 'its group') : 'others';
  return [
    `config file ${path} holds ${held.map((f) => f.yaml).join(', ')} and ${who} can read it (mode ${mode.toString(8).padStart(4, '0')}); chmod 600 ${path}, or keep the secret in a file of its own (${held.map((f) => `${f.yaml}File`).join(', ')})`,
  ];
}

/** The elector's option for each timing setting; its rules speak of these names. */
const TIMING_OPTIONS = {
  ttlMs: 'ttlMs',
  renewIntervalMs: 'renewIntervalMs',
  retryIntervalMs: 'retryIntervalMs',
} as const satisfies Partial<Record<SettingKey, string>>;

/**
 * The elector's own timing rules (core's resolveTiming, config/timing.ts), checked before any store is
 * opened and reported in the user's words: `--renew-interval`, not `renewIntervalMs`.
 */
function checkTiming(config: SidecarConfig): void {
  try {
    electionTimingOf(config);
  } catch (error) {
    if (!(error instanceof LeaseholdTimingError)) throw error;
    // A rule only the derived settings can break (the safety margin) is the TTL's to fix.
    const key =
      (Object.keys(TIMING_OPTIONS) as (keyof typeof TIMING_OPTIONS)[]).find(
        (k) => TIMING_OPTIONS[k] === error.field,
      ) ?? 'ttlMs';
    throw invalidSetting(config, key, inUserWords(error.accepted));
  }
}

/** A core rule's text with the elector's option names replaced by the flags users set. */
function inUserWords(rule: string): string {
  return (Object.keys(TIMING_OPTIONS) as (keyof typeof TIMING_OPTIONS)[]).reduce(
    (text, key) => text.replaceAll(TIMING_OPTIONS[key], fieldOf(key).flag),
    rule,
  );
}

/**
 * `leasehold run`: the command must be gone before the sidecar gives up on its own
 * shutdown, so the command grace must be below the shutdown grace.
 */
export function commandGraceRule(config: SidecarConfig): ConfigValueError | null {
  if (config.commandGraceMs < config.shutdownGraceMs) return null;
  const shutdown = config.sources.shutdownGraceMs;
  const shutdownText =
    shutdown === undefined || shutdown.kind === 'default'
      ? `${fieldOf('shutdownGraceMs').defaultText}, the default`
      : `${shutdown.raw} from ${describeSource(shutdown)}`;
  return invalidSetting(
    config,
    'commandGraceMs',
    `must be below the shutdown grace (${shutdownText})`,
  );
}

/** One option's text in `--help`: what it does, its variable and its default. */
export function helpText(f: AnyField): string {
  return `${f.description} [${f.env}]${f.defaultText === 'none' ? '' : ` (default: ${f.defaultText})`}`;
}

/** The configuration as `leasehold config` prints it: secrets masked. */
export function describeConfig(config: SidecarConfig): Record<string, unknown> {
  const described: Record<string, unknown> = {};
  // Unset, the renew interval is derived from the TTL: print what the elector will use.
  const effective: SidecarConfig = {
    ...config,
    renewIntervalMs: electionTimingOf(config).renewIntervalMs,
  };
  for (const f of FIELDS) {
    const value = effective[f.key];
    if (value === undefined) continue;
    described[f.yaml] = f.key === 'store' ? maskUrl(String(value)) : isSecret(f) ? '***' : value;
  }
  return described;
}
