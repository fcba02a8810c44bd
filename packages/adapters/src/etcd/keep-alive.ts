import type { CallOptions } from './client.js';
import { wasNeverSent } from './errors.js';
import type { StreamOpener } from './streams.js';

/**
 * One keep-alive of one lease: LeaseKeepAlive is a bidirectional stream in etcd's API, so send
 * a single request, take the single answer and half-close the stream.
 *
 * Resolves to the TTL etcd granted, in whole seconds; 0 or less when the lease is gone
 * (expired or revoked). Rejects with the raw gRPC error when there is no answer before the
 * deadline in `callOptions`.
 *
 * Not etcd3's `Lease` helper: it keeps a lease alive with its own timer, on its own schedule,
 * and tells about a lost lease late. Here the elector decides when to renew.
 */
export async function keepAliveOnce(
  streams: StreamOpener,
  leaseId: string,
  callOptions: CallOptions,
): Promise<number> {
  // With several hosts, one we could not connect to is skipped for the next.
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await keepAliveOnHost(streams, leaseId, callOptions);
    } catch (error) {
      if (attempt >= streams.hostCount || !wasNeverSent(error)) throw error;
    }
  }
}

async function keepAliveOnHost(
  streams: StreamOpener,
  leaseId: string,
  callOptions: CallOptions,
): Promise<number> {
  const stream = await streams.keepAlive(callOptions);
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
