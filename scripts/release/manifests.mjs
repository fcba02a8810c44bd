// Keeps every published manifest's repository, homepage and bugs links, and the links in
// its README, on the release's repository setting (scripts/release/config.mjs).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { manifestLinks } from './config.mjs';

function repositoryOf(manifest) {
  return manifest.repository?.url?.replace(/^git\+/, '').replace(/\.git$/, '');
}

/** Rewrites what differs; returns the files it changed (none when in step). */
export function syncManifests(packages, repository) {
  const changed = [];
  for (const { dir, manifest } of packages) {
    const previous = repositoryOf(manifest);
    const links = manifestLinks(repository);
    const updated = { ...manifest, ...links };
    if (JSON.stringify(updated) !== JSON.stringify(manifest)) {
      writeFileSync(join(dir, 'package.json'), `${JSON.stringify(updated, null, 2)}\n`);
      changed.push(join(dir, 'package.json'));
    }
    const readme = join(dir, 'README.md');
    if (previous && previous !== repository && existsSync(readme)) {
      writeFileSync(readme, readFileSync(readme, 'utf8').replaceAll(previous, repository));
      changed.push(readme);
    }
  }
  return changed;
}
