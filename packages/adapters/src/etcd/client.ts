import { rootCertificates } from 'node:tls';
import { Etcd3, type IOptions, type KVClient } from 'etcd3';
import { authenticateOnPooledChannels } from './pooled-auth.js';
import { EtcdCallError, wasNeverSent } from './errors.js';
import type { HostQuarantine } from './host-quarantine.js';
import { failedOnHost, HostSkippedError } from './host-quarantine.js';
import type { EtcdConfig } from './url.js';

export type CallOptions = NonNullable<Parameters<KVClient['range']>[1]>;
type FaultPolicy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>;

/**
 * Fault policies that run each call once and report its failure.
 *
 * etcd3's defaults are a global retry (three immediate attempts) and a per-host circuit
 * breaker that stays open for five seconds after three failures. Both hurt here: a retried
 * txn may apply twice, and an open breaker refuses calls for seconds after etcd is back, long
 * enough for a holder to lose a lease it could have renewed. The elector already retries with
 * backoff and deadlines.
 */
const passThrough: FaultPolicy = {
  _altReturn: undefined as never,
  onSuccess: () => ({ dispose: () => undefined }),
  onFailure: () => ({ dispose: () => undefined }),
  execute: async (fn, signal) => fn({ signal: signal ?? new AbortController().signal }),
};

/**
 * The per-host policy. It hides how a call failed from etcd3, by wrapping the error: etcd3
 * answers every "recoverable" failure by closing all of the host's gRPC channels, and
 * @grpc/grpc-js 1.14 leaks a channel closed while its connection is down (the subchannel
 * reconnects once etcd is back, owned by no one, and stays open). Left alone, every etcd
 * outage left connections behind. gRPC reconnects a channel by itself.
 *
 * It also keeps calls away from a member that just failed one without an answer from the
 * cluster (host-quarantine.ts): etcd3 then tries the next host.
 */
function hostPolicy(host: string, quarantine: HostQuarantine): FaultPolicy {
  return {
    ...passThrough,
    execute: async (fn, signal) => {
      if (quarantine.skips(host)) throw new HostSkippedError(host);
      try {
        const result = await fn({ signal: signal ?? new AbortController().signal });
        quarantine.answered(host);
        return result;
      } catch (error) {
        if (failedOnHost(error)) quarantine.failed(host);
        throw new EtcdCallError(error);
      }
    },
  };
}

/**
 * The global policy: with several endpoints, a call that could not even be sent (no
 * connection to the host etcd3 picked) goes to the next host. Anything else is reported as it
 * is; a call that may have reached etcd is never repeated (a txn could apply twice).
 */
function failover(hostCount: number): FaultPolicy {
  return {
    ...passThrough,
    execute: async (fn, signal) => {
      const context = { signal: signal ?? new AbortController().signal };
      for (let attempt = 1; ; attempt += 1) {
        try {
          return await fn(context);
        } catch (error) {
          if (attempt >= hostCount || !wasNeverSent(error)) throw error;
        }
      }
    },
  };
}

/**
 * gRPC channel settings: reconnect within a second of etcd coming back (gRPC's default
 * backoff grows to two minutes), and probe a silent connection so a stalled etcd (network cut,
 * SIGSTOP) ends the watch stream. etcd refuses pings more often than every 5 s.
 */
const CHANNEL_OPTIONS = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1_000,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
} satisfies IOptions['grpcOptions'];

export function createEtcdClient(config: EtcdConfig, quarantine: HostQuarantine): Etcd3 {
  const deadline = (): CallOptions => ({ deadline: Date.now() + config.requestTimeoutMs });
  const options: IOptions = {
    hosts: [...config.endpoints],
    grpcOptions: CHANNEL_OPTIONS,
    faultHandling: {
      host: (host) => hostPolicy(host, quarantine),
      global: failover(config.endpoints.length),
    },
  };
  if (config.auth !== null) {
    options.auth = { ...config.auth, callOptions: deadline };
  }
  const { ca, cert, key } = config.tls;
  if (config.secure && (ca !== undefined || cert !== undefined)) {
    options.credentials = {
      // Without a CA of its own, etcds:// trusts the public roots, as gRPC does by default.
      rootCertificate: Buffer.from(ca ?? rootCertificates.join('\n')),
      ...(cert !== undefined && key !== undefined
        ? { certChain: Buffer.from(cert), privateKey: Buffer.from(key) }
        : {}),
    };
  }
  const client = new Etcd3(options);
  if (config.auth !== null) authenticateOnPooledChannels(client);
  return client;
}
