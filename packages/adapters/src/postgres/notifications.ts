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

/** The first wait before listening again after a LISTEN failed or its connection ended. */
const RELISTEN_FIRST_MS = 250;
/** The longest: doubled after each failure up to this. */
const RELISTEN_MAX_MS = 5_000;

/**
 * The store's watchers and its one LISTEN connection, which serves every watched election
 * (store.ts's watch()). A release NOTIFYs on the key's channel: the election's tag, then the
 * tags of the first in line (one per line): only those watchers wake, the others try at
 * their poll. Without tags after the election's, everyone wakes.
 *
 * A LISTEN that failed, or whose connection ended (a server restart, a terminated backend,
 * a new key), is tried again while anyone watches, backing off to RELISTEN_MAX_MS: an
 * elector watches once, at its start, and a follower that reads on its heartbeat's grid
 * would otherwise hear of a release only a renew interval later, for the rest of its life.
 * Once a LISTEN takes again, every watcher is woken.
 */
export class WakeUpListener {
  /** The next LISTEN attempt, while one is due. */
  private relistenTimer: ReturnType<typeof setTimeout> | null = null;
  private relistenMs = RELISTEN_FIRST_MS;
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
      // Best effort: the elector polls meanwhile.
      this.listenLater();
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
    if (this.relistenTimer !== null) clearTimeout(this.relistenTimer);
    this.relistenTimer = null;
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
      if (this.listening !== listening) return;
      this.listening = null;
      this.wakeEveryone();
      this.listenLater();
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
    if (this.relistenMs > RELISTEN_FIRST_MS) {
      // Listening again: a release while the connection was down was heard by nobody. Each
      // watcher claims once now, as at a poll. (A first LISTEN wakes nobody: its elector
      // looks once the watch is in place, see the core Elector's startWatching.)
      this.relistenMs = RELISTEN_FIRST_MS;
      this.wakeEveryone();
    }
  }

  /** Listen again after a while, while anyone watches; the wait doubles up to the most. */
  private listenLater(): void {
    if (this.relistenTimer !== null || this.isClosed() || !this.anyoneWatches()) return;
    const wait = this.relistenMs;
    this.relistenMs = Math.min(2 * wait, RELISTEN_MAX_MS);
    this.relistenTimer = setTimeout(() => {
      this.relistenTimer = null;
      this.listen().catch(() => this.listenLater());
    }, wait);
    this.relistenTimer.unref();
  }

  private anyoneWatches(): boolean {
    for (const listeners of this.watchers.values()) if (listeners.size > 0) return true;
    return false;
  }

  /** Wake every watcher: each claims, as at a poll. */
  private wakeEveryone(): void {
    for (const listeners of this.watchers.values()) {
      for (const watcher of listeners) watcher.onChange();
    }
  }
}
