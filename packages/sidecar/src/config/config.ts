import { urlSecrets } from '@leasehold/adapters';
import { readFileSync, statSync } from 'node:fs';
import { readConfigFile, type FileValue } from './config-file.js';
import { ConfigValueError, shown } from './config-errors.js';
import {
  FIELDS,
  fieldOf,
  isSecret,
  SECRET_FILE_OPTIONS,
  type AnyField,
  type ConfigSource,
  type SecretFileOption,
  type SettingKey,
  type SidecarConfig,
} from './fields.js';
import { checkSteering } from './steering.js';
import { checkTiming, electionTimingOf } from './timing.js';
import { checkOneSessionTtl, describeElections, ELECTIONS_KEY, electionsOf } from './elections.js';
import { describeJobs, JOBS_KEY, jobsOf } from './jobs.js';
import { SHARDS_KEY, shardsOf } from './shards.js';

/**
 * Reading the configuration: each setting of the table (fields.ts) from the first source
 * that gives it. Precedence: flag > environment > YAML file > default. Secrets may come from
 * files; the timing rules are checked before anything starts (timing.ts).
 */

export interface ConfigInput {
  /** Flag values by flag name (without dashes), as strings. */
  readonly flags: Readonly<Record<string, string | undefined>>;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Path of the YAML file, from --config or LEASEHOLD_CONFIG. */
  readonly configFile?: string | undefined;
}

export function loadConfig(input: ConfigInput): SidecarConfig {
  const configFile = input.configFile ?? input.env.LEASEHOLD_CONFIG;
  const fromFile: ReadonlyMap<string, FileValue> =
    configFile === undefined || configFile === ''
      ? new Map()
      : readConfigFile(configFile, [
          ...FIELDS,
          ...SECRET_FILE_OPTIONS,
          ELECTIONS_KEY,
          JOBS_KEY,
          SHARDS_KEY,
        ]);
  const values: Record<string, unknown> = {};
  const sources: Partial<Record<SettingKey, ConfigSource>> = {};
  for (const f of FIELDS) {
    const source = chooseSource(f, input, fromFile);
    if (source === null) {
      values[f.key] = f.defaultValue();
      continue;
    }
    const parsed = f.parse(source.raw);
    if (parsed instanceof Error) {
      throw new ConfigValueError(f.flag, source, shown(f, source.raw), f.accepted);
    }
    values[f.key] = parsed;
    sources[f.key] = source;
  }
  const settings: Omit<SidecarConfig, 'elections' | 'jobs'> = {
    ...(values as Omit<SidecarConfig, DerivedKey>),
    storeIsDefault: sources.store === undefined,
    configFile: configFile === '' ? undefined : configFile,
    sources,
    warnings: [...commandLineSecrets(sources), ...readableConfigFile(configFile, fromFile)],
  };
  checkTiming(settings);
  checkSteering(settings);
  const elections = electionsOf(settings, fromFile.get(ELECTIONS_KEY.yaml));
  checkOneSessionTtl(settings, elections);
  const shards = shardsOf(fromFile.get(SHARDS_KEY.yaml), elections);
  // The first election is the one `election` names: the unprefixed routes', run's.
  const withElections = {
    ...settings,
    election: elections[0]?.name ?? settings.election,
    elections,
    ...(shards.length === 0 ? {} : { shards }),
  };
  return { ...withElections, jobs: jobsOf(withElections, fromFile.get(JOBS_KEY.yaml)) };
}

type DerivedKey =
  'storeIsDefault' | 'configFile' | 'sources' | 'warnings' | 'elections' | 'jobs' | 'shards';

type GivenSource = Exclude<ConfigSource, { kind: 'default' }>;

/**
 * The first source that gives the setting: flag, then environment, then YAML file. At each,
 * a secret may come as a value or as a file holding it; both at once is refused.
 */
function chooseSource(
  f: AnyField,
  input: ConfigInput,
  fromFile: ReadonlyMap<string, FileValue>,
): GivenSource | null {
  const secretFile = SECRET_FILE_OPTIONS.find((o) => o.key === f.key);
  const former = f.formerly;
  const levels: { kind: GivenSource['kind']; direct: Given; viaFile: Given }[] = [
    {
      kind: 'flag',
      direct: givenOnce(
        f,
        given(`--${f.flag}`, f.flag, input.flags[f.flag]),
        former && given(`--${former.flag}`, former.flag, input.flags[former.flag]),
      ),
      viaFile:
        secretFile && given(`--${secretFile.flag}`, secretFile.flag, input.flags[secretFile.flag]),
    },
    {
      kind: 'env',
      direct: givenOnce(
        f,
        given(f.env, f.env, input.env[f.env]),
        former && given(former.env, former.env, input.env[former.env]),
      ),
      viaFile: secretFile && given(secretFile.env, secretFile.env, input.env[secretFile.env]),
    },
    {
      kind: 'file',
      direct: fileGiven(fromFile.get(f.yaml), f.yaml),
      viaFile: secretFile && fileGiven(fromFile.get(secretFile.yaml), secretFile.yaml),
    },
  ];
  for (const { kind, direct, viaFile } of levels) {
    if (direct !== undefined && viaFile !== undefined) {
      throw new ConfigValueError(
        f.flag,
        { kind: 'default' },
        '',
        '',
        `invalid ${f.flag}: both ${direct.shownName} and ${viaFile.shownName} are given; keep one`,
      );
    }
    if (direct !== undefined) return { kind, name: direct.name, raw: direct.raw };
    if (viaFile !== undefined && secretFile !== undefined) {
      const source = { kind, name: viaFile.name, raw: '', path: viaFile.raw };
      return { ...source, raw: readSecretFile(f, secretFile, source) };
    }
  }
  return null;
}

