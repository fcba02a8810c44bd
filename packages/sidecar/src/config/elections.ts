import { ELECTION_NAME, LeaseholdTimingError } from '@leasehold/core';
import type { FileValue } from './config-file.js';
import { ConfigValueError, describeSource } from './config-errors.js';
import { fieldOf, type ConfigSource, type SettingKey, type SidecarConfig } from './fields.js';
import { electionTimingOf } from './timing.js';

/**
 * The elections one sidecar takes part in (docs/configuration.md, "Several elections"):
 * `--election` repeated (or names separated by commas in LEASEHOLD_ELECTION), or
 * `elections:` in the YAML file, where each entry may set its own timing and priority. Every
 * election gets an elector of its own (the unit of safety), all on the one store; the first
 * is the one the unprefixed routes and `leasehold run` serve.
 */

/** One election's settings: the top-level ones, overridden by its `elections:` entry. */
export interface ElectionSettings {
  readonly name: string;
  readonly ttlMs: number;
  readonly renewIntervalMs: number | undefined;
  readonly retryIntervalMs: number;
  readonly priority: number;
}

/** The settings an `elections:` entry may override, with the top-level field each parses as. */
const OVERRIDABLE = {
  ttl: 'ttlMs',
  renewInterval: 'renewIntervalMs',
  retryInterval: 'retryIntervalMs',
  priority: 'priority',
} as const satisfies Record<string, SettingKey>;

/** Enough for any fleet of singleton duties or shards; a typo such as 1e6 is refused. */
export const MAX_ELECTIONS = 10_000;

/** The YAML key of the list, for the file reader (config-file.ts). */
export const ELECTIONS_KEY = { yaml: 'elections', flag: 'elections' } as const;

/**
 * The elections of a configuration whose top-level settings are read: from the election
 * setting's source (a flag, the environment, or `election:` in the file), or from the file's
 * `elections:` list. Throws a ConfigValueError (exit 2, one line) for a bad entry.
 */
export function electionsOf(
  config: Omit<SidecarConfig, 'elections' | 'jobs'>,
  fileList: FileValue | undefined,
): ElectionSettings[] {
  const source = config.sources.election;
  if (fileList !== undefined && source?.kind === 'file') {
    throw new ConfigValueError('election', source, '', '', bothInFile(source, fileList));
  }
  const fromList = source === undefined && fileList !== undefined;
  const elections = fromList
    ? listEntries(fileList).map((entry, index) => fromEntry(config, fileList, entry, index))
    : namesOf(source).map((name) => ({ ...topLevel(config), name }));
  checkElections(elections, fromList ? `config file key ${fileList.key}` : describeNames(source));
  return elections;
}

function bothInFile(source: ConfigSource, fileList: FileValue): string {
  const name = source.kind === 'default' ? 'election' : source.name;
  return `invalid election: the config file sets both ${name} and ${fileList.key}; keep ${fileList.key}`;
}

function topLevel(
  config: Pick<SidecarConfig, 'ttlMs' | 'renewIntervalMs' | 'retryIntervalMs' | 'priority'>,
): Omit<ElectionSettings, 'name'> {
  return {
    ttlMs: config.ttlMs,
    renewIntervalMs: config.renewIntervalMs,
    retryIntervalMs: config.retryIntervalMs,
    priority: config.priority,
  };
}

/** The names a flag or variable gave (validated by the field), or the default's one. */
function namesOf(source: ConfigSource | undefined): string[] {
  return source === undefined || source.kind === 'default'
    ? [String(fieldOf('election').defaultValue())]
    : source.raw.split(',');
}

function describeNames(source: ConfigSource | undefined): string {
  return source === undefined ? 'election' : describeSource(source);
}

function listEntries(list: FileValue): unknown[] {
  const { value, key } = list;
  if (Array.isArray(value) && value.length > 0) return value;
  throw fileError(
    key,
    shortText(value),
    'a list of elections, each a name or a mapping with name and, optionally, ttl, renewInterval, retryInterval and priority',
  );
}

/** One entry of `elections:`: a name, or a mapping whose settings override the top-level ones. */
function fromEntry(
  config: Omit<SidecarConfig, 'elections' | 'jobs'>,
  list: FileValue,
  entry: unknown,
  index: number,
): ElectionSettings {
  const at = `${list.key}[${index}]`;
  const mapping = entryMapping(entry, at);
  const name = String(mapping.name ?? '');
  if (!ELECTION_NAME.pattern.test(name))
    throw fileError(`${at}.name`, name, ELECTION_NAME.accepted);
  const value = (yamlKey: keyof typeof OVERRIDABLE): number | undefined => {
    const raw = mapping[yamlKey];
    if (raw === undefined || raw === null) return undefined;
    const f = fieldOf(OVERRIDABLE[yamlKey]);
    const parsed = f.parse(String(raw));
    if (typeof parsed !== 'number') throw fileError(`${at}.${yamlKey}`, String(raw), f.accepted);
    return parsed;
  };
  const election: ElectionSettings = {
    name,
    ttlMs: value('ttl') ?? config.ttlMs,
    renewIntervalMs: value('renewInterval') ?? config.renewIntervalMs,
    retryIntervalMs: value('retryInterval') ?? config.retryIntervalMs,
    priority: value('priority') ?? config.priority,
  };
  checkEntryTiming(election, at, mapping);
  return election;
}

