import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  manifestLinks,
  publishedPackages,
  releaseConfig,
  ROOT,
} from '../scripts/release/config.mjs';

// What every published package carries (docs/deploy.md, "Releasing"): the licence text, a
// README, and links made from the one repository setting in release.config.json.

interface Manifest {
  name: string;
  private?: boolean;
  files?: string[];
  engines?: { node?: string };
}
const packages = publishedPackages() as { dir: string; manifest: Manifest }[];
const rootLicense = readFileSync(join(ROOT, 'LICENSE'), 'utf8');

describe('the published packages', () => {
  it('are the public workspace packages, private ones skipped', () => {
    expect(packages.map((p) => p.manifest.name).sort()).toEqual([
      '@leasehold/adapters',
      '@leasehold/conformance',
      '@leasehold/core',
      '@leasehold/sidecar',
    ]);
    expect(packages.every((p) => p.manifest.private !== true)).toBe(true);
  });

  it('carry the Apache-2.0 text, a README and the engines of the root', () => {
    expect(rootLicense).toContain('Apache License\n                           Version 2.0');
    expect(rootLicense).toContain('END OF TERMS AND CONDITIONS');
    const engines = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Manifest)
      .engines;
    for (const { dir, manifest } of packages) {
      expect(readFileSync(join(dir, 'LICENSE'), 'utf8'), manifest.name).toBe(rootLicense);
      expect(existsSync(join(dir, 'README.md')), manifest.name).toBe(true);
      expect(manifest.files, manifest.name).toEqual(
        expect.arrayContaining(['README.md', 'LICENSE']),
      );
      expect(manifest.engines, manifest.name).toEqual(engines);
    }
  });

  it("link to the release's repository setting, nowhere else", () => {
    const { repository } = releaseConfig({});
    for (const { dir, manifest } of packages) {
      expect(manifest, manifest.name).toMatchObject(manifestLinks(repository));
      const links = readFileSync(join(dir, 'README.md'), 'utf8').match(/https:\/\/github\.com\S*/g);
      for (const link of links ?? []) expect(link.startsWith(repository), link).toBe(true);
    }
  });

  it('take the repository from the environment over the file', () => {
    const fork = releaseConfig({ LEASEHOLD_RELEASE_REPOSITORY: 'https://git.example/me/fork/' });
    expect(fork.repository).toBe('https://git.example/me/fork');
    expect(manifestLinks(fork.repository).bugs).toEqual({
      url: 'https://git.example/me/fork/issues',
    });
    expect(() => releaseConfig({ LEASEHOLD_RELEASE_REPOSITORY: 'me/fork' })).toThrow(
      'repository "me/fork" is not https://host/owner/name',
    );
  });
});