type Given =
  { readonly name: string; readonly shownName: string; readonly raw: string } | undefined;

/** The setting given under its name or its former one; both at once is refused. */
function givenOnce(f: AnyField, current: Given, former: Given): Given {
  if (current !== undefined && former !== undefined) {
    throw new ConfigValueError(
      f.flag,
      { kind: 'default' },
      '',
      '',
      `invalid ${f.flag}: both ${current.shownName} and ${former.shownName} (its former name) are given; keep ${current.shownName}`,
    );
  }
  return current ?? former;
}

function given(shownName: string, name: string, raw: string | undefined): Given {
  return raw === undefined || raw === '' ? undefined : { name, shownName, raw };
}

function fileGiven(value: FileValue | undefined, yamlKey: string): Given {
  if (value === undefined || value.value === undefined || value.value === null) return undefined;
  return given(`${yamlKey} (config file)`, value.key, String(value.value));
}

/** The file's contents without one trailing newline; its path, never its text, in errors. */
function readSecretFile(f: AnyField, option: SecretFileOption, source: GivenSource): string {
  const path = source.path ?? '';
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigValueError(
      option.flag,
      { kind: source.kind, name: source.name, raw: path },
      path,
      `a readable file holding the ${f.flag} setting (${reason})`,
    );
  }
}

/** A secret typed on the command line: every local user sees it in `ps`. */
function commandLineSecrets(sources: Partial<Record<SettingKey, ConfigSource>>): string[] {
  return SECRET_FILE_OPTIONS.flatMap((option) => {
    const source = sources[option.key];
    if (source?.kind !== 'flag' || source.path !== undefined) return [];
    if (option.key === 'store' && urlSecrets(source.raw).length === 0) return [];
    return [
      `--${source.name} puts a secret on the command line, where every local user can read it (ps, /proc); use --${option.flag} or ${option.env}`,
    ];
  });
}

/** A YAML file with a secret in it that its group or others can read. */
function readableConfigFile(
  path: string | undefined,
  fromFile: ReadonlyMap<string, FileValue>,
): string[] {
  if (path === undefined || path === '') return [];
  const held = SECRET_FILE_OPTIONS.map((o) => fieldOf(o.key)).filter((f) => {
    const value = fromFile.get(f.yaml)?.value;
    if (value === undefined || value === null || value === '') return false;
    return f.key !== 'store' || urlSecrets(String(value)).length > 0;
  });
  if (held.length === 0) return [];
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {
    return [];
  }
  if ((mode & 0o044) === 0) return [];
  const who =
    (mode & 0o040) !== 0 ? ((mode & 0o004) !== 0 ? 'its group and others' : 'its group') : 'others';
  return [
    `config file ${path} holds ${held.map((f) => f.yaml).join(', ')} and ${who} can read it (mode ${mode.toString(8).padStart(4, '0')}); chmod 600 ${path}, or keep the secret in a file of its own (${held.map((f) => `${f.yaml}File`).join(', ')})`,
  ];
}
/** The configuration as `leasehold config` prints it: secrets masked. */
export function describeConfig(config: SidecarConfig): Record<string, unknown> {
  const described: Record<string, unknown> = {};
  // Unset, the renew interval is derived from the TTL: print what the elector will use.
  const effective: SidecarConfig = {
    ...config,
    renewIntervalMs: electionTimingOf(config).renewIntervalMs,
  };
  for (const f of FIELDS) {
    const value = effective[f.key];
    if (value === undefined) continue;
    described[f.yaml] = typeof value === 'string' ? shown(f, value) : isSecret(f) ? '***' : value;
  }
  if (config.shards !== undefined) described.shards = config.shards;
  // One election with the top-level settings is the `election` line, as it always was.
  const elections = describeElections(config);
  if (elections !== null) {
    delete described.election;
    described.elections = elections;
  }
  if (config.jobs.length > 0) described.jobs = describeJobs(config.jobs);
  return described;
}
