import type { CallOptions } from './client.js';
import { wasNeverSent } from './errors.js';
import { failedOnHost, type HostQuarantine } from './host-quarantine.js';
import type { KeepAliveStream, StreamOpener } from './streams.js';

/** What one keep-alive got: the TTL etcd granted, and the member that answered. */
export interface KeepAliveAnswer {
  /** Whole seconds; 0 or less when the answering member knows no such lease. */
  readonly ttlSeconds: number;
  readonly host: string;
}

/**
 * One keep-alive of one lease: LeaseKeepAlive is a bidirectional stream in etcd's API, so send
 * a single request, take the single answer and half-close the stream.
 *
 * Resolves to the TTL etcd granted and the member that granted it. Rejects with the raw gRPC
 * error when there is no answer before the deadline in `callOptions`; a member that did not
 * answer for the cluster goes into `quarantine`.
 *
 * Not etcd3's `Lease` helper: it keeps a lease alive with its own timer, on its own schedule,
 * and tells about a lost lease late. Here the elector decides when to renew.
 */
export async function keepAliveOnce(
  streams: StreamOpener,
  leaseId: string,
  callOptions: CallOptions,
  quarantine: HostQuarantine,
): Promise<KeepAliveAnswer> {
  // With several hosts, one we could not connect to is skipped for the next.
  for (let attempt = 1; ; attempt += 1) {
    let host = '';
    try {
      const opened = await streams.keepAlive(callOptions);
      host = opened.host;
      const ttlSeconds = await answerOf(opened.stream, leaseId);
      if (ttlSeconds > 0) quarantine.answered(host);
      return { ttlSeconds, host };
    } catch (error) {
      if (host !== '' && failedOnHost(error)) quarantine.failed(host);
      if (attempt >= streams.hostCount || !wasNeverSent(error)) throw error;
    }
  }
}

function answerOf(stream: KeepAliveStream, leaseId: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let answered = false;
    stream.on('data', (response) => {
      if (answered) return;
      answered = true;
      stream.end();
      resolve(Number(response.TTL));
    });
    stream.on('error', (error) => {
      if (!answered) reject(error);
    });
    stream.on('end', () => {
      if (!answered) reject(new Error('etcd closed the keep-alive stream without an answer'));
    });
    stream.write({ ID: leaseId });
  });
}
