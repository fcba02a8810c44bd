import { loadConfig } from '@leasehold/sidecar';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/**
 * YAML configuration files in a folder of the test file's own, removed after it: `yamlFile`
 * writes one and gives its path, `fromFile` loads a configuration from one (and flags).
 */
export function configFiles(prefix: string) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let files = 0;
  const yamlFile = (content: string): string => {
    files += 1;
    const path = join(dir, `config-${files}.yaml`);
    writeFileSync(path, content);
    return path;
  };
  const fromFile = (yaml: string, flags: Record<string, string> = {}) =>
    loadConfig({ flags, env: {}, configFile: yamlFile(yaml) });
  return { yamlFile, fromFile };
}
