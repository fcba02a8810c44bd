// The release's settings, in one place: release.config.json at the repository root, each
// overridable by an environment variable (a fork sets LEASEHOLD_RELEASE_REPOSITORY once).
// The manifests' repository, homepage and bugs links are derived from `repository`.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = new URL('../..', import.meta.url).pathname;

export function readJson(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

export function releaseConfig(env = process.env) {
  const file = readJson(join(ROOT, 'release.config.json'));
  const repository = (env.LEASEHOLD_RELEASE_REPOSITORY ?? file.repository).replace(/\/$/, '');
  const image = env.LEASEHOLD_RELEASE_IMAGE ?? file.image;
  if (!/^https:\/\/[^/\s]+\/[^/\s]+\/[^/\s]+$/.test(repository)) {
    throw new Error(
      `release.config.json: repository "${repository}" is not https://host/owner/name`,
    );
  }
  return { repository, image };
}

/** The manifest fields a published package carries, from the repository URL. */
export function manifestLinks(repository) {
  return {
    repository: { type: 'git', url: `git+${repository}.git` },
    homepage: `${repository}#readme`,
    bugs: { url: `${repository}/issues` },
  };
}

/** Workspace packages that are published: every packages/* manifest not marked private. */
export function publishedPackages() {
  return readdirSync(join(ROOT, 'packages'), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join(ROOT, 'packages', entry.name))
    .map((dir) => {
      try {
        return { dir, manifest: readJson(join(dir, 'package.json')) };
      } catch {
        return undefined;
      }
    })
    .filter((pkg) => pkg !== undefined && pkg.manifest.private !== true);
}
