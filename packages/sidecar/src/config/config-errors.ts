import { LeaseholdConfigError } from '@leasehold/core';
import { maskUrl } from '@leasehold/adapters';
import {
  fieldOf,
  isSecret,
  type AnyField,
  type ConfigSource,
  type SettingKey,
  type SidecarConfig,
} from './fields.js';

/**
 * How a bad setting is worded: one line naming the setting as the user gave it (flag,
 * variable or YAML key), the value (secrets masked) and what is accepted.
 */

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

/**
 * The value as a message or `leasehold config` may show it: the passwords of URLs (the
 * store's, the app's health check's) and secrets masked.
 */
export function shown(f: AnyField, raw: string): string {
  if (f.key === 'store' || f.key === 'appHealthUrl') return maskUrl(raw);
  return isSecret(f) ? '***' : raw;
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
