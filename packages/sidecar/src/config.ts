import { LeaseholdConfigError } from '@leasehold/core';
import { maskUrl } from '@leasehold/adapters';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { yaml } from './yaml.js';

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
  readonly shutdownGraceMs: number;
  readonly commandGraceMs: number;
  readonly configFile: string | undefined;
}

export const DEFAULT_STORE = 'sqlite://.leasehold/leasehold.db';

type Source =
  | { kind: 'flag'; name: string }
  | { kind: 'env'; name: string }
  | { kind: 'file'; name: string }
  | { kind: 'default' };

interface Field<K extends keyof SidecarConfig> {
  readonly key: K;
  readonly flag: string;
  readonly env: string;
  /** Key in the YAML file. */
  readonly yaml: string;
  readonly description: string;
  readonly accepted: string;
  readonly secret?: boolean;
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
    description: 'Store URL: redis://, rediss://, postgres://, etcd://, etcds://, zk://, sqlite://',
    accepted: 'a URL with scheme redis, rediss, postgres, postgresql, etcd, etcds, zk or sqlite',
    secret: true,
    defaultValue: () => DEFAULT_STORE,
    parse: (raw) =>
      /^(redis|rediss|postgres|postgresql|etcd|etcds|zk|sqlite):\/\//.test(raw)
        ? raw
        : new Error('scheme'),
  }),
  field({
    key: 'election',
    flag: 'election',
    env: 'LEASEHOLD_ELECTION',
    yaml: 'election',
    description: 'Name of the election (one leader per name)',
    accepted: 'use 1-128 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit',
    defaultValue: () => 'default',
    parse: text(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/),
  }),
  field({
    key: 'id',
    flag: 'id',
    env: 'LEASEHOLD_ID',
    yaml: 'id',
    description: 'This candidate\u2019s id, unique among candidates (default: hostname-pid-random)',
    accepted: 'use 1-253 printable ASCII characters without spaces',
    defaultValue: defaultId,
    parse: text(/^[\x21-\x7e]{1,253}$/),
  }),
  field({
    key: 'ttlMs',
    flag: 'ttl',
    env: 'LEASEHOLD_TTL',
    yaml: 'ttl',
    description: 'Lease time to live; a dead leader is replaced within about this long',
    accepted: 'a duration such as 10s or 500ms (at least 1s)',
    defaultValue: () => 10_000,
    parse: duration,
  }),
  field({
    key: 'renewIntervalMs',
    flag: 'renew-interval',
    env: 'LEASEHOLD_RENEW_INTERVAL',
    yaml: 'renewInterval',
    description: 'How often the leader renews (default: ttl / 3)',
    accepted: 'a duration such as 3s, below ttl / 2',
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
    defaultValue: () => 1_000,
    parse: duration,
  }),
  field({
    key: 'priority',
    flag: 'priority',
    env: 'LEASEHOLD_PRIORITY',
    yaml: 'priority',
    description: 'Higher wins when the lock is free',
    accepted: 'a whole number from -1000000 to 1000000',
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
    defaultValue: () => 'info',
    parse: (raw) =>
      (LOG_LEVELS as readonly string[]).includes(raw) ? (raw as LogLevel) : new Error('level'),
  }),
  field({
    key: 'namespace',
    flag: 'store-prefix',
    env: 'LEASEHOLD_STORE_PREFIX',
    yaml: 'storePrefix',
    description:
      'Key prefix (Redis, etcd), schema (PostgreSQL), table prefix (SQLite) or top znode (ZooKeeper)',
    accepted: 'lower-case letters, digits and _, starting with a letter or _',
    defaultValue: () => 'leasehold',
    parse: text(/^[a-z_][a-z0-9_]{0,62}$/),
  }),
  field({
    key: 'storeCa',
    flag: 'store-ca',
    env: 'LEASEHOLD_STORE_CA',
    yaml: 'storeCa',
    description: 'PEM file with the CA that signed the store\u2019s certificate',
    accepted: 'a readable file path',
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
    defaultValue: () => undefined,
    parse: optionalText,
  }),
  field({
    key: 'shutdownGraceMs',
    flag: 'shutdown-grace',
    env: 'LEASEHOLD_SHUTDOWN_GRACE',
    yaml: 'shutdownGrace',
    description: 'How long a shutdown may take before the process exits anyway',
    accepted: 'a duration such as 10s',
    defaultValue: () => 10_000,
    parse: duration,
  }),
  field({
    key: 'commandGraceMs',
    flag: 'command-grace',
    env: 'LEASEHOLD_COMMAND_GRACE',
    yaml: 'commandGrace',
    description:
      'leasehold run: how long the command has after SIGTERM to exit before it is killed',
    accepted: 'a duration such as 5s',
    defaultValue: () => 5_000,
    parse: duration,
  }),
] as const;

