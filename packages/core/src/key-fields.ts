/**
 * The fields of the candidate order key (docs/design.md §3.5). Each encodes a value as ASCII
 * so that comparing two encodings byte by byte orders the values: the same in JavaScript, in
 * Redis's Lua and in SQL with COLLATE "C". Every encoding is self-delimiting (fixed width, or
 * ended by a character that cannot occur inside it), so fields can simply follow each other.
 */

/** 14 hex digits hold any whole number in [0, 2^56), so numbers are fixed width. */
const NUMBER_DIGITS = 14;
const MAX = BigInt(Number.MAX_SAFE_INTEGER);
/** Ends a text field; above every hex digit, so a text sorts before its own prefixes. */
const TEXT_END = 'z';

/**
 * Bytewise order of two strings of ASCII characters (every order key is: ids are
 * printable ASCII), which is UTF-16 code unit order, not `localeCompare`'s.
 */
export function compareBytewise(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The smallest number first: exact for whole numbers in [-(2^53 - 1), 2^53 - 1]. */
export function ascendingNumber(value: number | bigint): string {
  return fixedWidth(clamp(value) + MAX);
}

/** The largest number first: exact for whole numbers in [-(2^53 - 1), 2^53 - 1]. */
export function descendingNumber(value: number | bigint): string {
  return fixedWidth(MAX - clamp(value));
}

/**
 * The text with the most significant UTF-8 bytes first (a text before its own prefixes),
 * compared on its first `maxBytes` bytes only: beyond that, texts tie.
 */
export function descendingText(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8').subarray(0, maxBytes);
  let encoded = '';
  for (const byte of bytes) encoded += (255 - byte).toString(16).padStart(2, '0');
  return encoded + TEXT_END;
}

/** A whole number in [-(2^53 - 1), 2^53 - 1], whatever a record held: beyond, it saturates. */
function clamp(value: number | bigint): bigint {
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 0n;
    return clamp(Number.isFinite(value) ? BigInt(Math.trunc(value)) : value > 0 ? MAX : -MAX);
  }
  return value > MAX ? MAX : value < -MAX ? -MAX : value;
}

/** Exact: the shifted value exceeds 2^53 (a double would round it). */
function fixedWidth(value: bigint): string {
  return value.toString(16).padStart(NUMBER_DIGITS, '0');
}
