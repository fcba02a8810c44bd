import type { RedisOptions } from 'ioredis';
import { isIP } from 'node:net';
import { connect } from 'node:tls';

/** How long the probe waits, after its handshake, for the server to refuse it. */
const ALERT_WAIT_MS = 500;

/**
 * Why a TLS server keeps resetting our connections, if the handshake says so; else null.
 *
 * With TLS 1.3 the client finishes its handshake before the server has checked the client
 * certificate. ioredis writes AUTH and INFO at once, so a server that refuses the client
 * (no certificate, or one it does not trust) closes a socket holding unread data: the RST
 * usually overtakes the TLS alert that would have said why, and all the client sees is
 * ECONNRESET, attempt after attempt. This probe connects with the same TLS options, writes
 * nothing, and listens: the alert then arrives intact. Redis never talks first, so silence
 * means the handshake is fine and the trouble is elsewhere.
 */
export function tlsRefusal(options: RedisOptions): Promise<Error | null> {
  const host = options.host ?? '127.0.0.1';
  return new Promise((resolve) => {
    const socket = connect({
      ...options.tls,
      host,
      port: options.port ?? 6379,
      ...(options.tls?.servername === undefined && isIP(host) === 0 ? { servername: host } : {}),
    });
    let timer: NodeJS.Timeout | undefined;
    const done = (error: Error | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(error);
    };
    socket.once('error', (error) => done(error));
    socket.once('close', () => done(null));
    socket.once('data', () => done(null));
    socket.once('secureConnect', () => {
      timer = setTimeout(() => done(null), ALERT_WAIT_MS);
    });
    // The connection itself hanging is not what this probe is about.
    socket.setTimeout(ALERT_WAIT_MS * 4, () => done(null));
  });
}
