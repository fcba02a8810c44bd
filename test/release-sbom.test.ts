import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../scripts/release/config.mjs';
import { cycloneDx } from '../scripts/release/sbom.mjs';

// The release's SBOM is made from an installed tree (scripts/release/sbom.mjs). The sidecar
// package in this workspace is one: its production dependencies as pnpm linked them.

interface Component {
  'bom-ref': string;
  name: string;
  group?: string;
  purl: string;
  licenses?: { expression: string }[];
}
interface Bom {
  bomFormat: string;
  specVersion: string;
  metadata: { component: Component };
  components: Component[];
  dependencies: { ref: string; dependsOn: string[] }[];
}

describe('the CycloneDX SBOM of an installed tree', () => {
  const bom = cycloneDx(join(ROOT, 'packages/sidecar')) as Bom;
  const refs = new Set(bom.components.map((c) => c['bom-ref']));

  it('names the sidecar and every production dependency with version and licence', () => {
    expect(bom).toMatchObject({ bomFormat: 'CycloneDX', specVersion: '1.5' });
    expect(bom.metadata.component.purl).toMatch(/^pkg:npm\/%40leasehold\/sidecar@/);
    for (const name of ['fastify', 'pino', 'better-sqlite3', 'ioredis', 'pg', 'etcd3']) {
      expect(
        bom.components.some((c) => c.name === name && c.licenses),
        name,
      ).toBe(true);
    }
    expect(refs.has(bom.metadata.component.purl.replace('sidecar', 'core'))).toBe(true);
  });

  it('leaves out development dependencies', () => {
    for (const name of ['vitest', 'typescript', '@types/better-sqlite3']) {
      expect(bom.components.some((c) => c.name === name)).toBe(false);
    }
  });

  it('has a dependency graph that only points at listed components', () => {
    const all = new Set([...refs, bom.metadata.component['bom-ref']]);
    for (const { ref, dependsOn } of bom.dependencies) {
      expect(all.has(ref), ref).toBe(true);
      for (const target of dependsOn) expect(all.has(target), `${ref} → ${target}`).toBe(true);
    }
  });
});