function field<K extends keyof SidecarConfig>(definition: Field<K>): Field<K> {
  return definition;
}

/** A bad value: exit code 2 and this one line. */
export class ConfigValueError extends LeaseholdConfigError {
  constructor(fieldName: string, source: Source, value: string, accepted: string) {
    super(fieldName, value, accepted);
    this.message = `invalid ${fieldName} (${describeSource(source)}): ${JSON.stringify(value)}; ${accepted}`;
  }
}

function describeSource(source: Source): string {
  switch (source.kind) {
    case 'flag':
      return `flag --${source.name}`;
    case 'env':
      return `environment ${source.name}`;
    case 'file':
      return `config file key ${source.name}`;
    default:
      return 'default';
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
  const fromFile = configFile === undefined || configFile === '' ? {} : readYaml(configFile);
  const known = new Set(FIELDS.map((f) => f.yaml));
  for (const key of Object.keys(fromFile)) {
    if (!known.has(key)) {
      throw new ConfigValueError(
        key,
        { kind: 'file', name: key },
        String(fromFile[key]),
        `unknown key; known keys: ${[...known].join(', ')}`,
      );
    }
  }
  const values: Record<string, unknown> = {};
  let storeIsDefault = false;
  for (const f of FIELDS) {
    const candidates: [Source, unknown][] = [
      [{ kind: 'flag', name: f.flag }, input.flags[f.flag]],
      [{ kind: 'env', name: f.env }, input.env[f.env]],
      [{ kind: 'file', name: f.yaml }, fromFile[f.yaml]],
    ];
    const chosen = candidates.find(([, raw]) => raw !== undefined && raw !== null && raw !== '');
    if (chosen === undefined) {
      values[f.key] = f.defaultValue();
      if (f.key === 'store') storeIsDefault = true;
      continue;
    }
    const [source, raw] = chosen;
    const rawText = String(raw);
    const parsed = f.parse(rawText);
    if (parsed instanceof Error) {
      const shown =
        f.key === 'store' ? maskUrl(rawText) : 'secret' in f && f.secret ? '***' : rawText;
      throw new ConfigValueError(f.flag, source, shown, f.accepted);
    }
    values[f.key] = parsed;
  }
  return {
    ...(values as unknown as SidecarConfig),
    storeIsDefault,
    configFile: configFile === '' ? undefined : configFile,
  };
}

function readYaml(path: string): Record<string, unknown> {
  let textContent: string;
  try {
    textContent = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigValueError(
      'config',
      { kind: 'flag', name: 'config' },
      path,
      `a readable YAML file (${(error as Error).message})`,
    );
  }
  let parsed: unknown;
  try {
    parsed = yaml().parse(textContent);
  } catch (error) {
    throw new ConfigValueError(
      'config',
      { kind: 'flag', name: 'config' },
      path,
      `valid YAML (${(error as Error).message.split('\n')[0] ?? ''})`,
    );
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigValueError(
      'config',
      { kind: 'flag', name: 'config' },
      path,
      'a YAML mapping of keys to values',
    );
  }
  return parsed as Record<string, unknown>;
}

/** The configuration as `leasehold config` prints it: secrets masked. */
export function describeConfig(config: SidecarConfig): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const f of FIELDS) {
    const value = config[f.key];
    if (value === undefined) continue;
    shown[f.yaml] =
      f.key === 'store' ? maskUrl(String(value)) : 'secret' in f && f.secret ? '***' : value;
  }
  return shown;
}