/** An entry as a mapping (a bare name is `{name}`); refused if neither, or with a key unknown. */
function entryMapping(entry: unknown, at: string): Record<string, unknown> {
  if (typeof entry === 'string') return { name: entry };
  if (!isMapping(entry)) {
    throw fileError(
      at,
      shortText(entry),
      'an election name, or a mapping with name: and its settings',
    );
  }
  const settable = `name, ${Object.keys(OVERRIDABLE).join(', ')}`;
  const unknownKey = Object.keys(entry).find((k) => k !== 'name' && !(k in OVERRIDABLE));
  if (unknownKey !== undefined) {
    throw fileError(
      `${at}.${unknownKey}`,
      '',
      `an election may set ${settable}`,
      `unknown key ${JSON.stringify(unknownKey)} in ${at} of the config file; an election may set ${settable}`,
    );
  }
  return entry;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function shortText(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function fileError(key: string, value: string, accepted: string, line?: string): ConfigValueError {
  return new ConfigValueError(
    'elections',
    { kind: 'file', name: key, raw: value },
    value,
    accepted,
    line,
  );
}

/** No name twice (two electors of one id would contend with themselves), and not too many. */
function checkElections(elections: readonly ElectionSettings[], givenAs: string): void {
  if (elections.length > MAX_ELECTIONS) {
    throw new ConfigValueError(
      'election',
      { kind: 'default' },
      '',
      '',
      `invalid election (${givenAs}): ${elections.length} elections; at most ${MAX_ELECTIONS} per sidecar`,
    );
  }
  const seen = new Set<string>();
  for (const { name } of elections) {
    if (seen.has(name)) {
      throw new ConfigValueError(
        'election',
        { kind: 'default' },
        '',
        '',
        `invalid election (${givenAs}): ${JSON.stringify(name)} is named twice; each election once`,
      );
    }
    seen.add(name);
  }
}

/**
 * The elector's timing rules for one entry of `elections:` (the top-level settings are
 * checked before, by checkTiming): the line names the entry's key that breaks the rule, or
 * the entry's TTL when the rule is broken by a setting it takes from the top level.
 */
function checkEntryTiming(election: ElectionSettings, at: string, mapping: object): void {
  try {
    electionTimingOf(election);
  } catch (error) {
    if (!(error instanceof LeaseholdTimingError)) throw error;
    const given = (yamlKey: string) => Object.hasOwn(mapping, yamlKey);
    const named = Object.entries(OVERRIDABLE).find(([, key]) => key === error.field)?.[0];
    const yamlKey =
      named !== undefined && given(named)
        ? named
        : (['ttl', 'renewInterval', 'retryInterval'].find(given) ?? 'ttl');
    const raw = (mapping as Record<string, unknown>)[yamlKey];
    throw fileError(
      `${at}.${yamlKey}`,
      raw === undefined ? '' : String(raw),
      Object.entries(OVERRIDABLE).reduce(
        (text, [k, key]) => text.replaceAll(key, k),
        error.accepted,
      ),
    );
  }
}

/**
 * On ZooKeeper every lease of a sidecar is its one session, whose timeout is the TTL it
 * connects with (the top-level one): an election cannot have a TTL of its own there.
 */
export function checkOneSessionTtl(
  config: Pick<SidecarConfig, 'store' | 'ttlMs'>,
  elections: readonly ElectionSettings[],
): void {
  if (!/^zk(s)?:\/\//.test(config.store)) return;
  const index = elections.findIndex((election) => election.ttlMs !== config.ttlMs);
  const election = elections[index];
  if (election === undefined) return;
  throw fileError(
    `elections[${index}].ttl`,
    `${election.ttlMs} ms`,
    `on ZooKeeper every election of a sidecar has the top-level ttl (${config.ttlMs} ms): its session is their one lease`,
  );
}

/**
 * `leasehold config`'s `elections:` list, each election's effective settings; null for one
 * election with the top-level settings, shown as the `election` line it always was.
 */
export function describeElections(
  config: Pick<
    SidecarConfig,
    'elections' | 'ttlMs' | 'renewIntervalMs' | 'retryIntervalMs' | 'priority'
  >,
): Record<string, unknown>[] | null {
  const [only] = config.elections;
  const plain =
    config.elections.length === 1 &&
    only !== undefined &&
    JSON.stringify({ ...topLevel(config), name: only.name }) === JSON.stringify(only);
  if (plain) return null;
  return config.elections.map((election) => ({
    name: election.name,
    ttl: election.ttlMs,
    renewInterval: electionTimingOf(election).renewIntervalMs,
    retryInterval: election.retryIntervalMs,
    priority: election.priority,
  }));
}

/**
 * The configuration with the first election's timing as its top-level one, the sources
 * naming the entry that set it: `leasehold run`'s command runs under the first election,
 * so its command grace must fit that election's lease (run/stop-plan.ts reads the
 * top-level timing).
 */
export function asFirstElection(config: SidecarConfig): SidecarConfig {
  return asElection(config, config.elections[0]?.name ?? config.election);
}

/** The same for the election named `name` (a job's, config/jobs.ts); unchanged if none. */
export function asElection(config: SidecarConfig, name: string): SidecarConfig {
  const index = config.elections.findIndex((e) => e.name === name);
  const election = config.elections[index];
  if (election === undefined) return config;
  const sources = { ...config.sources };
  const entry = (key: 'ttlMs' | 'renewIntervalMs' | 'retryIntervalMs', yamlKey: string) => {
    if (election[key] === config[key] || election[key] === undefined) return;
    sources[key] = {
      kind: 'file',
      name: `elections[${index}].${yamlKey}`,
      raw: `${election[key]}ms`,
    };
  };
  entry('ttlMs', 'ttl');
  entry('renewIntervalMs', 'renewInterval');
  entry('retryIntervalMs', 'retryInterval');
  return {
    ...config,
    ttlMs: election.ttlMs,
    renewIntervalMs: election.renewIntervalMs,
    retryIntervalMs: election.retryIntervalMs,
    sources,
  };
}
