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

/**
 * Keep-alives of many leases on ONE stream (LeaseStore.batch, docs/design.md §3.8): one
 * request per lease on it, answered by id. Resolves to the TTL granted to each lease (0 or
 * less: unknown to the member that answered) once every one is answered; rejects on the
 * stream's error or end before that, or at the deadline in `callOptions`.
 */
export async function keepAliveMany(
  streams: StreamOpener,
  leaseIds: readonly string[],
  callOptions: CallOptions,
  quarantine: HostQuarantine,
): Promise<{ readonly ttlSeconds: ReadonlyMap<string, number>; readonly host: string }> {
  let host = '';
  try {
    const opened = await streams.keepAlive(callOptions);
    host = opened.host;
    const ttlSeconds = await answersOf(opened.stream, leaseIds);
    if ([...ttlSeconds.values()].every((ttl) => ttl > 0)) quarantine.answered(host);
    return { ttlSeconds, host };
  } catch (error) {
    if (host !== '' && failedOnHost(error)) quarantine.failed(host);
    throw error;
  }
}

function answersOf(stream: KeepAliveStream, leaseIds: readonly string[]) {
  return new Promise<Map<string, number>>((resolve, reject) => {
    const answers = new Map<string, number>();
    const wanted = new Set(leaseIds);
    stream.on('data', (response) => {
      const id = String(response.ID);
      if (!wanted.has(id) || answers.has(id)) return;
      answers.set(id, Number(response.TTL));
      if (answers.size === wanted.size) {
        stream.end();
        resolve(answers);
      }
    });
    stream.on('error', (error) => {
      if (answers.size < wanted.size) reject(error);
    });
    stream.on('end', () => {
      if (answers.size < wanted.size) {
        reject(new Error('etcd closed the keep-alive stream before answering every lease'));
      }
    });
    for (const id of wanted) stream.write({ ID: id });
  });
}
