import { createHash } from 'node:crypto';
import type pg from 'pg';
import { quoteIdentifier } from '../sql-identifier.js';
import { parseWakeUp, wakes } from '../wake-up.js';

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

/** SHA-256 of the key's bytes then the message (UTF-8), 32 hex digits; as queries.ts's firstInLineSql(). */
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

interface Watcher {
  readonly onChange: () => void;
  /** The candidate watching, when it said; woken only when first in line. */
  readonly candidate: string | undefined;
}

/**
 * The store's watchers and its one LISTEN connection, which serves every watched election
 * (store.ts's watch()). A release NOTIFYs on the key's channel: the election's tag, then the
 * tags of the first in line (one per line): only those watchers wake, the others try at
 * their poll. Without tags after the election's, everyone wakes.
 */
export class WakeUpListener {
  /** The LISTEN connection, and the channel it listens on. */
  private listening: { readonly client: pg.Client; readonly channel: string } | null = null;
  /** A LISTEN connection is being opened: one at a time. */
  private listenConnecting = false;
  private readonly watchers = new Map<string, Set<Watcher>>();

  constructor(
    private readonly isClosed: () => boolean,
    /** The wake-up key, read on the store's session (connecting it). */
    private readonly key: () => Promise<WakeUpKey>,
    /** A connection of its own for LISTEN. */
    private readonly connectClient: () => Promise<pg.Client>,
  ) {}

  async watch(
    election: string,
    onChange: () => void,
    signal: AbortSignal,
    candidate?: string,
  ): Promise<void> {
    if (this.isClosed() || signal.aborted) return;
    let listeners = this.watchers.get(election);
    if (listeners === undefined) {
      listeners = new Set();
      this.watchers.set(election, listeners);
    }
    const electionListeners = listeners;
    const watcher: Watcher = { onChange, candidate };
    electionListeners.add(watcher);
    signal.addEventListener('abort', () => electionListeners.delete(watcher), { once: true });
    try {
      await this.listen();
    } catch {
      // Best effort: the elector polls as well; the next watch() call tries again.
    }
  }

  /** A new key (the schema was made again): the listener's channel is dead, listen anew. */
  adoptKey(key: WakeUpKey): void {
    const listening = this.listening;
    if (listening !== null && listening.channel !== key.channel) {
      void listening.client.end().catch(() => {});
    }
  }

  /** Forget every watcher and the connection; its client, for the caller to end. */
  detach(): pg.Client | undefined {
    this.watchers.clear();
    const client = this.listening?.client;
    this.listening = null;
    return client;
  }

  private async listen(): Promise<void> {
    if (this.listening !== null || this.isClosed()) return;
    const key = await this.key();
    if (this.listening !== null || this.isClosed() || this.listenConnecting) return;
    this.listenConnecting = true;
    let listener: pg.Client;
    try {
      listener = await this.connectClient();
    } finally {
      this.listenConnecting = false;
    }
    if (this.listening !== null || this.isClosed()) {
      await listener.end().catch(() => {});
      return;
    }
    const listening = { client: listener, channel: key.channel };
    this.listening = listening;
    const lost = (): void => {
      if (this.listening === listening) this.listening = null;
      // Wake everyone: a release may have happened while we could not hear it.
      for (const listeners of this.watchers.values()) {
        for (const watcher of listeners) watcher.onChange();
      }
    };
    listener.on('error', lost);
    listener.on('end', lost);
    listener.on('notification', (message) => {
      if (message.channel !== key.channel || message.payload === undefined) return;
      const { election: electionTag, firstInLine } = parseWakeUp(message.payload);
      for (const [election, watchers] of this.watchers) {
        if (wakeUpTag(key, 'election', election) !== electionTag) continue;
        for (const watcher of watchers) {
          const candidate =
            watcher.candidate === undefined
              ? undefined
              : wakeUpTag(key, 'candidate', election, watcher.candidate);
          if (wakes(firstInLine, candidate)) watcher.onChange();
        }
      }
    });
    try {
      await listener.query(`LISTEN ${quoteIdentifier(key.channel)}`);
    } catch (error) {
      if (this.listening === listening) this.listening = null;
      await listener.end().catch(() => {});
      throw error;
    }
  }
}
