import { LeaseholdConfigError } from './errors.js';

/**
 * The rules for names, in one place: the elector checks them when constructed, and the
 * sidecar's configuration checks the same rules before anything is opened, so a bad
 * `--election` is reported as such at once.
 */

export interface NameRule {
  readonly pattern: RegExp;
  /** What is accepted, for the error message. */
  readonly accepted: string;
}

export const ELECTION_NAME: NameRule = {
  pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/,
  accepted: 'use 1-128 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit',
};

export const CANDIDATE_ID: NameRule = {
  pattern: /^[\x21-\x7e]{1,253}$/,
  accepted: 'use 1-253 printable ASCII characters without spaces',
};

export const PRIORITY_RULE = 'must be a whole number';

/** The value, or a LeaseholdConfigError naming `field` and what is accepted. */
export function checkName(field: string, value: string, rule: NameRule): string {
  // Typed as a string, but JavaScript callers can pass anything, and RegExp.test would take
  // undefined as the name "undefined".
  if (typeof value !== 'string' || !rule.pattern.test(value)) {
    throw new LeaseholdConfigError(field, value, rule.accepted);
  }
  return value;
}

export function checkPriority(field: string, value: number): number {
  if (!Number.isSafeInteger(value)) throw new LeaseholdConfigError(field, value, PRIORITY_RULE);
  return value;
}
