import { readFileSync } from 'node:fs';
import { yaml } from './yaml.js';

/**
 * The YAML configuration file. Each setting has a YAML key (`adminToken`) and a flag
 * (`--admin-token`); people copy either spelling into the file, so both are accepted, and so
 * is a setting's former name (`storePrefix` for `namespace`). Any
 * other key is refused with the nearest known key, and its value is never repeated: an
 * unknown key may well hold a secret.
 */

export interface FileKey {
  /** The YAML key, camelCase. */
  readonly yaml: string;
  /** The flag without its dashes, which the file accepts too. */
  readonly flag: string;
  /** A former spelling of the setting, accepted as either too. */
  readonly formerly?: { readonly yaml: string; readonly flag: string };
}

function spellings(k: FileKey): string[] {
  return [k.yaml, k.flag, ...(k.formerly === undefined ? [] : [k.formerly.yaml, k.formerly.flag])];
}

/** A value from the file, with the key as the user spelled it. */
export interface FileValue {
  readonly key: string;
  readonly value: unknown;
}

/** A file that cannot be used; the message names the file, never a value in it. */
export class ConfigFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigFileError';
  }
}

/** Values by YAML key (camelCase), whichever spelling the file used. */
export function readConfigFile(
  path: string,
  keys: readonly FileKey[],
): ReadonlyMap<string, FileValue> {
  const entries = readMapping(path);
  const byYaml = new Map<string, FileValue>();
  for (const [key, value] of Object.entries(entries)) {
    const known = keys.find((k) => spellings(k).includes(key));
    if (known === undefined) {
      const suggestion = nearestKey(key, keys);
      throw new ConfigFileError(
        `unknown key ${JSON.stringify(key)} in config file ${path}; ` +
          (suggestion === null
            ? `known keys: ${keys.map((k) => k.yaml).join(', ')}`
            : `did you mean ${suggestion}?`),
      );
    }
    const earlier = byYaml.get(known.yaml);
    if (earlier !== undefined) {
      throw new ConfigFileError(
        `config file ${path} sets ${known.yaml} twice (as ${earlier.key} and as ${key}); keep one`,
      );
    }
    byYaml.set(known.yaml, { key, value });
  }
  return byYaml;
}

function readMapping(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigFileError(
      `cannot read config file ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); ` +
        'give --config / LEASEHOLD_CONFIG a readable YAML file',
    );
  }
  let parsed: unknown;
  try {
    parsed = yaml().parse(text);
  } catch (error) {
    // The first line says where; the lines after it quote the file, secrets and all.
    const where = (error as Error).message.split('\n')[0] ?? '';
    throw new ConfigFileError(`config file ${path} is not valid YAML: ${where}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigFileError(
      `config file ${path} must be a YAML mapping of keys to values, such as "ttl: 10s"`,
    );
  }
  return parsed as Record<string, unknown>;
}

/** The YAML key meant by a misspelt or differently spelt key, if one is close enough. */
function nearestKey(key: string, keys: readonly FileKey[]): string | null {
  const wanted = normalise(key);
  let best: { yaml: string; distance: number } | null = null;
  for (const k of keys) {
    // Near any spelling, current or former; the current one is suggested.
    const spelt = [k.yaml, ...(k.formerly === undefined ? [] : [k.formerly.yaml])];
    const distance = Math.min(...spelt.map((name) => editDistance(wanted, normalise(name))));
    if (
      distance <= Math.max(1, Math.floor(wanted.length / 4)) &&
      distance < (best?.distance ?? Infinity)
    ) {
      best = { yaml: k.yaml, distance };
    }
  }
  return best?.yaml ?? null;
}

/** `admin_token`, `LEASEHOLD_ADMIN_TOKEN` and `adminToken` are one key spelt differently. */
function normalise(key: string): string {
  return key
    .toLowerCase()
    .replace(/[-_\s]/g, '')
    .replace(/^leasehold/, '');
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
