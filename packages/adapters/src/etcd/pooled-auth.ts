import { castGrpcError, type Etcd3 } from 'etcd3';
import type { CallOptions } from './client.js';

/** The parts of etcd3 1.1's connection pool that `authenticateOnPooledChannels` reaches into. */
interface PoolInternals {
  readonly authenticator?: { getCredentialsFromHost?: unknown };
  readonly hosts?: readonly { readonly host?: unknown; getServiceClient?: unknown }[];
}

interface AuthServiceClient {
  authenticate(
    request: { name: string; password: string },
    options: CallOptions,
    callback: (error: Error | null, response?: { token: string }) => void,
  ): unknown;
}

/**
 * etcd3 authenticates on a gRPC client it creates for each attempt and never closes, so every
 * attempt (one per call while etcd is unreachable, one after each etcd restart) leaves a
 * channel and its timers behind. Send the authentication on the host's own Auth client
 * instead, which the pool closes with the rest. When etcd3's internals are not as expected
 * (another version), this changes nothing.
 */
export function authenticateOnPooledChannels(client: Etcd3): void {
  const pool = (client as unknown as { pool?: PoolInternals }).pool;
  const authenticator = pool?.authenticator;
  const hosts = pool?.hosts ?? [];
  if (
    authenticator === undefined ||
    typeof authenticator.getCredentialsFromHost !== 'function' ||
    hosts.length === 0 ||
    hosts.some((host) => typeof host.getServiceClient !== 'function')
  ) {
    return;
  }
  authenticator.getCredentialsFromHost = (
    address: string,
    name: string,
    password: string,
    callOptions: CallOptions,
  ): Promise<string> =>
    new Promise((resolve, reject) => {
      const host = hosts.find((candidate) => candidate.host === address) ?? hosts[0];
      try {
        const auth = (host?.getServiceClient as (service: 'Auth') => AuthServiceClient).call(
          host,
          'Auth',
        );
        auth.authenticate({ name, password }, callOptions, (error, response) => {
          if (error !== null) reject(castGrpcError(error));
          else resolve(response?.token ?? '');
        });
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
}
