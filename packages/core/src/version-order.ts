/**
 * Comparing app versions for the first-in-line order (docs/design.md §3.6): a rolling
 * update moves leadership once, to a new-version candidate. Versions are free text:
 * compared as semver (2.0.0) when both parse, otherwise as UTF-8 bytes; no version at
 * all ranks lowest.
 */

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

/**
 * Negative when `a` is the lower version, positive when higher, 0 when they rank the same.
 * null (no version) ranks below every version.
 */
export function compareVersions(a: string | null, b: string | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  const [left, right] = [parseSemVer(a), parseSemVer(b)];
  if (left === null || right === null) return compareBytes(a, b);
  for (let i = 0; i < 3; i += 1) {
    const order = compareBig(left.core[i] ?? 0n, right.core[i] ?? 0n);
    if (order !== 0) return order;
  }
  return comparePreRelease(left.pre, right.pre);
}

/** semver §11: a release outranks its pre-releases; identifiers compare one by one. */
function comparePreRelease(a: readonly string[], b: readonly string[]): number {
  if (a.length === 0 || b.length === 0) return b.length - a.length;
  for (let i = 0; i < Math.min(a.length, b.length); i += 1) {
    const order = compareIdentifiers(a[i] ?? '', b[i] ?? '');
    if (order !== 0) return order;
  }
  return a.length - b.length;
}

/** Numeric identifiers compare as numbers and rank below alphanumeric ones. */
function compareIdentifiers(a: string, b: string): number {
  const [aNumeric, bNumeric] = [/^\d+$/.test(a), /^\d+$/.test(b)];
  if (aNumeric && bNumeric) return compareBig(BigInt(a), BigInt(b));
  if (aNumeric !== bNumeric) return aNumeric ? -1 : 1;
  return compareBytes(a, b);
}

function compareBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Bytewise (UTF-8), as the stores that order in SQL or Lua compare text. */
export function compareBytes(a: string, b: string): number {
  return Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
}
