import { createHash } from 'node:crypto';

/**
 * The key that hides wake-ups from other database roles, kept in a table only leasehold's
 * role can read: the channel is named by a keyed digest, and the payload carries digests of
 * the election and of the first in line instead of their names. LISTEN needs no rights, so
 * a guessable channel would let any role hear names and send false wake-ups.
 */
export interface WakeUpKey {
  /** 32 random bytes, hex. */
  readonly secret: string;
  readonly channel: string;
}

/** SHA-256 of the key's bytes then the message (UTF-8), 32 hex digits; as firstInLineSql(). */
function keyedDigest(secret: string, message: string): string {
  return createHash('sha256')
    .update(Buffer.from(secret, 'hex'))
    .update(message, 'utf8')
    .digest('hex')
    .slice(0, 32);
}

/** An election's or a candidate's tag in wake-ups (names and ids have no newline). */
export function wakeUpTag(
  key: { readonly secret: string },
  kind: 'election' | 'candidate',
  election: string,
  candidate = '',
): string {
  return keyedDigest(
    key.secret,
    kind === 'election' ? `e\n${election}` : `c\n${election}\n${candidate}`,
  );
}

/** The wake-up channel of a schema whose key is `secret` (hex), for tests that notify. */
export function wakeUpChannel(secret: string): string {
  return `leasehold_${keyedDigest(secret, 'channel')}`;
}
