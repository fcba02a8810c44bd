import type { FileValue } from './config-file.js';
import { ConfigValueError } from './config-errors.js';
import { asElection } from './elections.js';
import { fieldOf, type SidecarConfig } from './fields.js';

/**
 * `jobs:` in the YAML file (docs/run.md, "Several jobs"): leader-only commands of one
 * `leasehold run`, each under an election of the sidecar's own, at most one per election.
 * A job may set its own command grace (checked against its election's lease by the CLI,
 * run/stop-plan.ts) and the variables it sees although they are withheld; otherwise the
 * top-level `commandGrace` and `passEnv` apply.
 */

export interface JobSettings {
  /** One of the sidecar's elections (config/elections.ts). */
  readonly election: string;
  readonly command: string;
  readonly args: readonly string[];
  /** The job's own grace, as given (`jobs[i].commandGrace`); undefined: the top-level one. */
  readonly commandGrace: { readonly ms: number; readonly raw: string } | undefined;
  readonly passEnv: readonly string[];
}

/** The YAML key of the list, for the file reader (config-file.ts). */
export const JOBS_KEY = { yaml: 'jobs', flag: 'jobs' } as const;

const SETTABLE = ['election', 'command', 'commandGrace', 'passEnv'] as const;

/**
 * The jobs of a configuration whose elections are read; none without `jobs:`. Throws a
 * ConfigValueError (exit 2, one line naming the entry's key) for a bad entry.
 */
export function jobsOf(
  config: Omit<SidecarConfig, 'jobs'>,
  fileList: FileValue | undefined,
): JobSettings[] {
  if (fileList === undefined || fileList.value === null) return [];
  const { key, value } = fileList;
  if (!Array.isArray(value) || value.length === 0) {
    throw jobError(
      key,
      shortText(value),
      'a list of jobs, each a mapping with election and command',
    );
  }
  const jobs = value.map((entry, index) => jobOf(config, entry, `${key}[${index}]`));
  const seen = new Set<string>();
  jobs.forEach((job, index) => {
    if (seen.has(job.election)) {
      throw jobError(
        `${key}[${index}].election`,
        job.election,
        'at most one job per election (two would run side by side under one lease)',
      );
    }
    seen.add(job.election);
  });
  return jobs;
}

function jobOf(config: Omit<SidecarConfig, 'jobs'>, entry: unknown, at: string): JobSettings {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw jobError(
      at,
      shortText(entry),
      'a mapping with election, command and, optionally, commandGrace and passEnv',
    );
  }
  const mapping = entry as Record<string, unknown>;
  const unknownKey = Object.keys(mapping).find((k) => !(SETTABLE as readonly string[]).includes(k));
  if (unknownKey !== undefined) {
    throw jobError(`${at}.${unknownKey}`, '', `a job may set ${SETTABLE.join(', ')}`);
  }
  const election = String(mapping.election ?? '');
  const names = config.elections.map((e) => e.name);
  if (!names.includes(election)) {
    throw jobError(
      `${at}.election`,
      election,
      `one of the sidecar's elections: ${names.join(', ')}`,
    );
  }
  const [command, ...args] = commandOf(mapping.command, `${at}.command`);
  return {
    election,
    command: command ?? '',
    args,
    commandGrace: graceOf(mapping.commandGrace, `${at}.commandGrace`),
    passEnv: passEnvOf(config, mapping.passEnv, `${at}.passEnv`),
  };
}

/** The command line: a list of strings (no shell), the executable first. */
function commandOf(value: unknown, at: string): string[] {
  const ok =
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((part) => typeof part === 'string' || typeof part === 'number') &&
    String(value[0]) !== '';
  if (!ok)
    throw jobError(
      at,
      shortText(value),
      'a list: the executable and its arguments, such as [node, report.js]',
    );
  return (value as unknown[]).map(String);
}

function graceOf(value: unknown, at: string): JobSettings['commandGrace'] {
  if (value === undefined || value === null) return undefined;
  const f = fieldOf('commandGraceMs');
  const parsed = f.parse(String(value));
  if (typeof parsed !== 'number') throw jobError(at, String(value), f.accepted);
  return { ms: parsed, raw: String(value) };
}

function passEnvOf(
  config: Pick<SidecarConfig, 'passEnv'>,
  value: unknown,
  at: string,
): readonly string[] {
  if (value === undefined || value === null) return config.passEnv;
  const f = fieldOf('passEnv');
  const raw = Array.isArray(value) ? value.map(String).join(',') : String(value);
  const parsed = f.parse(raw);
  if (!Array.isArray(parsed)) throw jobError(at, raw, f.accepted);
  return parsed as string[];
}

function shortText(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function jobError(key: string, value: string, accepted: string): ConfigValueError {
  return new ConfigValueError('jobs', { kind: 'file', name: key, raw: value }, value, accepted);
}

/**
 * The configuration a job runs with: its election's timing as the top-level one, its own
 * command grace and passEnv, the sources naming the job's keys, so run/stop-plan.ts checks
 * and words its grace as it does the one command's.
 */
export function asJob(config: SidecarConfig, job: JobSettings): SidecarConfig {
  const election = asElection(config, job.election);
  const index = config.jobs.indexOf(job);
  if (job.commandGrace === undefined) return { ...election, passEnv: job.passEnv };
  return {
    ...election,
    commandGraceMs: job.commandGrace.ms,
    passEnv: job.passEnv,
    sources: {
      ...election.sources,
      commandGraceMs: {
        kind: 'file',
        name: `jobs[${index}].commandGrace`,
        raw: job.commandGrace.raw,
      },
    },
  };
}

/** `leasehold config`'s `jobs:` list, as the file spells it. */
export function describeJobs(jobs: readonly JobSettings[]): Record<string, unknown>[] {
  return jobs.map((job) => ({
    election: job.election,
    command: [job.command, ...job.args],
    ...(job.commandGrace === undefined ? {} : { commandGrace: job.commandGrace.ms }),
    ...(job.passEnv.length === 0 ? {} : { passEnv: job.passEnv.join(',') }),
  }));
}
