import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

// The tests that hold deployment files (Dockerfile, compose, Kubernetes, systemd,
// Prometheus) to the code read them through these, and fail with the path of what is
// missing instead of casting.

export const root = fileURLToPath(new URL('../..', import.meta.url));

export const readRepoFile = (path: string): string => readFileSync(`${root}/${path}`, 'utf8');

// `yaml` is a dependency of the sidecar, not of the workspace root, and pnpm does not hoist
// it: resolve it from the sidecar package instead of adding a root dependency.
interface YamlDocument {
  toJS(): unknown;
  readonly errors: readonly Error[];
}
interface YamlModule {
  parse(source: string, options?: { merge?: boolean }): unknown;
  parseAllDocuments(source: string): YamlDocument[] | { readonly errors: readonly Error[] };
}
const sidecarRequire = createRequire(`${root}/packages/sidecar/package.json`);
export const yaml = (await import(
  pathToFileURL(sidecarRequire.resolve('yaml')).href
)) as YamlModule;

/** Every document of a multi-document YAML stream (`kubectl kustomize` output), parsed. */
export function yamlDocuments(source: string, where: string): Mapping[] {
  const documents = yaml.parseAllDocuments(source);
  if (!Array.isArray(documents)) throw new Error(`${where}: ${documents.errors.join('; ')}`);
  return documents.map((document, index) => {
    if (document.errors.length > 0) throw new Error(`${where}[${index}]: ${document.errors[0]}`);
    return mapping(document.toJS(), `${where}[${index}]`);
  });
}

export type Mapping = Record<string, unknown>;

export function mapping(value: unknown, where: string): Mapping {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${where}: expected a mapping, got ${JSON.stringify(value)}`);
  }
  return value as Mapping;
}

export function text(value: unknown, where: string): string {
  if (typeof value !== 'string') throw new Error(`${where}: expected a string`);
  return value;
}

export function strings(value: unknown, where: string): string[] {
  if (!Array.isArray(value)) throw new Error(`${where}: expected a list`);
  return value.map((item, index) => text(item, `${where}[${index}]`));
}

export function list(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${where}: expected a list`);
  return value;
}
