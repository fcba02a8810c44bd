// `pnpm release`: build, pack every published workspace package, test the tarballs in a
// scratch project, cut the self-contained sidecar, and write dist-release/:
//   <name>-<version>.tgz                              npm tarballs (private packages skipped)
//   leasehold-sidecar-<version>-<platform>-<arch>.tar.gz  self-contained sidecar (node bin/leasehold.js,
//                                                     which runs its bundle: scripts/bundle.mjs)
//   leasehold-sidecar-<version>-<platform>-<arch>.cdx.json CycloneDX SBOM of what it contains
//   SHA256SUMS                                         checksums of the files above
// Settings: release.config.json (scripts/release/config.mjs). Docs: docs/deploy.md.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, publishedPackages, readJson, releaseConfig } from './release/config.mjs';
import { syncManifests } from './release/manifests.mjs';
import { pack, run, scratchProject } from './release/packing.mjs';
import { cycloneDx } from './release/sbom.mjs';
import { runtimeNodes } from './runtime-nodes.mjs';
import { deployStandalone, smokeTest } from './release/standalone.mjs';

const OUT = join(ROOT, 'dist-release');
const say = (line) => console.error(`release: ${line}`);

export function packAll(packages) {
  return Object.fromEntries(packages.map((p) => [p.manifest.name, pack(p.dir, OUT)]));
}

/** The tarballs installed as a user would, and the `leasehold` command run through npx. */
export function testTarballs(tarballs, version) {
  const scratch = mkdtempSync(join(tmpdir(), 'leasehold-release-npm-'));
  try {
    const dir = scratchProject(scratch, 'user', Object.values(tarballs), ['--ignore-scripts']);
    const printed = run('npx', ['--offline', '@leasehold/sidecar', '--version'], dir).trim();
    if (printed !== version) throw new Error(`npx @leasehold/sidecar printed "${printed}"`);
    writeFileSync(join(dir, 'elect.mjs'), ELECT);
    const term = Number(run(process.execPath, ['elect.mjs'], dir).trim());
    if (!(term > 0)) throw new Error(`the packed Elector did not lead (term ${term})`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

const ELECT = `
import { Elector } from '@leasehold/core';
import { createMemoryStore } from '@leasehold/core/testing';
const store = createMemoryStore();
const elector = new Elector({ store, election: 'release', id: 'scratch', ttlMs: 2000 });
const elected = new Promise((resolve) => elector.once('elected', resolve));
elector.start();
const { term } = await elected;
await elector.stop();
console.log(term);
`;

async function standalone(version) {
  const name = `leasehold-sidecar-${version}-${process.platform}-${process.arch}`;
  const dir = join(OUT, name);
  run('bash', [join(ROOT, 'scripts/runtimes.sh'), 'install'], ROOT);
  const abis = await deployStandalone(dir);
  say(`${name}: SQLite addons for ${abis.join(', ')}`);
  for (const node of runtimeNodes()) {
    const leader = await smokeTest(dir, node);
    say(`${name} on ${run(node, ['--version'], ROOT).trim()}: leads under term ${leader.term}`);
  }
  writeFileSync(join(OUT, `${name}.cdx.json`), `${JSON.stringify(cycloneDx(dir), null, 2)}\n`);
  run('tar', ['-czf', `${name}.tar.gz`, name], OUT);
  // pnpm deploy hard-links workspace packages' files: a later build in this checkout
  // would change the directory's copy. The tarball is the artifact.
  rmSync(dir, { recursive: true, force: true });
}

function checksums() {
  const files = readdirSync(OUT, { withFileTypes: true }).filter((e) => e.isFile());
  const lines = files.map((file) => {
    const digest = createHash('sha256').update(readFileSync(join(OUT, file.name)));
    return `${digest.digest('hex')}  ${file.name}\n`;
  });
  writeFileSync(join(OUT, 'SHA256SUMS'), lines.join(''));
}

export async function main() {
  const { repository } = releaseConfig();
  const packages = publishedPackages();
  for (const file of syncManifests(packages, repository)) say(`set links in ${file}`);
  const version = readJson(join(ROOT, 'packages/sidecar/package.json')).version;
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT);
  say('building (tsc -b)');
  run('pnpm', ['exec', 'tsc', '-b'], ROOT);
  const tarballs = packAll(publishedPackages());
  say(`packed ${Object.keys(tarballs).join(', ')}; testing them in a scratch project`);
  testTarballs(tarballs, version);
  await standalone(version);
  checksums();
  say(`done: ${OUT}`);
}

if (process.argv[1] === new URL(import.meta.url).pathname) await main();
