// A CycloneDX 1.5 SBOM of an installed tree: every package directory reachable from the
// root package through node_modules, once per name@version, with its license and the
// dependency edges as installed. Made from the files themselves; no network, no tool.
import { randomUUID } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readJson } from './config.mjs';

function purl(name, version) {
  return `pkg:npm/${name.startsWith('@') ? `%40${name.slice(1)}` : name}@${version}`;
}

/** The directory Node would load `name` from when required by the package in `from`. */
function resolvePackage(from, name) {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    if (dirname(dir) === dir) return undefined;
  }
}

function component(manifest) {
  const ref = purl(manifest.name, manifest.version);
  const license = typeof manifest.license === 'string' ? manifest.license : undefined;
  const [group, name] = manifest.name.startsWith('@')
    ? manifest.name.split('/')
    : [undefined, manifest.name];
  return {
    type: 'library',
    'bom-ref': ref,
    ...(group ? { group } : {}),
    name,
    version: manifest.version,
    purl: ref,
    ...(license ? { licenses: [{ expression: license }] } : {}),
  };
}

/** Walks production dependencies (and installed optional ones) from `rootDir`. */
function walk(rootDir) {
  const seen = new Map();
  const pending = [realpathSync(rootDir)];
  while (pending.length > 0) {
    const dir = pending.pop();
    const manifest = readJson(join(dir, 'package.json'));
    const ref = purl(manifest.name, manifest.version);
    if (seen.has(ref)) continue;
    const names = Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies });
    const dirs = names.map((name) => resolvePackage(dir, name)).filter(Boolean);
    const dependsOn = dirs.map((d) => {
      const m = readJson(join(d, 'package.json'));
      return purl(m.name, m.version);
    });
    seen.set(ref, { manifest, dependsOn: [...new Set(dependsOn)] });
    pending.push(...dirs);
  }
  return seen;
}

export function cycloneDx(rootDir, timestamp = new Date()) {
  const tree = walk(rootDir);
  const [rootRef, root] = tree.entries().next().value;
  const others = [...tree].filter(([ref]) => ref !== rootRef);
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: `urn:uuid:${randomUUID()}`,
    version: 1,
    metadata: {
      timestamp: timestamp.toISOString(),
      tools: { components: [{ type: 'application', name: 'leasehold scripts/release.mjs' }] },
      component: { ...component(root.manifest), type: 'application' },
    },
    components: others.map(([, { manifest }]) => component(manifest)),
    dependencies: [...tree].map(([ref, { dependsOn }]) => ({ ref, dependsOn })),
  };
}
