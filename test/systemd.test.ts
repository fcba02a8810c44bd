import { FIELDS, loadConfig, parseDuration, type SidecarConfig } from '@leasehold/sidecar';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { mapping, readRepoFile, root, text } from './support/repo-files.js';
import { explain, runTool } from './support/tools.js';
import { SIDECAR_BIN as BIN } from '@leasehold/testkit';

// systemd-analyze checks the units in deploy/systemd (syntax, every setting known to this
// systemd, the command executable, the hardening's exposure), and this holds them to the
// sidecar: its environment examples load as valid configurations, systemd waits longer
// than the shutdown grace, and no job can outlive the service.

const DIR = 'deploy/systemd';
const units = readdirSync(`${root}/${DIR}`)
  .filter((file) => file.endsWith('.service'))
  .sort();
const knownEnv = new Set(FIELDS.map((field) => field.env));
/** What the sidecar exits with on an invalid configuration (docs/configuration.md). */
const INVALID_CONFIG_EXIT = '2';

/** A unit file's settings: section → key → every value given, in order. */
type Unit = Map<string, Map<string, string[]>>;

function parseUnit(source: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  for (const line of source.split('\n').map((l) => l.trim())) {
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line)?.[1];
    if (header !== undefined) {
      section = new Map();
      unit.set(header, section);
      continue;
    }
    const [key, ...rest] = line.split('=');
    if (section === undefined || key === undefined) throw new Error(`bad line: ${line}`);
    section.set(key, [...(section.get(key) ?? []), rest.join('=')]);
  }
  return unit;
}

function setting(unit: Unit, section: string, key: string): string | undefined {
  return unit.get(section)?.get(key)?.at(-1);
}

/** KEY=VALUE lines of an EnvironmentFile (comments and blank lines skipped). */
function parseEnvironmentFile(source: string): Record<string, string> {
  return Object.fromEntries(
    source
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => {
        const at = line.indexOf('=');
        return [line.slice(0, at), line.slice(at + 1).replace(/^"(.*)"$/, '$1')];
      }),
  );
}

interface Loaded {
  readonly unit: Unit;
  readonly env: Record<string, string>;
  readonly config: SidecarConfig;
  readonly command: string[];
}

function load(file: string): Loaded {
  const unit = parseUnit(readRepoFile(`${DIR}/${file}`));
  // Environment= first; the EnvironmentFile overrides it, as systemd applies them.
  const fromUnit = Object.fromEntries(
    (unit.get('Service')?.get('Environment') ?? []).map((assignment) => {
      const at = assignment.indexOf('=');
      // %H is the host name; any value will do for the configuration check.
      return [assignment.slice(0, at), assignment.slice(at + 1).replace('%H', 'host-1')];
    }),
  );
  const environmentFile = setting(unit, 'Service', 'EnvironmentFile') ?? '';
  const example = environmentFile.split('/').at(-1) ?? '';
  const env = { ...fromUnit, ...parseEnvironmentFile(readRepoFile(`${DIR}/${example}`)) };
  const command = (setting(unit, 'Service', 'ExecStart') ?? '').split(/\s+/);
  return { unit, env, config: loadConfig({ flags: {}, env }), command };
}

const scratch = mkdtempSync(`${tmpdir()}/lhops-systemd-`);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * The unit as installed on a host where `leasehold` resolves to this checkout's command:
 * systemd-analyze verify checks that the command is an executable file.
 */
function installedCopy(file: string): string {
  const path = `${scratch}/${file}`;
  writeFileSync(
    path,
    readRepoFile(`${DIR}/${file}`).replace(/^ExecStart=leasehold\b/m, `ExecStart=${BIN}`),
  );
  return path;
}

describe('deploy/systemd', () => {
  it('has the sidecar unit and a `leasehold run` example', () => {
    expect(units).toEqual(['leasehold.service', 'report-worker.service']);
    expect(load('report-worker.service').command.slice(0, 3)).toEqual(['leasehold', 'run', '--']);
  });

  it('is accepted by systemd-analyze verify, without a warning', () => {
    const result = runTool('systemd-analyze', ['verify', ...units.map(installedCopy)], {
      cwd: scratch,
    });
    expect(result.status, explain('systemd-analyze verify', result)).toBe(0);
    expect(result.stderr).toBe('');
  });

  it.each(units)('%s: hardening exposure at most 2.0 (systemd-analyze security)', (file) => {
    const result = runTool(
      'systemd-analyze',
      ['security', '--offline=true', '--threshold=20', installedCopy(file)],
      { cwd: scratch },
    );
    expect(result.status, explain('systemd-analyze security', result)).toBe(0);
  });

  describe.each(units)('%s', (file) => {
    const { unit, env, config, command } = load(file);
    const service = (key: string): string | undefined => setting(unit, 'Service', key);

    it('runs the command the sidecar package installs', () => {
      const manifest = mapping(JSON.parse(readRepoFile('packages/sidecar/package.json')), 'pkg');
      expect(Object.keys(mapping(manifest.bin, 'bin'))).toContain(command[0]);
    });

    it('reads a valid configuration from its EnvironmentFile, names the schema knows', () => {
      expect(service('EnvironmentFile')).toMatch(/^\/etc\/leasehold\/[\w-]+\.env$/);
      for (const name of Object.keys(env)) expect(knownEnv, name).toContain(name);
      expect(config.storeIsDefault).toBe(false);
      expect(config.id).toBe('host-1');
      if (command[1] === 'run') expect(config.commandGraceMs).toBeLessThan(config.shutdownGraceMs);
    });

    it('waits longer than the shutdown grace before SIGKILL, after SIGTERM', () => {
      expect(service('KillSignal')).toBe('SIGTERM');
      const timeout = parseDuration(text(service('TimeoutStopSec'), 'TimeoutStopSec'));
      if (timeout instanceof Error) throw timeout;
      expect(timeout).toBeGreaterThan(config.shutdownGraceMs);
    });

    it('leaves no process behind: SIGTERM to the sidecar, SIGKILL to the rest', () => {
      expect(service('KillMode')).toBe('mixed');
    });

    it('restarts on failure, but not on an invalid configuration', () => {
      expect(service('Restart')).toBe('on-failure');
      expect(service('RestartPreventExitStatus')?.split(/\s+/)).toContain(INVALID_CONFIG_EXIT);
    });

    it('runs hardened, as a user of its own', () => {
      expect(service('DynamicUser')).toBe('yes');
      expect(service('NoNewPrivileges')).toBe('yes');
      expect(service('ProtectSystem')).toBe('strict');
      expect(service('CapabilityBoundingSet')).toBe('');
    });
  });

  it('lets both units run on one host: each its own port and state directory', () => {
    const loaded = units.map(load);
    expect(new Set(loaded.map((l) => l.config.port)).size).toBe(units.length);
    const stateDirectories = loaded.map((l) => setting(l.unit, 'Service', 'StateDirectory'));
    expect(new Set(stateDirectories).size).toBe(units.length);
  });
});
