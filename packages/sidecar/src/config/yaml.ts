import { createRequire } from 'node:module';
import type * as YamlModule from 'yaml';

type Yaml = typeof YamlModule;

let loaded: Yaml | null = null;

/**
 * The YAML library, loaded on first use: most sidecars start without a configuration file,
 * and loading it costs every start-up tens of milliseconds and a few MB that stay resident.
 */
export function yaml(): Yaml {
  loaded ??= createRequire(import.meta.url)('yaml') as Yaml;
  return loaded;
}
