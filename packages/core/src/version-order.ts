import { compareBytewise, descendingNumber, descendingText } from './key-fields.js';

/**
 * The app-version order for the first in line (docs/design.md §3.6): a rolling update moves
 * leadership once, to a new-version candidate. Versions are free text. The order is total
 * and lives in one place, `versionKey`, whose bytewise order puts the highest version first,
 * so that the stores that sort member records themselves (by `candidateOrderKey`) follow it:
 *
 * - semver (2.0.0, v2.0.0) ranks above text that is not semver, which ranks above no version;
 * - semver by precedence: major, minor, patch, then a release above its pre-releases, then
 *   the pre-release identifiers one by one (numeric below alphanumeric, a longer list above
 *   its prefix); build metadata is ignored;
 * - text by its UTF-8 bytes.
 *
 * Bounds (beyond them versions tie, the order stays total): numbers compare exactly below
 * 2^53 (larger ones saturate), the first PRE_RELEASE_IDENTIFIERS pre-release identifiers
 * count, each on its first IDENTIFIER_BYTES bytes, and text counts on its first TEXT_BYTES.
 */

export const PRE_RELEASE_IDENTIFIERS = 5;
export const IDENTIFIER_BYTES = 20;
export const TEXT_BYTES = 64;

interface SemVer {
  readonly core: readonly [bigint, bigint, bigint];
  /** Pre-release identifiers; empty for a release. */
  readonly pre: readonly string[];
}

// semver.org's grammar (no leading zeros), with an optional "v" as tags often carry it.
const NUMBER = '(0|[1-9]\\d*)';
const IDENTIFIER = '(?:0|[1-9]\\d*|\\d*[A-Za-z-][0-9A-Za-z-]*)';
const SEMVER = new RegExp(
  `^v?${NUMBER}\\.${NUMBER}\\.${NUMBER}` +
    `(?:-(${IDENTIFIER}(?:\\.${IDENTIFIER})*))?(?:\\+[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?$`,
);

// Markers: each sorts the kind of value that follows it, lowest character first in line.
const [SEMVER_VERSION, TEXT_VERSION, NO_VERSION] = ['a', 'b', 'c'];
const [RELEASE, ALPHANUMERIC_ID, NUMERIC_ID, END_OF_PRE_RELEASE] = ['0', 'a', 'b', 'c'];

/** The semver reading of `text`, or null when it is not semver. Build metadata is ignored. */
export function parseSemVer(text: string): SemVer | null {
  const match = SEMVER.exec(text);
  if (match === null) return null;
  const [, major = '0', minor = '0', patch = '0', pre] = match;
  return {
    core: [BigInt(major), BigInt(minor), BigInt(patch)],
    pre: pre === undefined ? [] : pre.split('.'),
  };
}

/** ASCII whose ascending bytewise order puts the highest version first (see above). */
export function versionKey(version: string | null): string {
  if (version === null) return NO_VERSION;
  const semver = parseSemVer(version);
  if (semver === null) return TEXT_VERSION + descendingText(version, TEXT_BYTES);
  return SEMVER_VERSION + semver.core.map(descendingNumber).join('') + preReleaseKey(semver.pre);
}

/**
 * Negative when `a` is the lower version, positive when higher, 0 when they rank the same.
 * null (no version) ranks below every version.
 */
export function compareVersions(a: string | null, b: string | null): number {
  return compareBytewise(versionKey(b), versionKey(a));
}

/** semver §11: a release outranks its pre-releases; a longer list outranks its prefix. */
function preReleaseKey(identifiers: readonly string[]): string {
  if (identifiers.length === 0) return RELEASE;
  const counted = identifiers.slice(0, PRE_RELEASE_IDENTIFIERS);
  return counted.map(identifierKey).join('') + END_OF_PRE_RELEASE;
}

/** Numeric identifiers compare as numbers and rank below alphanumeric ones. */
function identifierKey(identifier: string): string {
  return /^\d+$/.test(identifier)
    ? NUMERIC_ID + descendingNumber(BigInt(identifier))
    : ALPHANUMERIC_ID + descendingText(identifier, IDENTIFIER_BYTES);
}
