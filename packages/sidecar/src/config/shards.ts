import { ELECTION_NAME, MAX_SHARDS } from '@leasehold/core';
import type { FileValue } from './config-file.js';
import { ConfigValueError } from './config-errors.js';
import type { ElectionSettings } from './elections.js';
import { MAX_ELECTIONS } from './elections.js';

/**
 * The shard groups of one sidecar (docs/shards.md, docs/configuration.md "Shards"):
 * `shards: [{name: reports, count: 64}]` in the YAML file. Group `reports` of 64 shards is
 * the elections `reports-0` … `reports-63`, one ShardGroup (core) each on the sidecar's one
 * store; they count towards the sidecar's cap of elections.
 */

export interface ShardSettings {
  readonly name: string;
  readonly count: number;
}

/** The YAML key of the list, for the file reader (config-file.ts). */
export const SHARDS_KEY = { yaml: 'shards', flag: 'shards' } as const;

const ENTRY = 'a mapping with name: (an election name) and count: (a whole number from 1 to 4096)';

/**
 * The groups the file's `shards:` list names, none without it. Throws a ConfigValueError
 * (exit 2, one line naming the entry's key) for a bad entry, a name given twice or clashing
 * with an election (or with one of another group's shards), or too many elections in all.
 */
export function shardsOf(
  fileList: FileValue | undefined,
  elections: readonly ElectionSettings[],
): ShardSettings[] {
  if (fileList === undefined) return [];
  const { key, value } = fileList;
  if (!Array.isArray(value))
    throw shardError(key, shortText(value), `a list of shard groups, each ${ENTRY}`);
  const groups = value.map((entry, index) => shardEntry(entry, `${key}[${index}]`));
  checkNames(groups, elections, key);
  const total = elections.length + groups.reduce((sum, group) => sum + group.count, 0);
  if (total > MAX_ELECTIONS) {
    throw shardError(
      key,
      `${total} elections`,
      `at most ${MAX_ELECTIONS} elections per sidecar, each shard one of them`,
    );
  }
  return groups;
}

function shardEntry(entry: unknown, at: string): ShardSettings {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw shardError(at, shortText(entry), ENTRY);
  }
  const mapping = entry as Record<string, unknown>;
  const unknownKey = Object.keys(mapping).find((k) => k !== 'name' && k !== 'count');
  if (unknownKey !== undefined)
    throw shardError(`${at}.${unknownKey}`, '', 'a shard group sets name and count only');
  const name = String(mapping.name ?? '');
  if (!ELECTION_NAME.pattern.test(name))
    throw shardError(`${at}.name`, name, ELECTION_NAME.accepted);
  const count = Number(mapping.count);
  if (
    typeof mapping.count !== 'number' ||
    !Number.isSafeInteger(count) ||
    count < 1 ||
    count > MAX_SHARDS
  ) {
    throw shardError(
      `${at}.count`,
      String(mapping.count ?? ''),
      `a whole number from 1 to ${MAX_SHARDS}`,
    );
  }
  // Shard n is the election `<name>-<n>`: the longest must be a valid name too.
  const last = `${name}-${count - 1}`;
  if (!ELECTION_NAME.pattern.test(last)) {
    throw shardError(
      `${at}.name`,
      name,
      `a name short enough that its last shard, "${last}", is an election name (${ELECTION_NAME.accepted})`,
    );
  }
  return { name, count };
}

/** No group named twice, and no shard's election the same as an election of the sidecar. */
function checkNames(
  groups: readonly ShardSettings[],
  elections: readonly ElectionSettings[],
  key: string,
): void {
  const taken = new Map(elections.map((e) => [e.name, `election "${e.name}"`]));
  const named = new Set<string>();
  groups.forEach((group, index) => {
    if (named.has(group.name)) {
      throw shardError(`${key}[${index}].name`, group.name, 'each shard group named once');
    }
    named.add(group.name);
    for (let shard = 0; shard < group.count; shard += 1) {
      const election = `${group.name}-${shard}`;
      const clash =
        taken.get(election) ?? (taken.has(group.name) ? taken.get(group.name) : undefined);
      if (clash !== undefined) {
        throw shardError(
          `${key}[${index}].name`,
          group.name,
          `a name whose shards' elections (${group.name}-0 …) are no other election's: ${clash} clashes`,
        );
      }
      taken.set(election, `shard ${shard} of group "${group.name}"`);
    }
  });
}

function shortText(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function shardError(key: string, value: string, accepted: string): ConfigValueError {
  return new ConfigValueError('shards', { kind: 'file', name: key, raw: value }, value, accepted);
}
